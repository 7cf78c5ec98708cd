from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from podium.models.activity import Attendance, RoomRemoval
from podium.models.conference import Conference


class AttendanceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, attendance: Attendance) -> None:
        self.session.add(attendance)
        self.session.flush()

    def by_id(self, attendance_id: int) -> Attendance | None:
        return self.session.get(Attendance, attendance_id)

    def add_removal(self, removal: RoomRemoval) -> None:
        self.session.add(removal)
        self.session.flush()

    def removal(
        self, conference_id: int, *, seat_hash: str, participant_id: int | None
    ) -> RoomRemoval | None:
        """The removal that keeps this seat, or this personal link's participant, out of the room."""
        matches = RoomRemoval.seat_hash == seat_hash
        if participant_id is not None:
            matches = or_(matches, RoomRemoval.participant_id == participant_id)
        stmt = select(RoomRemoval).where(RoomRemoval.conference_id == conference_id, matches).limit(1)
        return self.session.scalars(stmt).first()

    def for_conferences(self, conference_ids: Sequence[int]) -> dict[int, list[Attendance]]:
        result: dict[int, list[Attendance]] = {cid: [] for cid in conference_ids}
        if conference_ids:
            stmt = (
                select(Attendance).where(Attendance.conference_id.in_(conference_ids)).order_by(Attendance.id)
            )
            for row in self.session.scalars(stmt).all():
                result[row.conference_id].append(row)
        return result

    def presence(self, conference_id: int, participant_ids: Sequence[int]) -> dict[int, bool]:
        """For each participant who ever joined: True while one of their spans is still open."""
        if not participant_ids:
            return {}
        still_in = func.sum(case((Attendance.left_at.is_(None), 1), else_=0))
        stmt = (
            select(Attendance.participant_id, still_in)
            .where(Attendance.conference_id == conference_id, Attendance.participant_id.in_(participant_ids))
            .group_by(Attendance.participant_id)
        )
        return {int(pid): bool(open_spans) for pid, open_spans in self.session.execute(stmt).all()}

    def open_for_conference(self, conference_id: int) -> Sequence[Attendance]:
        stmt = select(Attendance).where(
            Attendance.conference_id == conference_id, Attendance.left_at.is_(None)
        )
        return self.session.scalars(stmt).all()

    def cdrs(
        self,
        host_id: int,
        conference_id: int | None,
        since: datetime | None,
        before: datetime | None,
        limit: int,
    ) -> Sequence[tuple[Attendance, Conference]]:
        stmt = (
            select(Attendance, Conference)
            .join(Conference, Conference.id == Attendance.conference_id)
            .where(Conference.host_id == host_id)
        )
        if conference_id is not None:
            stmt = stmt.where(Conference.id == conference_id)
        if since is not None:
            stmt = stmt.where(Attendance.joined_at >= since)
        if before is not None:
            stmt = stmt.where(Attendance.joined_at < before)
        rows = self.session.execute(stmt.order_by(Attendance.joined_at, Attendance.id).limit(limit)).all()
        return [(row[0], row[1]) for row in rows]

    def live_conference_ids(self, company_id: int) -> list[int]:
        """Conferences of the company with someone in the room now."""
        stmt = (
            select(Attendance.conference_id)
            .join(Conference, Conference.id == Attendance.conference_id)
            .where(
                Conference.company_id == company_id,
                Attendance.left_at.is_(None),
                Conference.ended_at.is_(None),
            )
            .distinct()
        )
        return list(self.session.scalars(stmt).all())

    def active_for_host(self, host_id: int) -> Sequence[Conference]:
        """Conferences in which the host has an open attendance (is on the call now)."""
        stmt = (
            select(Conference)
            .join(Attendance, Attendance.conference_id == Conference.id)
            .where(Attendance.host_id == host_id, Attendance.left_at.is_(None), Conference.ended_at.is_(None))
            .distinct()
            .order_by(Conference.id)
        )
        return self.session.scalars(stmt).all()

    def host_conferences(
        self, host_id: int, since: datetime | None, before: datetime | None, now: datetime
    ) -> Sequence[Conference]:
        """The host's past conferences: ended, or scheduled to have ended, oldest first."""
        stmt = select(Conference).where(
            Conference.host_id == host_id,
            or_(Conference.ended_at.is_not(None), Conference.starts_at < now),
        )
        if since is not None:
            stmt = stmt.where(Conference.starts_at >= since)
        if before is not None:
            stmt = stmt.where(Conference.starts_at < before)
        return self.session.scalars(stmt.order_by(Conference.starts_at, Conference.id)).all()
