"""Guard counters: the lock read of every attempt, the upsert of every failure, the sweep; and the
lockouts of the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from podium.kit.stamped import move
from podium.models.audit import AuditEntry
from podium.models.guard import GuardCounter

LOCKOUT_ACTION = "security.lockout"
# The family of cached rows (kit/stamped) that a new lock moves.
GUARD_LOCKS = "guard-locks"


class GuardRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def locks(self, now: datetime) -> dict[str, datetime]:
        """Every key locked at ``now``, with the end of its lock (few: only keys that used up a budget)."""
        stmt = select(GuardCounter.key, GuardCounter.locked_until).where(GuardCounter.locked_until > now)
        return {key: until for key, until in self.session.execute(stmt) if until is not None}

    def count_failure(
        self, key: str, now: datetime, *, window_start: datetime, forget_before: datetime
    ) -> tuple[int, int]:
        """One more failure on ``key`` (one upsert): a failure outside the window starts a new one, and
        a key quiet since ``forget_before`` forgets its lockouts. Returns (failures in the window,
        lockouts in a row)."""
        dialect = self.session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stale = GuardCounter.window_started_at < window_start
        stmt = (
            insert(GuardCounter)
            .values(
                key=key, failures=1, window_started_at=now, last_failure_at=now, locked_until=None, lockouts=0
            )
            .on_conflict_do_update(
                index_elements=[GuardCounter.key],
                set_={
                    "failures": case((stale, 1), else_=GuardCounter.failures + 1),
                    "window_started_at": case((stale, now), else_=GuardCounter.window_started_at),
                    "lockouts": case(
                        (GuardCounter.last_failure_at < forget_before, 0), else_=GuardCounter.lockouts
                    ),
                    "last_failure_at": now,
                },
            )
            .returning(GuardCounter.failures, GuardCounter.lockouts)
        )
        failures, lockouts = self.session.execute(stmt).one()
        return int(failures), int(lockouts)

    def lock(self, key: str, now: datetime, until: datetime, *, budget: int) -> bool:
        """Lock ``key`` until ``until`` if it has used up its budget and is not locked yet; whether this
        call locked it (of two processes counting the last failure at once, one does)."""
        stmt = (
            update(GuardCounter)
            .where(
                GuardCounter.key == key,
                GuardCounter.failures >= budget,
                or_(GuardCounter.locked_until.is_(None), GuardCounter.locked_until <= now),
            )
            .values(failures=0, window_started_at=now, locked_until=until, lockouts=GuardCounter.lockouts + 1)
            .execution_options(synchronize_session=False)
        )
        locked = bool(getattr(self.session.execute(stmt), "rowcount", 0) == 1)
        if locked:
            move(self.session, GUARD_LOCKS)  # every process re-reads its board of locks
        return locked

    def sweep(self, now: datetime, forget_before: datetime) -> int:
        """Forget keys quiet since ``forget_before`` that are not locked."""
        stmt = (
            delete(GuardCounter)
            .where(
                GuardCounter.last_failure_at < forget_before,
                or_(GuardCounter.locked_until.is_(None), GuardCounter.locked_until <= now),
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(self.session.execute(stmt), "rowcount", 0) or 0)

    def recent_lockouts(self, company_id: int, since: datetime, limit: int) -> Sequence[AuditEntry]:
        """A company's lockouts since ``since``, newest first."""
        stmt = (
            select(AuditEntry)
            .where(
                AuditEntry.company_id == company_id,
                AuditEntry.action == LOCKOUT_ACTION,
                AuditEntry.created_at >= since,
            )
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()
