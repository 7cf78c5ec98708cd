"""Reports on a host's conferences from recorded attendance: past conferences, call detail records,
the calls the host is on now. Whoever administers the host may read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from podium.domain.access.conferences import ConferenceAccess
from podium.domain.actor import Actor
from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.telephony.repository import PhoneLegRepository
from podium.kit.clock import utcnow
from podium.models.activity import Attendance
from podium.models.conference import Conference
from podium.models.tenancy import Host

CDR_LIMIT = 100


class ConferenceReports:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.attendance = AttendanceRepository(session)

    def past_conferences(
        self, actor: Actor, host_id: int, since: datetime | None = None, before: datetime | None = None
    ) -> Sequence[Conference]:
        """A host's past conferences (ended, or scheduled to have ended), oldest first.

        Args:
            actor: Who is calling; must administer the host.
            host_id: The organiser.
            since: Only those starting at or after this (naive UTC).
            before: Only those starting before this (naive UTC).

        Raises:
            Forbidden: the host is beyond the actor's scope.
            NotFound: no such live host.
        """
        host = ConferenceAccess(self.session, actor).organiser(host_id)
        return self.attendance.host_conferences(host.id, since, before, utcnow())

    def call_records(
        self,
        actor: Actor,
        host_id: int,
        conference_id: int | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
    ) -> tuple[Host, Sequence[tuple[Attendance, Conference]]]:
        """Call detail records of a host's conferences (the first 100 joins in the range).

        Returns:
            The host, and each attendance with its conference.

        Raises:
            Forbidden: the host is beyond the actor's scope.
            NotFound: no such live host.
        """
        host = ConferenceAccess(self.session, actor).organiser(host_id)
        return host, self.attendance.cdrs(host.id, conference_id, since, before, limit=CDR_LIMIT)

    def active_calls(self, actor: Actor, host_id: int) -> Sequence[Conference]:
        """The conferences the host is on now, and the host's conferences calling a phone now.

        Raises:
            Forbidden: the host is beyond the actor's scope.
            NotFound: no such live host.
        """
        host = ConferenceAccess(self.session, actor).organiser(host_id)
        found = {c.id: c for c in self.attendance.active_for_host(host.id)}
        found |= {c.id: c for c in PhoneLegRepository(self.session).conferences_calling(host.id)}
        return [found[key] for key in sorted(found)]
