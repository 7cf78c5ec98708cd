"""Migration of issue #17 over rows written before it (on SQLite and PostgreSQL): the daily view rollups
are a new table filled from the hourly rollups already there (UTC days, per media and per project),
the heartbeat upsert adds to both from then on, and the table goes away on downgrade."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from podium.domain.stats.repository import PROJECT, StatsRepository
from podium.kit.db import make_sessionmaker
from podium.kit.migrate import alembic_config, upgrade
from tests.domain.test_migrations_host_and_plan import NOW, _before, _run, database  # noqa: F401

REVISION = "0013_daily_view_rollups"


def _daily(engine: Engine) -> dict[tuple[int, int, date], int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT company_id, media_id, day, watched_ms FROM view_daily_rollups")
        )
        # SQLite answers the day as text, PostgreSQL as a date.
        return {(c, m, date.fromisoformat(str(d))): ms for c, m, d, ms in rows}


def test_daily_rollups_from_the_hourly_rows(database: tuple[str, Engine]) -> None:  # noqa: F811
    url, engine = database
    upgrade(url, _before(url, REVISION))
    hourly = "INSERT INTO view_rollups (company_id, media_id, hour, watched_ms) VALUES "
    _run(
        engine,
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {NOW})",
        "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, host_limits_locked, "
        f"created_at) VALUES (1, 1, 'C', 'c', false, false, {NOW}), (2, 1, 'D', 'd', false, false, {NOW})",
        # Media 7 of company 1 on two days (the last hour of one, the first of the next), the project
        # rows beside them, and another company's media on the first day.
        f"{hourly}(1, 7, '2030-06-10 00:00:00.000000', 1000), (1, 7, '2030-06-10 23:00:00.000000', 2000), "
        "(1, 7, '2030-06-11 00:00:00.000000', 4000)",
        f"{hourly}(1, 0, '2030-06-10 00:00:00.000000', 1000), (1, 0, '2030-06-10 23:00:00.000000', 2000), "
        "(1, 0, '2030-06-11 00:00:00.000000', 4000)",
        f"{hourly}(2, 9, '2030-06-10 12:00:00.000000', 8000), (2, 0, '2030-06-10 12:00:00.000000', 8000)",
    )
    assert "view_daily_rollups" not in inspect(engine).get_table_names()

    upgrade(url, REVISION)
    june10, june11 = date(2030, 6, 10), date(2030, 6, 11)
    assert _daily(engine) == {
        (1, 7, june10): 3000,
        (1, 7, june11): 4000,
        (1, 0, june10): 3000,
        (1, 0, june11): 4000,
        (2, 9, june10): 8000,
        (2, 0, june10): 8000,
    }
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM view_rollups")).scalar() == 8

    # The upsert every heartbeat runs adds to the backfilled day and starts a new one.
    with make_sessionmaker(engine)() as session:
        StatsRepository(session).add_watched(
            [
                (1, 7, datetime(2030, 6, 11, 5), 500),
                (1, PROJECT, datetime(2030, 6, 11, 5), 500),
                (1, 7, datetime(2030, 6, 12, 1), 250),
                (1, PROJECT, datetime(2030, 6, 12, 1), 250),
            ]
        )
        session.commit()
    daily = _daily(engine)
    assert (daily[1, 7, june11], daily[1, 0, june11]) == (4500, 4500)
    assert (daily[1, 7, date(2030, 6, 12)], daily[1, 0, date(2030, 6, 12)]) == (250, 250)
    # One row per company, media and day.
    with pytest.raises(IntegrityError):
        _run(
            engine,
            "INSERT INTO view_daily_rollups (company_id, media_id, day, watched_ms) "
            "VALUES (1, 7, '2030-06-10', 1)",
        )

    command.downgrade(alembic_config(url), _before(url, REVISION))
    assert "view_daily_rollups" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM view_rollups")).scalar() == 12
