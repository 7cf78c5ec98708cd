"""Recurring series: a master conference holds the RRULE; its instances are materialised up to the
18-month horizon (lazily for unbounded rules) and share the master's options, access code and
moderator token. Instances made when a one-time code is reused are built the same way."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from podium.domain.conferences.access_codes import conference_codes
from podium.domain.conferences.options import reset_broadcast
from podium.domain.conferences.recurrence import Schedule, parse
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.roster import Roster, Seat
from podium.domain.conferences.timing import local, set_validity
from podium.domain.hosts.repository import HostRepository
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput
from podium.models.conference import Conference
from podium.models.tenancy import Host

HORIZON = timedelta(days=548)  # 18 months: fetch_all does not look further
# Fields that a series' instances share with the master.
SERIES_FIELDS = (
    "title",
    "description",
    "time_zone",
    "duration_minutes",
    "auto_record",
    "auto_stream",
    "auto_transcribe",
    "host_initiated_recording",
    "mute_mode",
    "security_pin",
    "secure_url",
    "broadcast_stream_url",  # each instance plays it at its own start (its own broadcast state)
    "access_code",
    "one_time_code",
    "moderator_token",
    "host_id",
    "company_id",
    "schedule",
)


def is_master(conference: Conference) -> bool:
    return conference.master_id is not None and conference.master_id == conference.id


def is_instance(conference: Conference) -> bool:
    return conference.master_id is not None and conference.master_id != conference.id


def rule_of(text: str | None) -> Schedule | None:
    """A schedule as given, validated with the reference's messages; empty means none."""
    return parse(text) if text else None


class Series:
    def __init__(self, session: Session, roster: Roster | None = None) -> None:
        self.session = session
        self.repo = ConferenceRepository(session)
        self.roster = roster or Roster(session)
        self.hosts = HostRepository(session)

    def members(self, master: Conference) -> list[Conference]:
        """The live conferences of ``master``'s series (the master first), by start."""
        return [c for c in self.repo.series(master.id) if c.deleted_at is None]

    def master_of(self, conference: Conference) -> Conference | None:
        if conference.master_id is None:
            return None
        return conference if is_master(conference) else self.repo.by_id(conference.master_id)

    def instance_of(self, template: Conference, **fields: Any) -> Conference:
        """A new conference sharing ``template``'s series fields, with its own public codes."""
        instance = Conference(
            **conference_codes(self.session, [template.company_id])[0],
            **{name: getattr(template, name) for name in SERIES_FIELDS if name != "schedule"},
            **fields,
        )
        reset_broadcast(instance, instance.broadcast_stream_url)
        self.repo.add(instance)
        return instance

    def begin(self, master: Conference, schedule: Schedule) -> None:
        """Make ``master`` a series' master: it moves to the rule's first occurrence from its start.

        Raises:
            InvalidInput: the rule has no occurrence.
        """
        zone = ZoneInfo(master.time_zone)
        assert master.starts_at is not None
        first = next(
            schedule.occurrences(
                local(master.starts_at, zone), zone, until_utc=master.starts_at + HORIZON + HORIZON
            ),
            None,
        )
        if first is None:
            raise InvalidInput(
                "Failed to parse the schedule rule. The rule has no occurrence.", field="schedule"
            )
        master.starts_at = first
        master.schedule = schedule.text
        master.master_id = master.id
        master.materialized_until = None

    def materialise(self, master: Conference, host: Host | None = None) -> None:
        """Create the series' instances up to the fetch horizon (lazily for unbounded rules)."""
        if not master.schedule or master.deleted_at is not None:
            return
        limit = utcnow() + HORIZON
        if master.materialized_until is not None and master.materialized_until >= limit:
            return
        schedule = parse(master.schedule)
        zone = ZoneInfo(master.time_zone)
        assert master.starts_at is not None
        # Live and cancelled instances stay as they are; those dropped by a new rule do not count.
        known = {
            c.starts_at
            for c in self.repo.series(master.id)
            if c.deleted_at is None or c.cancelled_at is not None
        }
        host = host or self.hosts.by_id(master.host_id or 0)
        for moment in schedule.occurrences(local(master.starts_at, zone), zone, until_utc=limit):
            if moment in known or moment == master.starts_at:
                continue
            instance = self.instance_of(
                master, starts_at=moment, occurrence_at=moment, master_id=master.id, schedule=master.schedule
            )
            set_validity(instance)
            if host is not None:
                self.roster.copy(master, instance)
        master.materialized_until = limit if not schedule.bounded else datetime.max.replace(microsecond=0)
        self.session.flush()

    def drop_future(self, master: Conference) -> None:
        """Remove the instances that have not started (they are made again from the new rule)."""
        now = utcnow()
        for instance in self.members(master):
            if instance.id != master.id and instance.started_at is None:
                instance.deleted_at = now
        master.materialized_until = None

    def end(self, master: Conference) -> None:
        """``master`` stops being a series: its future instances go, it stays as one conference."""
        self.drop_future(master)
        master.schedule, master.master_id = None, None

    def follow(self, master: Conference, host: Host, seats: list[Seat] | None) -> None:
        """The instances that have not started take the master's options (and invitees, when named)."""
        for instance in self.members(master):
            if instance.id != master.id and instance.started_at is None:
                broadcast = instance.broadcast_stream_url
                for name in SERIES_FIELDS:
                    setattr(instance, name, getattr(master, name))
                if instance.broadcast_stream_url != broadcast:
                    reset_broadcast(instance, instance.broadcast_stream_url)
                set_validity(instance)
                self.roster.seat(instance, host, seats)
