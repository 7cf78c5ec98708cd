"""api/stats by day (daily rollups) and by hour (hourly rollups) give the same totals, through the API:
for heartbeats across midnight, and for batches of summed rows written straight through the rollup
upsert (as batched heartbeats write them), over projects, media, ``project=all``, periods that cut
the data, and both orders."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.domain.stats.repository import PROJECT, StatsRepository
from podium.domain.tenancy.service import TenancyService
from podium.kit.clock import clock
from podium.models.media import Media
from podium.models.paywall import ViewDailyRollup, ViewRollup
from tests.edges.boomstream.test_stats import _items, _watch
from tests.fixtures.media import boom_json, ready_media
from tests.fixtures.tenants import TenantFactory


def _by_day_from_hours(answer: dict[str, Any]) -> dict[str, int]:
    """The hourly items of an answer, added up per day ("dd.mm.yyyy HH:00" -> "dd.mm.yyyy")."""
    days: dict[str, int] = defaultdict(int)
    for item in answer["Items"]:
        days[item["date"].split(" ")[0]] += item["time"]
    return dict(days)


def _agree(client: TestClient, key: str, **params: str) -> dict[str, int]:
    """The day answer equals the hour answer summed per day, in both orders; returns the days."""
    by_day = boom_json(client, "stats", key, **params)
    by_hour = boom_json(client, "stats", key, group="hour", **params)
    days = {i["date"]: i["time"] for i in by_day["Items"]}
    assert days == _by_day_from_hours(by_hour)
    assert [i["date"] for i in by_day["Items"]] == sorted(days, key=lambda d: d[6:] + d[3:5] + d[:2])
    assert by_day["ItemCount"] == len(days)
    descending = boom_json(client, "stats", key, order="desc", **params)
    assert descending["Items"] == by_day["Items"][::-1]
    return days


def test_day_and_hour_agree_for_heartbeats_across_midnight(
    app_client: TestClient, media_files: dict[str, Path]
) -> None:
    key = TenantFactory(app_client.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]
    media = ready_media(app_client, key, media_files["small"], title="Midnight")
    night = datetime(2031, 3, 1, 23, 59, 10)
    _watch(app_client, media, [(night + timedelta(seconds=10 * i), 10_000) for i in range(1, 9)])
    clock.freeze(None)
    period = {"start": "2031-02-28", "end": "2031-03-03"}
    # 30 s of the first beat's slack-capped 35 s: 40 s before midnight, 40 s after.
    assert _agree(app_client, key, **period) == {"01.03.2031": 40_000, "02.03.2031": 40_000}
    assert _agree(app_client, key, code=media, **period) == {"01.03.2031": 40_000, "02.03.2031": 40_000}
    assert _agree(app_client, key, start="2031-03-02", end="2031-03-02") == {"02.03.2031": 40_000}
    assert _items(boom_json(app_client, "stats", key, start="2031-03-01", end="2031-03-01")) == [
        ("01.03.2031", 40_000, "0.01 hours")
    ]


def _media_ids(app: Any, codes: list[str]) -> list[int]:
    with app.state.sessions() as session:
        rows = session.execute(select(Media.code, Media.id).where(Media.code.in_(codes)))
        found = {code: media_id for code, media_id in rows}
    return [found[c] for c in codes]


def test_day_and_hour_agree_for_batched_rows(app_client: TestClient) -> None:
    app: Any = app_client.app
    tenant = TenantFactory(app.state.sessions)()
    with app.state.sessions() as session:
        sibling = TenancyService(session, app.state.settings).provision_company(
            tenant.reseller_id, "Sibling", f"sib-rollups-{tenant.company_id}"
        )
        session.commit()
    projects = [(tenant.company_id, tenant.boomstream_apikey)]
    projects.append((int(str(sibling["company_id"])), str(sibling["boomstream_apikey"])))
    codes = {
        company: [str(boom_json(app_client, "media/upload", key, title=f"M{i}")["Code"]) for i in range(2)]
        for company, key in projects
    }
    media = {company: _media_ids(app, codes[company]) for company, _ in projects}

    # Heartbeats of 12 days, summed into batches with repeated keys (and a zero), in several calls.
    rng = random.Random(17)
    first = datetime(2031, 5, 10)
    expected: dict[tuple[int, int, date], int] = defaultdict(int)
    for _batch in range(4):
        rows = []
        for _ in range(300):
            company = rng.choice([c for c, _ in projects])
            medium = rng.choice(media[company])
            hour = first + timedelta(hours=rng.randrange(12 * 24))
            ms = rng.choice([0, rng.randrange(1, 20_000)])
            rows += [(company, medium, hour, ms), (company, PROJECT, hour, ms)]
            for target in (medium, PROJECT):
                expected[company, target, hour.date()] += ms
        with app.state.sessions() as session:
            StatsRepository(session).add_watched(rows)
            session.commit()

    def days_of(company: int, target: int, since: date, until: date) -> dict[str, int]:
        return {
            f"{d:%d.%m.%Y}": ms
            for (c, t, d), ms in expected.items()
            if c == company and t == target and since <= d <= until and ms > 0
        }

    month = {"start": "2031-05-01", "end": "2031-05-31"}
    cut = {"start": "2031-05-13", "end": "2031-05-17"}
    for company, key in projects:
        assert _agree(app_client, key, **month) == days_of(
            company, PROJECT, date(2031, 5, 1), date(2031, 5, 31)
        )
        assert _agree(app_client, key, **cut) == days_of(
            company, PROJECT, date(2031, 5, 13), date(2031, 5, 17)
        )
        for code, medium in zip(codes[company], media[company], strict=True):
            assert _agree(app_client, key, code=code, **month) == days_of(
                company, medium, date(2031, 5, 1), date(2031, 5, 31)
            )
    everything = _agree(app_client, projects[0][1], project="all", **month)
    both = [days_of(c, PROJECT, date(2031, 5, 1), date(2031, 5, 31)) for c, _ in projects]
    assert everything == {d: both[0].get(d, 0) + both[1].get(d, 0) for d in both[0].keys() | both[1].keys()}

    # The two tables hold the same totals, row for row.
    with app.state.sessions() as session:
        ids = [c for c, _ in projects]
        daily = {
            (r.company_id, r.media_id, r.day): r.watched_ms
            for r in session.scalars(select(ViewDailyRollup).where(ViewDailyRollup.company_id.in_(ids)))
        }
        hourly: dict[tuple[int, int, date], int] = defaultdict(int)
        for r in session.scalars(select(ViewRollup).where(ViewRollup.company_id.in_(ids))):
            hourly[r.company_id, r.media_id, r.hour.date()] += r.watched_ms
    assert daily == dict(hourly) == {k: v for k, v in expected.items() if v > 0}
