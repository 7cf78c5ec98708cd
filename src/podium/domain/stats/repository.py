from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from podium.models.paywall import ViewRollup, ViewSession

PROJECT = 0  # the media_id of a project-wide rollup row


class StatsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_watched(self, rows: Iterable[tuple[int, int, datetime, int]]) -> None:
        """Add milliseconds to hourly rollups: (company_id, media_id, hour, ms), one upsert per row.

        ``INSERT … ON CONFLICT DO UPDATE`` on both SQLite and PostgreSQL: concurrent heartbeats
        of one hour add up instead of racing.
        """
        values = [
            {"company_id": c, "media_id": m, "hour": h, "watched_ms": ms} for c, m, h, ms in rows if ms > 0
        ]
        if not values:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(ViewRollup)
        stmt = stmt.on_conflict_do_update(
            index_elements=["company_id", "media_id", "hour"],
            set_={"watched_ms": ViewRollup.watched_ms + stmt.excluded.watched_ms},
        )
        self.session.execute(stmt, values)

    def watched(
        self, company_ids: Sequence[int], media_id: int, start: datetime, end: datetime, *, by_day: bool
    ) -> Sequence[tuple[datetime, int]]:
        """Watched ms per hour (or per day) in [start, end), summed over the companies."""
        bucket = func.date(ViewRollup.hour) if by_day else ViewRollup.hour
        stmt = (
            select(bucket, func.sum(ViewRollup.watched_ms))
            .where(
                ViewRollup.company_id.in_(list(company_ids)),
                ViewRollup.media_id == media_id,
                ViewRollup.hour >= start,
                ViewRollup.hour < end,
            )
            .group_by(bucket)
            .order_by(bucket)
        )
        rows = self.session.execute(stmt).all()
        if by_day:
            # date() answers a string on SQLite and a date on PostgreSQL.
            return [(datetime.fromisoformat(str(row[0])), int(row[1] or 0)) for row in rows]
        return [(row[0], int(row[1] or 0)) for row in rows]

    def sessions_page(
        self,
        media_id: int,
        pass_ids: Sequence[int],
        start: datetime,
        end: datetime,
        *,
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[ViewSession], int]:
        where = (
            ViewSession.media_id == media_id,
            ViewSession.pass_id.in_(list(pass_ids)),
            ViewSession.started_at >= start,
            ViewSession.started_at < end,
        )
        total = int(self.session.scalar(select(func.count(ViewSession.id)).where(*where)) or 0)
        order = (
            (ViewSession.started_at.desc(), ViewSession.id.desc())
            if descending
            else (
                ViewSession.started_at.asc(),
                ViewSession.id.asc(),
            )
        )
        stmt = select(ViewSession).where(*where).order_by(*order).offset(offset).limit(limit)
        return self.session.scalars(stmt).all(), total
