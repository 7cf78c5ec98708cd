"""Checks that hold under concurrent requests: a real `podium serve` (its thread pool, its database)
gets many writes at once. Exactly a quota's worth of creations succeed; one person added to a paywall
by many requests at once is one buyer, and one password chosen by many is one buyer's. The checks
run just before each commit, under a lock held only for them (``uow.before_commit``)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.processes import podium_env, podium_json, running_server
from tests.fixtures.racing import all_at_once, boomstream, paywall_with_media

QUOTA = 4
RACERS = 24


def test_concurrent_creations_never_exceed_the_quotas(tmp_path: Path) -> None:
    env = podium_env(
        tmp_path / "var",
        PODIUM_JANUS="off",
        PODIUM_QUOTA_CONFERENCES=str(QUOTA),
        PODIUM_QUOTA_USERS=str(QUOTA),
    )
    key = str(podium_json(env, "admin", "bootstrap")["boomstream_apikey"])
    with running_server(env) as base, httpx.Client(base_url=base, timeout=60) as http:
        boom = boomstream(http, key)

        created = all_at_once(lambda i: boom("conference/create", title=f"Race {i}"), RACERS)
        won = [a for a in created if "Code" in a]
        assert len(won) == QUOTA, created
        assert all("limit reached" in a["Message"] for a in created if "Code" not in a), created
        assert len(boom("conference/list")["conferences"]) == QUOTA

        # Users: every invitation is a new person of the company.
        room = won[0]["Code"]
        invited = all_at_once(
            lambda i: boom("conference/invite", code=room, email=f"racer{i}@example.com"), RACERS
        )
        admitted = [a for a in invited if "clientCode" in a]
        assert len(admitted) == QUOTA, invited
        assert all("limit reached" in a["Message"] for a in invited if "clientCode" not in a), invited
        assert len(boom("conference/client/list", code=room)["Clients"]) == QUOTA


def test_one_buyer_added_at_once_by_many_requests_is_one_buyer(tmp_path: Path) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off")
    key = str(podium_json(env, "admin", "bootstrap")["boomstream_apikey"])
    with running_server(env) as base, httpx.Client(base_url=base, timeout=60) as http:
        boom = boomstream(http, key)

        paywall, media_code = paywall_with_media(boom, "Race")

        # The same person (the email's case differs) added by every racer: one buyer, one password.
        added = all_at_once(
            lambda i: boom(
                "ppv/addbuyer",
                code=paywall,
                media=media_code,
                email="Racer@Example.com" if i % 2 else "racer@example.com",
                name=f"Racer {i}",
            ),
            RACERS,
        )
        assert all(a["Status"] == "Success" for a in added), added
        assert len({a["Hash"] for a in added}) == 1, added
        buyers = boom("ppv/listbuyers", code=paywall, media=media_code)["Items"]
        assert [b["Hash"] for b in buyers] == [added[0]["Hash"]], buyers

        # One password chosen by many new buyers: exactly one gets it, the others are told it is taken.
        chosen = all_at_once(
            lambda i: boom(
                "ppv/addbuyer",
                code=paywall,
                media=media_code,
                email=f"other{i}@example.com",
                hash="SameHash1",
            ),
            RACERS,
        )
        won = [a for a in chosen if a.get("Status") == "Success"]
        assert len(won) == 1, chosen
        assert all("already the access password" in a["Message"] for a in chosen if a not in won), [
            a for a in chosen if a not in won
        ]
        assert len(boom("ppv/listbuyers", code=paywall, media=media_code)["Items"]) == 2
