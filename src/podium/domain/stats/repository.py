from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from podium.models.paywall import ViewDailyRollup, ViewRollup, ViewSession

PROJECT = 0  # the media_id of a project-wide rollup row


def _series_statement(model: type[ViewRollup] | type[ViewDailyRollup], *, companies: int) -> Select[Any]:
    """Watched ms per bucket of one media (or the project) in [start, end), oldest first.

    One company has at most one row per bucket: it is read as it is, in the unique index's order.
    Several (``project=all``) add their rows of each bucket.
    """
    bucket = model.hour if model is ViewRollup else model.day  # type: ignore[union-attr]
    where = [
        model.media_id == bindparam("media_id"),
        bucket >= bindparam("start"),
        bucket < bindparam("end"),
    ]
    if companies == 1:
        return (
            select(bucket, model.watched_ms)
            .where(model.company_id == bindparam("company_id"), *where)
            .order_by(bucket)
        )
    return (
        select(bucket, func.sum(model.watched_ms))
        .where(model.company_id.in_(bindparam("company_ids", expanding=True)), *where)
        .group_by(bucket)
        .order_by(bucket)
    )


# Built once at import: a query only binds its values (SQLAlchemy keeps each statement compiled).
_SERIES = {
    (by_day, several): _series_statement(
        ViewDailyRollup if by_day else ViewRollup, companies=2 if several else 1
    )
    for by_day in (False, True)
    for several in (False, True)
}


class StatsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_watched(self, rows: Iterable[tuple[int, int, datetime, int]]) -> None:
        """Add milliseconds to hourly rollups: (company_id, media_id, hour, ms), and to the daily
        rollups of their UTC days.

        ``INSERT … ON CONFLICT DO UPDATE`` on both SQLite and PostgreSQL: concurrent heartbeats
        of one hour add up instead of racing. Rows of one key are summed first, and the keys are
        written in one order (all hours, then all days, each sorted), so two batches that share rows
        wait for each other instead of deadlocking.
        """
        hourly: dict[tuple[int, int, datetime], int] = {}
        daily: dict[tuple[int, int, date], int] = {}
        for company_id, media_id, hour, ms in rows:
            if ms > 0:
                key = (company_id, media_id, hour)
                hourly[key] = hourly.get(key, 0) + ms
                day = (company_id, media_id, hour.date())
                daily[day] = daily.get(day, 0) + ms
        if not hourly:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for model, column, sums in (
            (ViewRollup, "hour", hourly),
            (ViewDailyRollup, "day", daily),
        ):
            stmt = insert(model)
            stmt = stmt.on_conflict_do_update(
                index_elements=["company_id", "media_id", column],
                set_={"watched_ms": model.watched_ms + stmt.excluded.watched_ms},
            )
            values = [
                {"company_id": c, "media_id": m, column: bucket, "watched_ms": ms}
                for (c, m, bucket), ms in sorted(sums.items())
            ]
            self.session.execute(stmt, values)

    def watched_by_hour(
        self, company_ids: Sequence[int], media_id: int, start: datetime, end: datetime
    ) -> list[tuple[datetime, int]]:
        """Watched ms per hour in [start, end), summed over the companies, oldest first."""
        rows = self._series(False, company_ids, media_id, start, end)
        return [(hour, int(ms or 0)) for hour, ms in rows]

    def watched_by_day(
        self, company_ids: Sequence[int], media_id: int, first: date, end: date
    ) -> list[tuple[datetime, int]]:
        """Watched ms per UTC day in [first, end) (days), summed over the companies, oldest first;
        each day as the datetime of its midnight."""
        rows = self._series(True, company_ids, media_id, first, end)
        return [(datetime(d.year, d.month, d.day), int(ms or 0)) for d, ms in rows]

    def _series(
        self, by_day: bool, company_ids: Sequence[int], media_id: int, start: object, end: object
    ) -> Sequence[Any]:
        ids = list(company_ids)
        params: dict[str, object] = {"media_id": media_id, "start": start, "end": end}
        if len(ids) == 1:
            params["company_id"] = ids[0]
        else:
            params["company_ids"] = ids
        # Core, not ORM: plain tuples, without the ORM's per-statement set-up.
        return self.session.connection().execute(_SERIES[by_day, len(ids) != 1], params).all()

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

    def viewers_by_day(self, company_id: int, start: datetime, end: datetime) -> list[tuple[date, int]]:
        """Distinct viewers (devices) per UTC day their sessions started in [start, end), oldest first."""
        day = func.date(ViewSession.started_at)
        stmt = (
            select(day, func.count(func.distinct(ViewSession.device_hash)))
            .where(
                ViewSession.company_id == company_id,
                ViewSession.started_at >= start,
                ViewSession.started_at < end,
            )
            .group_by(day)
            .order_by(day)
        )
        return [(_as_date(d), int(n)) for d, n in self.session.execute(stmt).all()]

    def watched_by_media(
        self, company_id: int, first: date, end: date, limit: int = 10
    ) -> list[tuple[int, int]]:
        """(media id, watched ms) in the days [first, end), the most watched first."""
        total = func.sum(ViewDailyRollup.watched_ms)
        stmt = (
            select(ViewDailyRollup.media_id, total)
            .where(
                ViewDailyRollup.company_id == company_id,
                ViewDailyRollup.media_id != PROJECT,
                ViewDailyRollup.day >= first,
                ViewDailyRollup.day < end,
            )
            .group_by(ViewDailyRollup.media_id)
            .order_by(total.desc(), ViewDailyRollup.media_id)
            .limit(limit)
        )
        return [(int(m), int(ms or 0)) for m, ms in self.session.execute(stmt).all()]

    def by_country(
        self, company_id: int, start: datetime, end: datetime, limit: int = 10
    ) -> list[tuple[str, int, int]]:
        """(country, distinct viewers, watched ms) of sessions started in [start, end), most viewers first."""
        viewers = func.count(func.distinct(ViewSession.device_hash))
        stmt = (
            select(ViewSession.country, viewers, func.sum(ViewSession.watched_ms))
            .where(
                ViewSession.company_id == company_id,
                ViewSession.started_at >= start,
                ViewSession.started_at < end,
            )
            .group_by(ViewSession.country)
            .order_by(viewers.desc(), ViewSession.country)
            .limit(limit)
        )
        return [(str(c), int(n), int(ms or 0)) for c, n, ms in self.session.execute(stmt).all()]


def _as_date(value: object) -> date:
    """A ``date()`` of the database: a date (PostgreSQL) or ISO text (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
