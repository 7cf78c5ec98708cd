"""Phone leg rows: a conference's calls, and the leases of the processes running them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from podium.models.conference import Conference
from podium.models.phone_leg import FINAL, LegStatus, PhoneLeg

OPEN = [status.value for status in LegStatus if status not in FINAL]


class PhoneLegRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, leg: PhoneLeg) -> PhoneLeg:
        self.session.add(leg)
        self.session.flush()
        return leg

    def by_id(self, leg_id: int) -> PhoneLeg | None:
        return self.session.get(PhoneLeg, leg_id)

    def of_conferences(
        self, conference_ids: Sequence[int], *, open_only: bool = False, direction: str | None = None
    ) -> Sequence[PhoneLeg]:
        """The conferences' calls in the order they were asked for (only those still ringing or on the
        line with ``open_only``; only dial-outs or dial-ins with ``direction``)."""
        if not conference_ids:
            return []
        stmt = select(PhoneLeg).where(PhoneLeg.conference_id.in_(conference_ids))
        if direction is not None:
            stmt = stmt.where(PhoneLeg.direction == direction)
        if open_only:
            stmt = stmt.where(PhoneLeg.status.in_(OPEN))
        return self.session.scalars(stmt.order_by(PhoneLeg.requested_at, PhoneLeg.id)).all()

    def open_of(self, conference_id: int) -> Sequence[PhoneLeg]:
        return self.of_conferences([conference_id], open_only=True)

    def conferences_calling(self, host_id: int) -> Sequence[Conference]:
        """The host's live conferences with a phone call ringing or on the line."""
        stmt = (
            select(Conference)
            .join(PhoneLeg, PhoneLeg.conference_id == Conference.id)
            .where(Conference.host_id == host_id, Conference.ended_at.is_(None), PhoneLeg.status.in_(OPEN))
            .distinct()
        )
        return self.session.scalars(stmt).all()

    def open_counts(self) -> dict[str, int]:
        """Calls ringing or on the line, by direction (``/metrics``; open calls have no end yet)."""
        stmt = (
            select(PhoneLeg.direction, func.count())
            .where(PhoneLeg.ended_at.is_(None), PhoneLeg.status.in_(OPEN))
            .group_by(PhoneLeg.direction)
        )
        return {direction: int(count) for direction, count in self.session.execute(stmt)}

    # --- the keepers' leases (rooms/phones.py) --------------------------------------------------

    def waiting(self) -> Sequence[int]:
        """New calls nobody has placed yet."""
        stmt = select(PhoneLeg.id).where(
            PhoneLeg.status == LegStatus.NEW.value,
            PhoneLeg.owner.is_(None),
            PhoneLeg.hangup_requested_at.is_(None),
        )
        return self.session.scalars(stmt.order_by(PhoneLeg.id)).all()

    def unplaced_since(self, before: datetime) -> Sequence[PhoneLeg]:
        """New calls nobody has placed, asked for before ``before``."""
        stmt = select(PhoneLeg).where(
            PhoneLeg.status == LegStatus.NEW.value,
            PhoneLeg.owner.is_(None),
            PhoneLeg.requested_at < before,
        )
        return self.session.scalars(stmt).all()

    def claim(self, leg_id: int, owner: str, until: datetime) -> bool:
        """Take a new call (one process wins a race): a call is placed once, by one process."""
        result = self.session.execute(
            update(PhoneLeg)
            .where(
                PhoneLeg.id == leg_id,
                PhoneLeg.status == LegStatus.NEW.value,
                PhoneLeg.owner.is_(None),
                PhoneLeg.hangup_requested_at.is_(None),
            )
            .values(owner=owner, lease_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, owner: str, leg_ids: Sequence[int], until: datetime) -> Sequence[PhoneLeg]:
        """Extend ``owner``'s leases on its open calls; returns them (with any hang-up asked for)."""
        if not leg_ids:
            return []
        held = (PhoneLeg.id.in_(leg_ids), PhoneLeg.owner == owner, PhoneLeg.status.in_(OPEN))
        self.session.execute(update(PhoneLeg).where(*held).values(lease_until=until))
        return self.session.scalars(select(PhoneLeg).where(*held)).all()

    def lapsed(self, now: datetime) -> Sequence[PhoneLeg]:
        """Open calls whose process stopped renewing (it died with their media)."""
        stmt = select(PhoneLeg).where(
            PhoneLeg.status.in_(OPEN),
            PhoneLeg.owner.is_not(None),
            or_(PhoneLeg.lease_until.is_(None), PhoneLeg.lease_until < now),
        )
        return self.session.scalars(stmt).all()
