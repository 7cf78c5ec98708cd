"""The guard's rules on the real database (SQLite or PostgreSQL): windows, locks and their backoff,
forgetting, the sweep, and failures recorded after a rolled-back request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.guard import targets
from podium.domain.guard.attempts import Attempts
from podium.domain.guard.service import GuardService, client_key
from podium.kit.clock import clock, utcnow
from podium.kit.db import make_engine, make_sessionmaker
from podium.kit.errors import TooManyAttempts, Unauthenticated
from podium.kit.uow import Context, run
from podium.models.audit import AuditEntry
from podium.models.guard import GuardCounter
from tests.conftest import make_settings

PIN = targets.security_pin("1234567")


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def settings(data_dir: Path, database_url: str) -> Settings:
    return make_settings(data_dir, database_url)


@pytest.fixture
def start() -> Iterator[datetime]:
    moment = utcnow().replace(microsecond=0)
    clock.freeze(moment)
    yield moment
    clock.freeze(None)


def _fail(sessions: sessionmaker[Session], settings: Settings, client: str, *found: targets.Target) -> int:
    """One failure; the number of lockouts it caused."""
    return len(
        run(sessions, settings, lambda ctx: GuardService(ctx.session, settings).record_failure(client, found))
    )


def _retry_after(
    sessions: sessionmaker[Session], settings: Settings, client: str, *found: targets.Target
) -> int:
    """Seconds until the attempt is allowed (0: allowed now)."""
    try:
        run(sessions, settings, lambda ctx: GuardService(ctx.session, settings).check(client, found))
    except TooManyAttempts as refused:
        return refused.retry_after
    return 0


def _row(sessions: sessionmaker[Session], key: str) -> GuardCounter | None:
    with sessions() as session:
        return session.scalar(select(GuardCounter).where(GuardCounter.key == key))


def test_target_locks_after_its_budget_and_backs_off(
    sessions: sessionmaker[Session], settings: Settings, start: datetime
) -> None:
    budget = settings.guard_target_failures
    for n in range(budget - 1):
        assert _fail(sessions, settings, f"10.0.0.{n}", PIN) == 0  # many clients, one target
    assert _retry_after(sessions, settings, "10.0.1.1", PIN) == 0
    assert _fail(sessions, settings, "10.0.0.99", PIN) == 1
    assert _retry_after(sessions, settings, "10.0.1.1", PIN) == 60  # everyone, any client
    assert _retry_after(sessions, settings, "10.0.1.1") == 0  # other secrets are open to that client

    # Each lockout in a row doubles, up to the cap.
    seen = []
    moment = start
    for _ in range(8):
        moment += timedelta(seconds=_retry_after(sessions, settings, "x", PIN))
        clock.freeze(moment)
        for n in range(budget):
            _fail(sessions, settings, f"10.0.2.{n}", PIN)
        seen.append(_retry_after(sessions, settings, "x", PIN))
    assert seen == [120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_failures_outside_the_window_are_forgotten(
    sessions: sessionmaker[Session], settings: Settings, start: datetime
) -> None:
    target = targets.login("window@example.com")
    for _ in range(settings.guard_target_failures - 1):
        _fail(sessions, settings, "10.1.0.1", target)
    clock.freeze(start + timedelta(seconds=settings.guard_window_seconds + 1))
    assert _fail(sessions, settings, "10.1.0.1", target) == 0  # a new window: one failure in it
    row = _row(sessions, target.key)
    assert row is not None and row.failures == 1


def test_a_quiet_day_forgets_the_backoff_and_the_sweep_removes_rows(
    sessions: sessionmaker[Session], settings: Settings, start: datetime
) -> None:
    target = targets.login("quiet@example.com")
    for _ in range(settings.guard_target_failures):
        _fail(sessions, settings, "10.2.0.1", target)
    row = _row(sessions, target.key)
    assert row is not None and row.lockouts == 1
    clock.freeze(start + timedelta(days=1, seconds=1))
    for _ in range(settings.guard_target_failures):
        _fail(sessions, settings, "10.2.0.1", target)
    assert _retry_after(sessions, settings, "y", target) == 60  # not 120: the streak was forgotten

    clock.freeze(start + timedelta(days=3))
    with sessions() as session:
        GuardService(session, settings).repo.sweep(utcnow(), utcnow() - timedelta(days=1))
        session.commit()
    assert _row(sessions, target.key) is None
    assert _row(sessions, client_key("10.2.0.1")) is None


def test_client_budget_spans_targets(
    sessions: sessionmaker[Session], settings: Settings, start: datetime
) -> None:
    client = "10.3.0.1"
    for n in range(settings.guard_client_failures - 1):
        _fail(sessions, settings, client, targets.room_code(f"{100 + n}0000"))
    assert _retry_after(sessions, settings, client) == 0
    assert _fail(sessions, settings, client, targets.room_code("9990000")) == 1
    assert _retry_after(sessions, settings, client) == 60
    assert _retry_after(sessions, settings, "10.3.0.2", targets.room_code("1000000")) == 0
    with sessions() as session:
        audited = session.scalar(
            select(func.count()).where(
                AuditEntry.action == "security.lockout", AuditEntry.ref == f"client:{client}"
            )
        )
    assert audited == 1


def test_failures_are_recorded_after_the_request_is_rolled_back(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    attempts = Attempts(sessions, settings, "10.4.0.1")
    target = targets.login("rollback@example.com")

    def work(ctx: Context) -> None:
        attempts.check(ctx.session, target)
        attempts.failed(target)
        raise Unauthenticated("Wrong email or password")

    for _ in range(settings.guard_target_failures):
        with pytest.raises(Unauthenticated):
            run(sessions, settings, work)
        attempts.settle()
    with pytest.raises(TooManyAttempts):
        run(sessions, settings, work)


def test_the_guard_can_be_turned_off(
    sessions: sessionmaker[Session], data_dir: Path, database_url: str
) -> None:
    off = make_settings(data_dir, database_url, guard_enabled=False)
    target = targets.login("off@example.com")
    for _ in range(off.guard_target_failures + 1):
        _fail(sessions, off, "10.5.0.1", target)
    assert _retry_after(sessions, off, "10.5.0.1", target) == 0
    assert _row(sessions, target.key) is None
