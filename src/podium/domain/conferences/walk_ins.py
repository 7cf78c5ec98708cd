"""Conferences a room link opens by itself (no API call): a host's dedicated room, and a new
instance when a one-time access code is used outside its conference's time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.conferences import rows
from podium.domain.conferences.lifecycle import mark_started
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.roster import Roster
from podium.domain.conferences.series import Series
from podium.domain.conferences.timing import DEFAULT_DURATION, opens_now
from podium.domain.subscriptions.service import SubscriptionService
from podium.models.conference import Conference
from podium.models.tenancy import Host

ROOM_LABEL = "room"


class WalkIns:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ConferenceRepository(session)
        self.roster = Roster(session)
        self.series = Series(session, self.roster)

    def dedicated_room(self, host: Host, now: datetime) -> Conference:
        """The host's conference on its dedicated code at ``now``: one scheduled for now (or within
        15 minutes), one running, or else a new reservationless one, started.

        Raises:
            Forbidden: a new one is needed and the host's plan cannot host.
            QuotaExceeded: a new one is needed and the company holds its quota of conferences.
        """
        for conference in self.repo.on_code_for_host(host.id, host.access_code):
            if opens_now(self.session, conference, now):
                return conference
        SubscriptionService(self.session).ensure_can_host(host)
        conference = rows.insert_for_host(
            self.session, self.settings, host, actor_label=f"room:host:{host.id}"
        )
        conference.reservationless = True
        conference.title = f"{host.name}'s meeting"
        conference.duration_minutes = DEFAULT_DURATION
        conference.starts_at = now
        conference.access_code = host.access_code
        self.roster.seat(conference, host, None)
        mark_started(self.session, conference, now, actor_label="system")
        return conference

    def reuse(self, original: Conference, now: datetime) -> Conference:
        """A visit to a one-time code outside its conference's time: a new instance of ``original``
        (same code, moderator token and invitees), started now; reported as a reuse."""
        instance = self.series.instance_of(
            original, starts_at=now, reservationless=True, code_valid_until=original.code_valid_until
        )
        self.roster.copy(original, instance)
        rows.audit(
            self.session,
            "conference.access_code_reused",
            instance,
            ROOM_LABEL,
            original_conference_id=original.id,
            access_code=original.access_code,
        )
        mark_started(self.session, instance, now, actor_label="system")
        return instance
