"""The group commit (kit/group_commit, ADR 0018) through a real `podium serve`: creations, invitations
and pay-per-view buyers that arrive together are committed together, each is answered only once it is
committed (another request reads it at once), and an item that fails — a LiveMinutes meetingKey taken
by a rival in the same batch, a password another buyer chose first — fails alone while its batch's
others are made."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.processes import podium_env, podium_json, running_server
from tests.fixtures.racing import all_at_once, boomstream, paywall_with_media
from tests.fixtures.receiver import receiver

RACERS = 24
KEY_RIVALS = 4  # of the racers, those who ask for the same LiveMinutes meetingKey


def _group_commits(http: httpx.Client, kind: str = "conference creations") -> dict[str, float]:
    """A kind of write's transactions by outcome, and the items they made."""
    text = http.get("/metrics").text
    found = {
        outcome: float(count)
        for outcome, count in re.findall(
            rf'^podium_group_commits_total\{{kind="{kind}",outcome="(\w+)"\}} (\S+)$', text, re.M
        )
    }
    items = re.search(rf'^podium_group_commit_items_total\{{kind="{kind}"\}} (\S+)$', text, re.M)
    found["items"] = float(items.group(1)) if items else 0.0
    return found


def test_creations_arriving_together_commit_together_and_a_failing_one_fails_alone(tmp_path: Path) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off")
    tenant = podium_json(env, "admin", "bootstrap")
    key = str(tenant["boomstream_apikey"])
    basic = (str(tenant["liveminutes_account_sid"]), str(tenant["liveminutes_auth_token"]))
    with running_server(env) as base, httpx.Client(base_url=base, timeout=60) as http:
        boom = boomstream(http, key)

        def meeting(meeting_key: str) -> dict[str, Any]:
            answer: dict[str, Any] = http.post(
                "/liveminutes/createMeeting", data={"meetingKey": meeting_key, "hostid": "h"}, auth=basic
            ).json()
            return answer

        # Boomstream conferences and LiveMinutes meetings, all at once.
        answers = all_at_once(
            lambda i: boom("conference/create", title=f"Together {i}") if i % 2 else meeting(f"own-{i}"),
            RACERS,
        )
        codes = [a["Code"] for a in answers[1::2]]
        assert len(set(codes)) == RACERS // 2, answers
        for code in codes:  # answered once committed: every other request reads it at once
            assert boom("conference/info", code=code)["code"] == code
        assert all(a["resultcode"] == 1 for a in answers[0::2]), answers
        counted = _group_commits(http)
        assert counted["items"] == RACERS, counted
        # Fewer transactions than creations: batches held several of them.
        assert counted.get("together", 0) >= 1, counted
        assert counted.get("together", 0) + counted.get("alone", 0) < RACERS, counted
        assert counted.get("failed", 0) == 0, counted

        # Rivals for one meetingKey, beside creations that take their own: the batch they share fails,
        # each is made again alone; one rival wins, the others get the dialect's error.
        rivals = all_at_once(lambda i: meeting("shared-key" if i < KEY_RIVALS else f"more-{i}"), RACERS)
        won = [a for a in rivals[:KEY_RIVALS] if a["resultcode"] == 1]
        assert len(won) == 1, rivals
        lost = [a for a in rivals[:KEY_RIVALS] if a["resultcode"] != 1]
        assert all(a["resultcode"] == 0 and "meetingKey already exists" in a["message"] for a in lost), lost
        assert all(a["resultcode"] == 1 for a in rivals[KEY_RIVALS:]), rivals
        status = http.post("/liveminutes/getMeetingStatus", data={"meetingKey": "shared-key"}, auth=basic)
        assert status.json()["resultcode"] == 1, status.text
        after = _group_commits(http)
        assert after["items"] == 2 * RACERS - (KEY_RIVALS - 1), after
        assert after.get("failed", 0) == KEY_RIVALS - 1, after


def test_invitations_arriving_together_commit_together_and_one_person_invited_twice_is_one_client(
    tmp_path: Path,
) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off")
    key = str(podium_json(env, "admin", "bootstrap")["boomstream_apikey"])
    with running_server(env) as base, httpx.Client(base_url=base, timeout=60) as http:
        boom = boomstream(http, key)
        room = boom("conference/create", title="Invitations")["Code"]

        # The first six invite one person (the email's case differs, the name too); the last two ask
        # for a conference that does not exist; the rest each invite someone else.
        def invite(index: int) -> dict[str, Any]:
            if index < 6:
                email = "Same@Example.com" if index % 2 else "same@example.com"
                return boom("conference/invite", code=room, email=email, name=f"Same {index}")
            code = room if index < RACERS - 2 else "nop-nope-nop"
            return boom("conference/invite", code=code, email=f"person{index}@example.com")

        answers = all_at_once(invite, RACERS)
        invited, astray = answers[: RACERS - 2], answers[RACERS - 2 :]
        assert all("clientCode" in a for a in invited), answers
        assert all(a["Status"] == "Failed" and a["Message"] == "Conference not found" for a in astray), astray
        assert len({a["clientCode"] for a in invited[:6]}) == 1, invited[:6]
        assert len({a["clientCode"] for a in invited[6:]}) == len(invited) - 6, invited
        clients = boom("conference/client/list", code=room)["Clients"]
        assert len(clients) == len(invited) - 6 + 1, clients
        assert sorted(c["code"] for c in clients) == sorted({a["clientCode"] for a in invited})
        for answer in invited[6:]:  # each link opens the room as its own person
            assert boom("conference/client/info", code=answer["clientCode"])["email"] == answer["email"]

        counted = _group_commits(http, "invitations")
        assert counted["items"] == len(invited), counted
        assert counted.get("failed") == len(astray), counted
        assert counted.get("together", 0) >= 1, counted
        assert counted.get("together", 0) + counted.get("alone", 0) < len(invited), counted


def test_buyers_arriving_together_commit_together_one_person_is_one_buyer_a_password_is_one_buyers(
    tmp_path: Path,
) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off", PODIUM_WEBHOOK_PRIVATE_NETWORKS="true")
    tenant = podium_json(env, "admin", "bootstrap")
    key = str(tenant["boomstream_apikey"])
    with (
        receiver() as hooks,
        running_server(env) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        podium_json(
            env,
            "admin",
            "create-webhook",
            "--company-id",
            str(tenant["company_id"]),
            "--url",
            hooks.url,
            "--events",
            "ppv.bought",
        )
        boom = boomstream(http, key)
        paywall, media_code = paywall_with_media(boom, "Sold together")
        early = boom(
            "ppv/addbuyer",
            code=paywall,
            media=media_code,
            email="early@example.com",
            access_expire="2030-01-01",
        )
        assert early["Status"] == "Success", early

        # 0-5 add one person (the email's case differs, the name too); 6 and 7 choose one password for
        # two people; 8 is known by phone only; 9 moves the early buyer's start past its expiry; the
        # rest are new people.
        def add(index: int) -> dict[str, Any]:
            sold = {"code": paywall, "media": media_code}
            if index < 6:
                email = "Same@Example.com" if index % 2 else "same@example.com"
                return boom("ppv/addbuyer", **sold, email=email, name=f"Same {index}")
            if index in (6, 7):
                return boom("ppv/addbuyer", **sold, email=f"shop{index}@example.com", hash="site|7|video")
            if index == 8:
                return boom("ppv/addbuyer", **sold, phone="+1 555 0100", name="By phone")
            if index == 9:
                return boom("ppv/addbuyer", **sold, email="early@example.com", access_start="2030-06-01")
            return boom("ppv/addbuyer", **sold, email=f"buyer{index}@example.com")

        answers = all_at_once(add, RACERS)
        same, rivals, by_phone, moved, others = (
            answers[:6],
            answers[6:8],
            answers[8],
            answers[9],
            answers[10:],
        )
        assert all(a["Status"] == "Success" for a in same + [by_phone] + others), answers
        # One person: one buyer, one password, however many asked at once.
        assert len({a["Hash"] for a in same}) == 1, same
        won = [a for a in rivals if a["Status"] == "Success"]
        assert len(won) == 1 and won[0]["Hash"] == "site|7|video", rivals
        lost = [a for a in rivals if a["Status"] != "Success"]
        assert "already the access password of another buyer" in lost[0]["Message"], lost
        assert moved["Status"] == "Failed" and "access_start must be before access_expire" in moved["Message"]
        hashes = [
            early["Hash"],
            same[0]["Hash"],
            won[0]["Hash"],
            by_phone["Hash"],
            *(a["Hash"] for a in others),
        ]
        assert len(set(hashes)) == len(hashes), hashes

        # Each answered once committed: every buyer is listed at once, and the refused changed nothing.
        listed = boom("ppv/listbuyers", code=paywall, media=media_code, ver="1.1")["Items"]
        assert sorted(b["Hash"] for b in listed) == sorted(hashes), listed
        kept = boom("ppv/info", code=paywall, hash=early["Hash"])
        assert kept["AccessStartDate"] == early["AccessStartDate"], kept
        assert kept["AccessExpirationDate"] == early["AccessExpirationDate"], kept

        counted = _group_commits(http, "buyers")
        made = 1 + len(same) + len(won) + 1 + len(others)  # the early buyer first
        assert counted["items"] == made, counted
        assert counted.get("failed") == len(lost) + 1, counted
        assert counted.get("together", 0) >= 1, counted
        assert counted.get("together", 0) + counted.get("alone", 0) < made, counted

        # A new buyer is announced once: the same person added six times is one sale.
        deadline = time.monotonic() + 20
        while len(hooks.requests) < len(hashes) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # time for a second announcement to arrive, were there one
        sold = sorted(r.body["hash"] for r in hooks.requests if r.body["event"] == "ppv.bought")
        assert sold == sorted(hashes), sold
