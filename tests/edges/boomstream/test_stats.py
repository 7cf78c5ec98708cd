"""api/stats and ppv/sessions: numbers equal to the heartbeats sent, grouping, order, projects of one
owner, the sessions of a password with their country (a real MaxMind-format database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from podium.app import create_app
from podium.config import Settings
from podium.domain.tenancy.service import TenancyService
from podium.kit.clock import clock
from tests.conftest import make_settings
from tests.edges.boomstream.helpers import boom, failed
from tests.fixtures.golden import assert_golden
from tests.fixtures.media import boom_json, ready_media
from tests.fixtures.tenants import Tenant, TenantFactory


def _watch(client: TestClient, media: str, beats: list[tuple[datetime, int]], **body: Any) -> dict[str, Any]:
    """Open a session at the first moment, then send each (moment, watched ms) heartbeat."""
    clock.freeze(beats[0][0] - timedelta(seconds=30))
    response = client.post(f"/watch/{media}/session", json={"device": "d" * 32, **body})
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    for moment, watched in beats:
        clock.freeze(moment)
        beat = client.post(
            "/watch/heartbeat",
            json={"session": session["session"], "key": session["key"], "watched": watched},
        )
        assert beat.status_code == 200, beat.text
    # Beats are written within a second (domain/viewing/heartbeats.py): write them now.
    client.app.state.heartbeats.flush()  # type: ignore[attr-defined]
    return session


def _items(answer: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(i["date"], i["time"], i["time_dim"]) for i in answer["Items"]]


@pytest.fixture(scope="module")
def watched(app_client: TestClient, media_files: dict[str, Path]) -> dict[str, Any]:
    """Two videos of one project watched over two days, and the heartbeats that were sent."""
    tenant = TenantFactory(app_client.app.state.sessions)()  # type: ignore[attr-defined]
    key = tenant.boomstream_apikey
    first = ready_media(app_client, key, media_files["small"], title="First")
    second = ready_media(app_client, key, media_files["small"], title="Second")
    day1 = datetime(2030, 6, 10, 14, 0, 5)
    _watch(
        app_client, first, [(day1 + timedelta(seconds=10 * i), 10_000) for i in range(1, 7)]
    )  # 60 s at 14h
    _watch(
        app_client, first, [(day1 + timedelta(hours=2, seconds=10 * i), 9_000) for i in range(1, 5)]
    )  # 36 s
    _watch(
        app_client, second, [(day1 + timedelta(days=1, seconds=15 * i), 15_000) for i in range(1, 9)]
    )  # 120 s
    clock.freeze(None)
    return {"tenant": tenant, "key": key, "first": first, "second": second}


def test_project_stats_equal_the_heartbeats(client: TestClient, watched: dict[str, Any]) -> None:
    key = watched["key"]
    answer = boom_json(client, "stats", key, start="2030-06-01", end="2030-06-30")
    assert (answer["Period"], answer["Start"], answer["End"]) == (
        "01.06.2030 - 30.06.2030",
        "01.06.2030",
        "30.06.2030",
    )
    assert (answer["GroupBy"], answer["SourceType"], answer["Page"], answer["PageLimit"]) == (
        "day",
        "project",
        1,
        1000,
    )
    assert (answer["PageCount"], answer["ItemCount"]) == (1, 2)
    assert answer["ItemFormat"] == {"date": "Date", "time": "Time", "time_dim": "Time (hours)"}
    assert _items(answer) == [("10.06.2030", 96_000, "0.03 hours"), ("11.06.2030", 120_000, "0.03 hours")]
    by_hour = boom_json(
        client, "stats", key, start="2030-06-10", end="2030-06-11", group="hour", order="desc"
    )
    assert _items(by_hour) == [
        ("11.06.2030 14:00", 120_000, "0.03 hours"),
        ("10.06.2030 16:00", 36_000, "0.01 hours"),
        ("10.06.2030 14:00", 60_000, "0.02 hours"),
    ]
    one_day = boom_json(client, "stats", key, start="2030-06-11", end="2030-06-11")
    assert _items(one_day) == [("11.06.2030", 120_000, "0.03 hours")]
    assert boom_json(client, "stats", key, start="2030-06-01", end="2030-06-30", page="2")["Items"] == []


def test_media_stats(client: TestClient, watched: dict[str, Any]) -> None:
    key = watched["key"]
    first = boom_json(client, "stats", key, code=watched["first"], start="2030-06-01", end="2030-06-30")
    assert first["SourceType"] == "media"
    assert _items(first) == [("10.06.2030", 96_000, "0.03 hours")]
    second = boom_json(
        client, "stats", key, code=watched["second"], start="2030-06-01", end="2030-06-30", group="hour"
    )
    assert _items(second) == [("11.06.2030 14:00", 120_000, "0.03 hours")]
    failed(boom(client, "stats", key, code="zzzzzzzz"), "Media zzzzzzzz not found")
    failed(boom(client, "stats", tenants_key(client), code=watched["first"]), "not found")


def tenants_key(client: TestClient) -> str:
    return TenantFactory(client.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]


def test_default_period_is_the_week_before_end(client: TestClient, watched: dict[str, Any]) -> None:
    key = watched["key"]
    clock.freeze(datetime(2030, 6, 14, 9, 0, 0))
    answer = boom_json(client, "stats", key)
    assert (answer["Start"], answer["End"]) == ("07.06.2030", "14.06.2030")
    assert [i["date"] for i in answer["Items"]] == ["10.06.2030", "11.06.2030"]
    clock.freeze(datetime(2030, 6, 19, 9, 0, 0))
    assert boom_json(client, "stats", key)["Items"] == [], (
        "a week back from the 19th misses the 10th and 11th"
    )
    assert len(boom_json(client, "stats", key, end="2030-06-12")["Items"]) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2030-13-01"}, "Parameter 'start' must be a date YYYY-MM-DD"),
        ({"start": "2030-06-10", "end": "2030-06-01"}, "start must not be after end"),
        ({"group": "week"}, "group must be day or hour"),
        ({"order": "random"}, "order must be asc or desc"),
        ({"page": "0"}, "page must be 1 or more"),
        ({"start": "2000-01-01", "end": "2030-01-01"}, "longer than 3660 days"),
    ],
)
def test_bad_input(client: TestClient, watched: dict[str, Any], params: dict[str, str], message: str) -> None:
    failed(boom(client, "stats", watched["key"], **params), message)


def test_projects_of_one_owner(
    client: TestClient, watched: dict[str, Any], media_files: dict[str, Path]
) -> None:
    tenant: Tenant = watched["tenant"]
    app: Any = client.app
    with app.state.sessions() as session:
        sibling = TenancyService(session, app.state.settings).provision_company(
            tenant.reseller_id, "Sibling", f"sib-{tenant.company_id}"
        )
        session.commit()
    sibling_key = str(sibling["boomstream_apikey"])
    media = ready_media(client, sibling_key, media_files["small"])
    _watch(client, media, [(datetime(2030, 6, 10, 20, 0, 0), 4_000)])
    clock.freeze(None)
    period = {"start": "2030-06-01", "end": "2030-06-30"}
    everything = boom_json(client, "stats", watched["key"], project="all", **period)
    assert _items(everything)[0] == ("10.06.2030", 100_000, "0.03 hours")
    other = boom_json(client, "stats", watched["key"], project=sibling_key, **period)
    assert _items(other) == [("10.06.2030", 4_000, "0.00 hours")]
    stranger = tenants_key(client)
    failed(boom(client, "stats", stranger, project=watched["key"], **period), "belongs to another owner")
    failed(boom(client, "stats", watched["key"], project="not-a-key", **period), "Project not found")


def test_heartbeats_count_no_more_than_the_time_that_passed(
    client: TestClient, media_files: dict[str, Path]
) -> None:
    key = tenants_key(client)
    media = ready_media(client, key, media_files["small"])
    start = datetime(2030, 7, 1, 10, 0, 0)
    _watch(client, media, [(start + timedelta(seconds=10), 60_000), (start + timedelta(seconds=20), 10_000)])
    clock.freeze(None)
    # The session opened 30 s before the first beat: 30 s + 5 s of slack, then 10 s.
    assert _items(boom_json(client, "stats", key, start="2030-07-01", end="2030-07-01")) == [
        ("01.07.2030", 45_000, "0.01 hours")
    ]


@pytest.fixture(scope="module")
def geoip_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "NL", "names": {"en": "Netherlands"}}}
    )
    path = tmp_path_factory.mktemp("geoip") / "countries.mmdb"
    writer.to_db_file(str(path))
    return path


def test_sessions_of_a_password(
    settings: Settings, geoip_database: Path, media_files: dict[str, Path], tenants: TenantFactory
) -> None:
    with_geoip = make_settings(settings.data_dir, settings.database_url or "", geoip_database=geoip_database)
    with TestClient(create_app(with_geoip), client=("203.0.113.9", 40000)) as dutch:
        key = tenants().boomstream_apikey
        media = ready_media(dutch, key, media_files["small"], title="Concert")
        code = str(
            boom_json(
                dutch,
                "ppv/create",
                key,
                name="Ticket",
                subscription_type="password",
                period="1",
                activation="3",
            )["Items"][0]["Code"]
        )
        boom_json(dutch, "ppv/addmedia", key, code=code, media=media)
        clock.freeze(datetime(2030, 8, 1, 9, 0, 0))  # bought an hour before the first view
        password = boom_json(dutch, "ppv/addbuyer", key, code=code, media=media, email="fan@example.com")[
            "Items"
        ][0]["Hash"]
        elsewhere = TestClient(dutch.app, client=("198.51.100.20", 40000))
        ua = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"}
        clock.freeze(datetime(2030, 8, 1, 10, 0, 0))
        first = dutch.post(
            f"/watch/{media}/session", json={"device": "1" * 32, "password": password}, headers=ua
        )
        assert first.status_code == 200, first.text
        clock.freeze(datetime(2030, 8, 1, 11, 0, 0))
        second = elsewhere.post(f"/watch/{media}/session", json={"device": "2" * 32, "password": password})
        assert second.status_code == 200, second.text
        clock.freeze(datetime(2030, 8, 1, 18, 0, 0))
        answer = boom_json(dutch, "ppv/sessions", key, code=media, hash=password, order="desc")
        rows = [(i["Place"], i["ip"], i["Country"], i["Start"], i["LeftActivations"]) for i in answer["Item"]]
        assert rows == [
            ("Concert", "198.51.100.20", "Unknown", "2030-08-01 11:00:00", 1),
            ("Concert", "203.0.113.9", "Netherlands", "2030-08-01 10:00:00", 2),
        ]
        assert answer["Item"][1]["UserAgent"] == "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"
        assert answer["ItemCount"] == 2
        clock.freeze(datetime(2030, 8, 2, 9, 0, 0))
        assert boom_json(dutch, "ppv/sessions", key, code=media, hash=password)["Item"] == [], (
            "default: today"
        )
        yesterday = boom_json(dutch, "ppv/sessions", key, code=media, hash=password, start="2030-08-01")
        assert len(yesterday["Item"]) == 2
        failed(boom(dutch, "ppv/sessions", key, code=media, hash="unknown"), "Recovery code is not found")
        xml = dutch.get(
            "/api/ppv/sessions",
            params={"apikey": key, "code": media, "hash": password, "start": "2030-08-01"},
        )
        replacements = {key: "<apikey>", media: "<media-code>", password: "<hash>"}
        assert_golden("boomstream/ppv_sessions.xml", xml.text, replacements)
        assert_golden("boomstream/ppv_sessions.json", dutch.get(
            "/api/ppv/sessions",
            params={"apikey": key, "code": media, "hash": password, "start": "2030-08-01", "format": "json"},
        ).text, replacements)  # fmt: skip


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_golden_output(client: TestClient, watched: dict[str, Any], fmt: str) -> None:
    key = watched["key"]
    response = client.get(
        "/api/stats", params={"apikey": key, "start": "2030-06-01", "end": "2030-06-30", "format": fmt}
    )
    assert_golden(f"boomstream/stats.{fmt}", response.text, {key: "<apikey>"})
