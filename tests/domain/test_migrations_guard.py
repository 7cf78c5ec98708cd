"""Migration of issue #12 over rows written before it (on SQLite and PostgreSQL): the guard's counters
are a new table; what existed stays as it was, the table takes the guard's upsert, and it goes away
on downgrade."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from podium.config import Settings
from podium.domain.guard import targets
from podium.domain.guard.service import GuardService
from podium.kit.clock import utcnow
from podium.kit.db import make_sessionmaker
from podium.kit.migrate import alembic_config, upgrade
from podium.models.guard import GuardCounter
from tests.conftest import make_settings
from tests.domain.test_migrations_host_and_plan import NOW, _before, _run, database  # noqa: F401

REVISION = "0009_guard_counters"


def test_guard_counters_over_existing_rows(database: tuple[str, Engine], tmp_path: Path) -> None:  # noqa: F811
    url, engine = database
    upgrade(url, _before(url, REVISION))
    _run(
        engine,
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {NOW})",
        "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, host_limits_locked, "
        f"created_at) VALUES (1, 1, 'C', 'c', false, false, {NOW})",
        # No id given: PostgreSQL's sequence must stay in step for the rows the guard adds.
        "INSERT INTO audit_log (company_id, action, actor, ref, data, created_at) VALUES "
        f"(1, 'company.created', 'system:cli', 'company:1', '{{}}', {NOW})",
    )
    assert "guard_counters" not in inspect(engine).get_table_names()

    upgrade(url, REVISION)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM guard_counters")).scalar() == 0
        kept = connection.execute(text("SELECT action, ref FROM audit_log")).one()
    assert tuple(kept) == ("company.created", "company:1")

    # The guard works on the migrated table: upserts count, the fifth failure locks and is audited.
    # Today's guard also moves a cache generation (a later revision's table): the server runs at head.
    upgrade(url, "head")
    settings: Settings = make_settings(tmp_path, url)
    sessions = make_sessionmaker(engine)
    target = targets.Target(targets.Kind.SECURITY_PIN, "1234567", "conference:1", 1)
    for _ in range(settings.guard_target_failures):
        with sessions() as session:
            GuardService(session, settings).record_failure("192.0.2.1", [target])
            session.commit()
    with sessions() as session:
        row = session.scalar(select(GuardCounter).where(GuardCounter.key == target.key))
        assert row is not None
        failures, locked_until = row.failures, row.locked_until
    with engine.connect() as connection:
        audited = connection.execute(
            text("SELECT company_id, ref FROM audit_log WHERE action = 'security.lockout'")
        ).one()
    assert failures == 0 and locked_until is not None and locked_until > utcnow() + timedelta(seconds=30)
    assert tuple(audited) == (1, "conference:1")
    # One row per key.
    with pytest.raises(IntegrityError):
        _run(
            engine,
            "INSERT INTO guard_counters (key, failures, window_started_at, last_failure_at, lockouts) "
            f"VALUES ('{target.key}', 1, {NOW}, {NOW}, 0)",
        )

    command.downgrade(alembic_config(url), _before(url, REVISION))
    assert "guard_counters" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar() == 2
