from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from podium.kit.db import any_matches, bounded_count, live_by_company_codes
from podium.models.conference import Conference, Folder


class ConferenceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: Conference | Folder) -> None:
        self.session.add(obj)
        self.session.flush()

    def live_by_code(self, company_id: int, code: str) -> Conference | None:
        return self.live_by_codes({(company_id, code)}).get((company_id, code))

    def live_by_codes(self, wanted: set[tuple[int, str]]) -> dict[tuple[int, str], Conference]:
        """``live_by_code`` for several (company id, code) at once, keyed by them; one query."""
        return live_by_company_codes(self.session, Conference, wanted)

    def live_by_meeting_key(self, company_id: int, meeting_key: str) -> Conference | None:
        stmt = select(Conference).where(
            Conference.company_id == company_id,
            Conference.meeting_key == meeting_key,
            Conference.deleted_at.is_(None),
        )
        return self.session.scalar(stmt)

    def by_short_code(self, short_code: str) -> Conference | None:
        return self.session.scalar(select(Conference).where(Conference.short_code == short_code))

    def by_host_token(self, token: str) -> Conference | None:
        return self.session.scalar(select(Conference).where(Conference.host_token == token))

    def by_id(self, conference_id: int) -> Conference | None:
        return self.session.get(Conference, conference_id)

    def live_for_company(self, company_id: int) -> Sequence[Conference]:
        stmt = (
            select(Conference)
            .where(Conference.company_id == company_id, Conference.deleted_at.is_(None))
            .order_by(Conference.id)
        )
        return self.session.scalars(stmt).all()

    def count_live(self, company_id: int, *, up_to: int) -> int:
        """The company's live conferences, counted up to ``up_to`` (more are not looked at: a quota
        check costs at most the quota, never the company's size)."""
        live = select(Conference.id).where(
            Conference.company_id == company_id, Conference.deleted_at.is_(None)
        )
        return bounded_count(self.session, live, up_to)

    def any_code_taken(self, drawn: Sequence[dict[str, str]], company_ids: Collection[int]) -> bool:
        """Whether any of the ``drawn`` codes is taken, in one query: a Boomstream code, meeting
        code or host token by any conference (each is unique everywhere), a meeting key by a live
        conference of one of ``company_ids`` (where a meeting key is unique: the partial unique
        index ``uq_conferences_company_meeting_key_live``, which answers the question; no index
        serves a meeting key across every company, and such a search grew with the table)."""
        live_of_companies = and_(
            Conference.company_id.in_(sorted(company_ids)), Conference.deleted_at.is_(None)
        )
        return any_matches(self.session, Conference, drawn, within={"meeting_key": live_of_companies})

    def claim_media_room(self, conference_id: int, room: int, secret: str, server: str) -> bool:
        """Record the conference's media room unless another request already did (first one wins)."""
        result = self.session.execute(
            update(Conference)
            .where(Conference.id == conference_id, Conference.media_room.is_(None))
            .values(media_room=room, media_secret=secret, media_server=server)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def forget_media_room(self, conference_id: int, room: int) -> None:
        self.session.execute(
            update(Conference)
            .where(Conference.id == conference_id, Conference.media_room == room)
            .values(media_room=None, media_secret=None, media_server=None)
        )

    def access_code_used(self, code: str, *, dedicated_of: int | None = None) -> bool:
        """Whether a conference answers on ``code`` — other than ``dedicated_of``'s own conferences
        on its dedicated code (one-time codes are never anyone's to claim). Deleted and ended
        conferences count: their links must never open another room."""
        stmt = select(Conference.id).where(Conference.access_code == code)
        if dedicated_of is not None:
            stmt = stmt.where(
                or_(
                    Conference.one_time_code.is_(True),
                    Conference.host_id.is_(None),
                    Conference.host_id != dedicated_of,
                )
            )
        return self.session.scalar(stmt.limit(1)) is not None

    def running_for_company(self, company_id: int) -> Sequence[Conference]:
        """Conferences of a company that started and have not ended."""
        stmt = select(Conference).where(
            Conference.company_id == company_id,
            Conference.deleted_at.is_(None),
            Conference.started_at.is_not(None),
            Conference.ended_at.is_(None),
        )
        return self.session.scalars(stmt.order_by(Conference.id)).all()

    def with_access_code(self, code: str) -> Sequence[Conference]:
        stmt = (
            select(Conference)
            .where(Conference.access_code == code)
            .order_by(Conference.starts_at, Conference.id)
        )
        return self.session.scalars(stmt).all()

    def on_code_for_host(self, host_id: int, code: str) -> Sequence[Conference]:
        stmt = (
            select(Conference)
            .where(
                Conference.host_id == host_id,
                Conference.access_code == code,
                Conference.deleted_at.is_(None),
                Conference.ended_at.is_(None),
            )
            .order_by(Conference.starts_at.desc(), Conference.id.desc())
        )
        return self.session.scalars(stmt).all()

    def series(self, master_id: int) -> Sequence[Conference]:
        stmt = (
            select(Conference)
            .where(Conference.master_id == master_id)
            .order_by(Conference.starts_at, Conference.id)
        )
        return self.session.scalars(stmt).all()

    def due_for_reminder(self, after: datetime, until: datetime, limit: int = 200) -> Sequence[Conference]:
        """Live conferences starting in (``after``, ``until``] whose current start has not been
        reminded of yet, soonest first."""
        stmt = (
            select(Conference)
            .where(
                Conference.deleted_at.is_(None),
                Conference.ended_at.is_(None),
                Conference.starts_at > after,
                Conference.starts_at <= until,
                or_(
                    Conference.reminder_sent_for.is_(None),
                    Conference.reminder_sent_for != Conference.starts_at,
                ),
            )
            .order_by(Conference.starts_at, Conference.id)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def claim_reminder(self, conference_id: int, start: datetime) -> bool:
        """Mark the reminder of the start ``start`` as sent unless another worker already did (first
        one wins)."""
        result = self.session.execute(
            update(Conference)
            .where(
                Conference.id == conference_id,
                Conference.starts_at == start,
                or_(Conference.reminder_sent_for.is_(None), Conference.reminder_sent_for != start),
            )
            .values(reminder_sent_for=start)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def masters_of_host(self, host_id: int) -> Sequence[Conference]:
        stmt = select(Conference).where(
            Conference.host_id == host_id,
            Conference.master_id == Conference.id,
            Conference.deleted_at.is_(None),
        )
        return self.session.scalars(stmt).all()

    def upcoming_for_host(self, host_id: int, since: datetime, until: datetime) -> Sequence[Conference]:
        stmt = (
            select(Conference)
            .where(
                Conference.host_id == host_id,
                Conference.deleted_at.is_(None),
                Conference.starts_at >= since,
                Conference.starts_at < until,
            )
            .order_by(Conference.starts_at, Conference.id)
        )
        return self.session.scalars(stmt).all()

    def folder(self, company_id: int, code: str) -> Folder | None:
        return self.session.scalar(select(Folder).where(Folder.company_id == company_id, Folder.code == code))

    def folder_by_id(self, folder_id: int) -> Folder | None:
        return self.session.get(Folder, folder_id)

    def console_page(
        self,
        kind: str,
        now: datetime,
        *,
        company_ids: Sequence[int] | None,
        host_id: int | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Conference], int]:
        """One page of the operator console's meetings and their count: ``upcoming`` (not started,
        soonest first), ``live`` (started, not ended) or ``past`` (ended, latest first); of the
        companies ``company_ids`` or of the organiser ``host_id``."""
        where: list[Any] = [Conference.deleted_at.is_(None)]
        if host_id is not None:
            where.append(Conference.host_id == host_id)
        if company_ids is not None:
            where.append(Conference.company_id.in_(list(company_ids)))
        if kind == "live":
            where += [Conference.started_at.is_not(None), Conference.ended_at.is_(None)]
            order: list[Any] = [Conference.started_at.desc(), Conference.id.desc()]
        elif kind == "past":
            where += [Conference.ended_at.is_not(None)]
            order = [Conference.ended_at.desc(), Conference.id.desc()]
        else:
            where += [
                Conference.started_at.is_(None),
                Conference.ended_at.is_(None),
                or_(Conference.starts_at.is_(None), Conference.starts_at >= now - timedelta(days=1)),
            ]
            order = [Conference.starts_at.is_(None), Conference.starts_at, Conference.id]
        total = int(self.session.scalar(select(func.count(Conference.id)).where(*where)) or 0)
        rows = self.session.scalars(
            select(Conference).where(*where).order_by(*order).limit(limit).offset(offset)
        )
        return rows.all(), total
