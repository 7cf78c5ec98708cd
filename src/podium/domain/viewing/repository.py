"""View sessions' watched time, written by the heartbeat flush (many sessions per statement)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from podium.models.paywall import ViewSession


@dataclass(frozen=True)
class Progress:
    started_at: datetime
    watched_ms: int
    last_seen_at: datetime


class ViewSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def progress(self, session_ids: Sequence[int]) -> dict[int, Progress]:
        """Start, watched time and last beat of each of these sessions (those that exist)."""
        stmt = select(
            ViewSession.id, ViewSession.started_at, ViewSession.watched_ms, ViewSession.last_seen_at
        ).where(ViewSession.id.in_(list(session_ids)))
        return {
            row.id: Progress(row.started_at, row.watched_ms, row.last_seen_at)
            for row in self.session.execute(stmt)
        }

    def add_watched(self, updates: Sequence[tuple[int, int, datetime]]) -> None:
        """(session id, milliseconds to add, last beat) for each session, in one statement."""
        if not updates:
            return
        stmt = (
            update(ViewSession.__table__)  # type: ignore[arg-type]
            .where(ViewSession.__table__.c.id == bindparam("session_id"))
            .values(
                watched_ms=ViewSession.__table__.c.watched_ms + bindparam("add_ms"),
                last_seen_at=bindparam("seen"),
            )
        )
        self.session.connection().execute(
            stmt, [{"session_id": sid, "add_ms": ms, "seen": seen} for sid, ms, seen in updates]
        )
