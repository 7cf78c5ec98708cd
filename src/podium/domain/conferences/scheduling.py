"""Scheduled and reservationless conferences of hosts (the Iotum conference API), on the shared
Conference and Participant model: access codes and moderator tokens, mute modes, features checked
against the host's subscriptions, participants from contacts, recurring series."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.audit.service import log_action
from podium.domain.conferences.access_codes import AccessCodes
from podium.domain.conferences.lifecycle import mark_started, stop_live
from podium.domain.conferences.recurrence import Schedule, parse
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.service import ConferenceService
from podium.domain.contacts.service import ContactService
from podium.domain.hosts.repository import HostRepository
from podium.domain.participants.repository import ParticipantRepository
from podium.domain.subscriptions.service import SubscriptionService
from podium.kit import coerce, ids
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from podium.kit.links import Links
from podium.kit.validation import check_length
from podium.models.conference import Conference
from podium.models.contact import Contact
from podium.models.participant import Participant, ParticipantRole
from podium.models.subscription import Feature
from podium.models.tenancy import Host

NOT_IN_CONTACTS = "Participants has one or more contact that does not exist in the host's contact list."
MUTE_MODES = ("conversation", "q&a", "presentation")
HORIZON = timedelta(days=548)  # 18 months: fetch_all does not look further
ONE_TIME_GRACE = timedelta(hours=72)
ONE_TIME_CODE_DIGITS = 9  # the most the reference's 3-9 digit codes allow
MAX_DURATION = 7 * 24 * 60
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
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
    "broadcast_stream_url",
    "broadcast_state",
    "access_code",
    "one_time_code",
    "moderator_token",
    "host_id",
    "company_id",
    "schedule",
)


def parse_start(value: Any, zone: ZoneInfo) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` in the conference's zone, or ISO 8601 (an offset wins) → naive UTC."""
    text = coerce.to_str("start", value, maximum=40)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            "start must be a date and time such as 2020-09-19 13:00:00", field="start"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class ConferenceView:
    conference: Conference
    participants: list[int]
    moderators: list[int]
    # The moderators as people: host id (when the moderator is a host), name and email.
    moderator_people: list[dict[str, Any]]
    participant_emails: list[dict[str, Any]]
    room_url: str
    active: bool
    start_local: str
    end_local: str
    master: Conference | None


class SchedulingService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ConferenceRepository(session)
        self.participants = ParticipantRepository(session)
        self.contacts = ContactService(session)
        self.subscriptions = SubscriptionService(session)
        self.hosts = HostRepository(session)

    def _log(self, action: str, conference: Conference, actor_label: str, **data: Any) -> None:
        """Audit a conference action; webhooks fan out from it with host, company and conference ids."""
        data.setdefault("host_id", conference.host_id)
        log_action(
            self.session,
            action,
            actor=actor_label,
            ref=f"conference:{conference.id}",
            company_id=conference.company_id,
            conference_id=conference.id,
            **data,
        )

    # --- secure URLs ---------------------------------------------------------------------

    def _fernet(self) -> Fernet:
        digest = hashlib.sha256(("secure-url:" + self.settings.signing_key()).encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))

    def room_url(self, conference: Conference) -> str:
        code = conference.access_code or ""
        if conference.secure_url:
            token = self._fernet().encrypt(code.encode()).decode()
            return Links(self.settings).secure_room(token)
        return Links(self.settings).room(code)

    def decrypt_code(self, token: str) -> str | None:
        try:
            return self._fernet().decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    # --- rules -------------------------------------------------------------------------------

    def _check_features(self, host: Host, conference: Conference) -> None:
        """The reference's feature errors, word for word, against the host's active subscriptions."""
        plan = self.subscriptions.host_plan(host)
        if not plan.can_host():
            raise Forbidden("The host's plan is suspended or missing: hosting is not available")
        features = plan.features()
        if conference.auto_record == "audio" and Feature.RECORDING not in features:
            raise Forbidden("Recording feature not enabled")
        if conference.auto_record == "video" and Feature.VIDEO_RECORDING not in features:
            raise Forbidden("Video recording feature not enabled")
        if conference.auto_stream != "none" and Feature.STREAMING not in features:
            raise Forbidden("Streaming feature not enabled")
        if conference.auto_transcribe and Feature.TRANSCRIPTION not in features:
            raise Forbidden("Transcription feature not enabled")
        if conference.one_time_code and Feature.ONE_TIME_ACCESS_CODE not in features:
            raise Forbidden("One time access code feature not available")
        if conference.security_pin and not conference.one_time_code:
            raise InvalidInput("Must enable one_time_access_code to use security_pin", field="security_pin")

    def _one_time_code(self) -> str:
        return AccessCodes(self.session).draw(ONE_TIME_CODE_DIGITS)

    def _apply(self, conference: Conference, fields: dict[str, Any], *, creating: bool) -> None:
        """Copy and validate the given option fields onto a conference."""
        if "subject" in fields:
            conference.title = check_length(
                "subject", coerce.to_str("subject", fields["subject"] or "", maximum=255), 255
            )
        if "agenda" in fields:
            agenda = fields["agenda"]
            conference.description = "" if agenda is None else coerce.to_str("agenda", agenda, maximum=4000)
        if "time_zone" in fields and fields["time_zone"] is not None:
            conference.time_zone = coerce.time_zone("time_zone", fields["time_zone"])
        if "duration" in fields:
            duration = coerce.to_int("duration", fields["duration"])
            if not 1 <= duration <= MAX_DURATION:
                raise InvalidInput(f"duration must be between 1 and {MAX_DURATION} minutes", field="duration")
            conference.duration_minutes = duration
        for key in ("auto_record", "auto_stream"):
            if key in fields:
                setattr(conference, key, coerce.media_mode(key, fields[key]))
        if (
            "none" not in (conference.auto_record, conference.auto_stream)
            and conference.auto_record != conference.auto_stream
        ):
            raise InvalidInput(
                "auto_record and auto_stream must be the same when recording and streaming together"
            )
        for key in ("auto_transcribe", "host_initiated_recording", "secure_url"):
            if key in fields and fields[key] is not None:
                setattr(conference, key, coerce.to_bool(key, fields[key]))
        if "mute_mode" in fields and fields["mute_mode"] is not None:
            mode = coerce.to_str("mute_mode", fields["mute_mode"]).lower()
            if mode not in MUTE_MODES:
                raise InvalidInput(
                    "mute_mode must be one of conversation, q&a, presentation", field="mute_mode"
                )
            conference.mute_mode = mode
        if "security_pin" in fields:
            pin = fields["security_pin"]
            pin_text = "" if pin is None else coerce.to_str("security_pin", pin, maximum=16)
            if pin_text and not re.fullmatch(r"\d{3,16}", pin_text):
                raise InvalidInput("security_pin must be 3 to 16 digits", field="security_pin")
            conference.security_pin = pin_text or None
        if "broadcast_stream_url" in fields:
            url = fields["broadcast_stream_url"]
            url_text = "" if url is None else coerce.to_str("broadcast_stream_url", url, maximum=2048)
            if url_text and not re.match(r"^https?://[^\s/]+/\S*$", url_text):
                raise InvalidInput(
                    "broadcast_stream_url must be an http(s) URL", field="broadcast_stream_url"
                )
            if url_text != (conference.broadcast_stream_url or ""):
                conference.broadcast_stream_url = url_text or None
                conference.broadcast_state = "NEW" if url_text else None

    # --- participants ----------------------------------------------------------------------------

    def _invitees(self, host: Host, fields: dict[str, Any]) -> list[tuple[Contact, bool, int | None]] | None:
        """(contact, moderator, host_id) for every invitee named; None when the call names none."""
        named = [
            k
            for k in ("participants", "participant_emails", "participant_hosts", "moderators")
            if k in fields
        ]
        if not named:
            return None
        found: dict[int, tuple[Contact, bool, int | None]] = {}

        def add(contact: Contact, moderator: bool, host_id: int | None = None) -> None:
            previous = found.get(contact.id)
            found[contact.id] = (
                contact,
                moderator or (previous[1] if previous else False),
                host_id if host_id is not None else (previous[2] if previous else None),
            )

        participants = fields.get("participants")
        if "participants" in fields and participants is not None:
            if not isinstance(participants, list):
                raise InvalidInput("Participants must be an array of contacts'", field="participants")
            for item in participants:
                if isinstance(item, dict):  # loose clients send {email, name, phone}
                    add(self._by_email(host, item), coerce.to_bool("moderator", item.get("moderator", False)))
                    continue
                try:
                    contact_id = coerce.to_int("participants", item)
                except InvalidInput:
                    raise InvalidInput(
                        "Participants must be an array of contacts'", field="participants"
                    ) from None
                contact = self.contacts.visible_to(host, contact_id)
                if contact is None:
                    raise InvalidInput(NOT_IN_CONTACTS, field="participants")
                add(contact, False)
        emails = fields.get("participant_emails")
        if "participant_emails" in fields and emails is not None:
            if not isinstance(emails, list):
                raise InvalidInput("participant_emails must be an array", field="participant_emails")
            for item in emails:
                entry = item if isinstance(item, dict) else {"email": item}
                add(self._by_email(host, entry), coerce.to_bool("moderator", entry.get("moderator", False)))
        others = fields.get("participant_hosts")
        if "participant_hosts" in fields and others is not None:
            if not isinstance(others, list):
                raise InvalidInput("participant_hosts must be an array", field="participant_hosts")
            for item in others:
                entry = item if isinstance(item, dict) else {"host_id": item}
                other = self.hosts.by_id(coerce.to_int("participant_hosts", entry.get("host_id")))
                if other is None or other.deleted_at is not None or other.company_id != host.company_id:
                    raise InvalidInput(
                        "participant_hosts must be hosts of the same company", field="participant_hosts"
                    )
                add(
                    self.contacts.find_or_add(host, other.email, other.name),
                    coerce.to_bool("moderator", entry.get("moderator", False)),
                    other.id,
                )
        moderators = fields.get("moderators")
        if "moderators" in fields and moderators is not None:
            if not isinstance(moderators, list):
                raise InvalidInput("moderators must be an array of contacts", field="moderators")
            for item in moderators:
                contact = self.contacts.visible_to(host, coerce.to_int("moderators", item))
                if contact is None:
                    raise InvalidInput(NOT_IN_CONTACTS, field="moderators")
                add(contact, True)
        return list(found.values())

    def _by_email(self, host: Host, entry: dict[str, Any]) -> Contact:
        email = coerce.to_str("email", entry.get("email") or "", maximum=254)
        return self.contacts.find_or_add(host, email, coerce.to_str("name", entry.get("name") or ""))

    def _set_participants(
        self, conference: Conference, host: Host, invitees: list[tuple[Contact, bool, int | None]] | None
    ) -> None:
        """Make the conference's Participants match: the organiser first, then the invitees."""
        existing = {p.contact_id: p for p in self.participants.for_conference(conference.id) if p.contact_id}
        organiser = self.contacts.find_or_add(host, host.email, host.name)
        wanted: dict[int, tuple[Contact, ParticipantRole, int | None]] = {
            organiser.id: (organiser, ParticipantRole.HOST, host.id)
        }
        if invitees is None:  # unchanged: keep the current invitees
            for participant in existing.values():
                if participant.deleted_at is None and participant.contact_id not in wanted:
                    contact = self.session.get(Contact, participant.contact_id)
                    if contact is not None:
                        wanted[contact.id] = (contact, participant.role, participant.host_id)
        else:
            for contact, moderator, host_id in invitees:
                if contact.id != organiser.id:
                    role = ParticipantRole.MODERATOR if moderator else ParticipantRole.PARTICIPANT
                    wanted[contact.id] = (contact, role, host_id)
        for contact_id, participant in existing.items():
            if contact_id not in wanted and participant.deleted_at is None:
                participant.deleted_at = utcnow()
                participant.token_revision += 1
        for contact_id, (contact, role, host_id) in wanted.items():
            current = existing.get(contact_id)
            if current is None:
                self.participants.add(
                    Participant(
                        conference_id=conference.id,
                        code=self._unique_participant("code", ids.client_code),
                        url_token=self._unique_participant("url_token", ids.capability_token),
                        contact_id=contact.id,
                        host_id=host_id,
                        email=contact.email,
                        name=contact.name,
                        role=role,
                    )
                )
            else:
                current.deleted_at = None
                current.role, current.host_id = role, host_id
                current.email, current.name = contact.email, contact.name
        self.session.flush()

    def _unique_participant(self, column: str, make: Any) -> str:
        for _ in range(20):
            value = make()
            if not self.participants.code_exists(column, value):
                return str(value)
        raise RuntimeError("no free participant code")

    # --- create ------------------------------------------------------------------------------

    def _new(self, actor: Actor | _RoomActor, host: Host) -> Conference:
        """A conference in the host's own company (a reseller admin may act from another one)."""
        on_behalf = _OnBehalf(company_id=host.company_id, label=actor.label)
        conference = ConferenceService(self.session, self.settings).create(on_behalf, host_id=host.id)  # type: ignore[arg-type]
        conference.time_zone = host.time_zone or "UTC"
        return conference

    def create(self, actor: Actor, host: Host, fields: dict[str, Any]) -> Conference:
        """Schedule a conference (or the master of a series) for ``host``.

        Raises the reference's errors: feature not enabled, security PIN without one-time code,
        participants not in the host's contacts, schedule rule errors.
        """
        if fields.get("start") in (None, ""):
            raise InvalidInput("start is required", field="start")
        if fields.get("duration") in (None, ""):
            raise InvalidInput("duration is required", field="duration")
        conference = self._new(actor, host)
        self._apply(conference, fields, creating=True)
        conference.starts_at = parse_start(fields["start"], ZoneInfo(conference.time_zone))
        conference.one_time_code = coerce.to_bool(
            "one_time_access_code", fields.get("one_time_access_code") or False
        )
        self._check_features(host, conference)
        conference.access_code = self._one_time_code() if conference.one_time_code else host.access_code
        schedule = self._schedule(fields)
        invitees = self._invitees(host, fields)
        if schedule is not None:
            self._begin_series(conference, schedule)
        self._set_validity(conference)
        self._set_participants(conference, host, invitees)
        if schedule is not None:
            self._materialise(conference, host)
        self._log("conference.scheduled", conference, actor.label, host_id=host.id)
        return conference

    def create_reservationless(self, actor: Actor, host: Host, fields: dict[str, Any]) -> Conference:
        """An active conference now: one-time code and/or secure URL, or the host's dedicated code.

        Every option ``create`` takes means the same here (recording, streaming, PIN, mute mode,
        participants…); only ``start`` and ``schedule`` have no meaning for a call that starts now,
        and are refused rather than ignored.
        """
        for key in ("start", "schedule"):
            if fields.get(key) not in (None, ""):
                raise InvalidInput(
                    f"{key} cannot be given to a reservationless conference: it starts now "
                    "(use conference/create to schedule one)",
                    field=key,
                )
        conference = self._new(actor, host)
        conference.reservationless = True
        conference.title = f"{host.name}'s meeting"
        conference.duration_minutes = 60
        settings = host.settings or {}
        conference.mute_mode = "conversation"
        conference.host_initiated_recording = bool(settings.get("host_initiated_recording", False))
        self._apply(conference, fields, creating=True)
        conference.one_time_code = coerce.to_bool(
            "one_time_access_code", fields.get("one_time_access_code") or False
        )
        self._check_features(host, conference)
        invitees = self._invitees(host, fields)
        now = utcnow()
        conference.starts_at = now
        conference.access_code = self._one_time_code() if conference.one_time_code else host.access_code
        self._set_validity(conference)
        self._set_participants(conference, host, invitees)
        self._start(conference, now)
        return conference

    def _start(self, conference: Conference, now: datetime) -> None:
        mark_started(self.session, conference, now, actor_label="system")

    def _set_validity(self, conference: Conference) -> None:
        if conference.one_time_code and conference.starts_at is not None:
            conference.code_valid_until = self.end_of(conference) + ONE_TIME_GRACE

    def end_of(self, conference: Conference) -> datetime:
        start = conference.starts_at or conference.created_at
        return start + timedelta(minutes=conference.duration_minutes or 60)

    # --- recurrence ---------------------------------------------------------------------------

    def _schedule(self, fields: dict[str, Any]) -> Schedule | None:
        raw = fields.get("schedule")
        if raw in (None, ""):
            return None
        return parse(coerce.to_str("schedule", raw))

    def _begin_series(self, master: Conference, schedule: Schedule) -> None:
        """The master is the series' first occurrence from ``start``."""
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

    def _materialise(self, master: Conference, host: Host | None = None) -> None:
        """Create the series' instances up to the fetch horizon (lazily for unbounded rules)."""
        if not master.schedule or master.deleted_at is not None:
            return
        limit = utcnow() + HORIZON
        if master.materialized_until is not None and master.materialized_until >= limit:
            return
        schedule = parse(master.schedule)
        zone = ZoneInfo(master.time_zone)
        assert master.starts_at is not None
        known = {c.starts_at for c in self.repo.series(master.id)}
        host = host or self.hosts.by_id(master.host_id or 0)
        for moment in schedule.occurrences(local(master.starts_at, zone), zone, until_utc=limit):
            if moment in known or moment == master.starts_at:
                continue
            instance = Conference(
                starts_at=moment,
                master_id=master.id,
                **ConferenceService(self.session, self.settings).fresh_codes(),
                **{name: getattr(master, name) for name in SERIES_FIELDS if name != "schedule"},
            )
            instance.schedule = master.schedule
            self.repo.add(instance)
            self._set_validity(instance)
            if host is not None:
                self._copy_participants(master, instance)
        master.materialized_until = limit if not schedule.bounded else datetime.max.replace(microsecond=0)
        self.session.flush()

    def _copy_participants(self, master: Conference, instance: Conference) -> None:
        for participant in self.participants.for_conference(master.id):
            if participant.deleted_at is None:
                self.participants.add(
                    Participant(
                        conference_id=instance.id,
                        code=self._unique_participant("code", ids.client_code),
                        url_token=self._unique_participant("url_token", ids.capability_token),
                        contact_id=participant.contact_id,
                        host_id=participant.host_id,
                        email=participant.email,
                        name=participant.name,
                        role=participant.role,
                    )
                )

    def series(self, master: Conference) -> list[Conference]:
        return [c for c in self.repo.series(master.id) if c.deleted_at is None]

    # --- update, cancel, end -----------------------------------------------------------------

    def update(self, actor: Actor, conference: Conference, host: Host, fields: dict[str, Any]) -> Conference:
        """Change the given fields; on a series master the whole future series follows."""
        is_instance = conference.master_id is not None and conference.master_id != conference.id
        if "schedule" in fields and is_instance:
            raise InvalidInput("Can only include schedule details in the master conference", field="schedule")
        if conference.ended_at is not None:
            raise Conflict("The conference has ended")
        self._apply(conference, fields, creating=False)
        reschedule = False
        if fields.get("start") not in (None, ""):
            conference.starts_at = parse_start(fields["start"], ZoneInfo(conference.time_zone))
            reschedule = True
        if "one_time_access_code" in fields and fields["one_time_access_code"] is not None:
            wanted = coerce.to_bool("one_time_access_code", fields["one_time_access_code"])
            if wanted != conference.one_time_code:
                conference.one_time_code = wanted
                conference.access_code = self._one_time_code() if wanted else host.access_code
            if not wanted and "security_pin" not in fields:
                # The PIN exists only with a one-time code: turning the code off drops it. Naming a
                # PIN in the same request is still refused by the feature check below.
                conference.security_pin = None
        self._check_features(host, conference)
        invitees = self._invitees(host, fields)
        self._set_participants(conference, host, invitees)
        self._set_validity(conference)
        is_master = conference.master_id == conference.id
        new_schedule = self._schedule(fields) if "schedule" in fields else None
        if "schedule" in fields and new_schedule is None and is_master:
            self._drop_future_instances(conference)
            conference.schedule, conference.master_id = None, None
        elif new_schedule is not None or (is_master and reschedule):
            if new_schedule is None:
                assert conference.schedule is not None
                new_schedule = parse(conference.schedule)
            self._drop_future_instances(conference)
            self._begin_series(conference, new_schedule)
            self._set_validity(conference)
            self._materialise(conference, host)
        elif is_master:
            for instance in self.series(conference):
                if instance.id != conference.id and instance.started_at is None:
                    for name in SERIES_FIELDS:
                        setattr(instance, name, getattr(conference, name))
                    self._set_validity(instance)
                    self._set_participants(instance, host, invitees)
        self.session.flush()
        self._log("conference.updated", conference, actor.label)
        return conference

    def _drop_future_instances(self, master: Conference) -> None:
        now = utcnow()
        for instance in self.series(master):
            if instance.id != master.id and instance.started_at is None:
                instance.deleted_at = now
        master.materialized_until = None

    def cancel(self, actor: Actor, conference: Conference) -> None:
        """Cancel one conference; cancelling a series master cancels the whole series."""
        if conference.ended_at is not None:
            raise Conflict("The conference has ended")
        now = utcnow()
        targets = self.series(conference) if conference.master_id == conference.id else [conference]
        for target in targets:
            stop_live(self.session, target, now, actor_label=actor.label, reason="cancelled")
            target.deleted_at = now
            target.cancelled_at = now
        self.session.flush()
        self._log(
            "conference.cancelled",
            conference,
            actor.label,
            series=len(targets) > 1,
        )

    def end(self, actor: Actor | None, conference: Conference) -> None:
        """End an active conference: everyone leaves, the room closes."""
        if not self.is_active(conference):
            raise Conflict("Conference is not active")
        now = utcnow()
        if conference.started_at is None:
            self._start(conference, now)
        stop_live(
            self.session, conference, now, actor_label=actor.label if actor else "system", reason="ended"
        )

    def end_if_empty(self, conference: Conference) -> bool:
        """The last one out of a host's reservationless (or overrun) conference ends it."""
        if conference.host_id is None or conference.ended_at is not None or conference.started_at is None:
            return False
        if AttendanceRepository(self.session).open_for_conference(conference.id):
            return False
        now = utcnow()
        if not conference.reservationless and now < self.end_of(conference):
            return False  # scheduled and still within its time: people may come back
        return stop_live(self.session, conference, now, actor_label="room", reason="empty")

    def is_active(self, conference: Conference, now: datetime | None = None) -> bool:
        """The reference's rule: scheduled for the current time, or has live participants."""
        now = now or utcnow()
        if conference.deleted_at is not None or conference.ended_at is not None:
            return False
        if conference.starts_at is not None and conference.starts_at <= now < self.end_of(conference):
            return True
        return bool(AttendanceRepository(self.session).open_for_conference(conference.id))

    def require_active(self, conference: Conference) -> None:
        if not self.is_active(conference):
            raise Conflict("Conference is not active")

    def require_past(self, conference: Conference) -> None:
        if conference.ended_at is None and (
            conference.starts_at is None or self.end_of(conference) > utcnow()
        ):
            raise Conflict("Conference has not ended yet")

    # --- lists and views ------------------------------------------------------------------------

    def for_host(self, host: Host) -> list[Conference]:
        """The host's scheduled conferences from now to the 18-month horizon (series extended lazily)."""
        for master in self.repo.masters_of_host(host.id):
            self._materialise(master, host)
        now = utcnow()
        return [
            c
            for c in self.repo.upcoming_for_host(host.id, now - timedelta(days=1), now + HORIZON)
            if c.ended_at is None and (self.end_of(c) > now or self.is_active(c, now))
        ]

    def view(self, conference: Conference) -> ConferenceView:
        zone = ZoneInfo(conference.time_zone or "UTC")
        start = conference.starts_at or conference.created_at
        participants = [
            p
            for p in self.participants.for_conference(conference.id)
            if p.deleted_at is None and p.contact_id is not None
        ]
        moderators = [p for p in participants if p.role in (ParticipantRole.HOST, ParticipantRole.MODERATOR)]
        master = None
        if conference.master_id is not None:
            master = (
                conference if conference.master_id == conference.id else self.repo.by_id(conference.master_id)
            )
        return ConferenceView(
            conference=conference,
            participants=[p.contact_id for p in participants if p.contact_id is not None],
            moderators=[p.contact_id for p in moderators if p.contact_id is not None],
            moderator_people=[{"person_id": p.host_id, "name": p.name, "email": p.email} for p in moderators],
            participant_emails=[
                {"email": p.email, "moderator": p.role != ParticipantRole.PARTICIPANT} for p in participants
            ],
            room_url=self.room_url(conference),
            active=self.is_active(conference),
            start_local=local(start, zone).strftime(TIME_FORMAT),
            end_local=local(self.end_of(conference), zone).strftime(TIME_FORMAT),
            master=master,
        )

    def participant_contacts(self, conference: Conference) -> tuple[list[Contact], list[Contact]]:
        participants = [
            p
            for p in self.participants.for_conference(conference.id)
            if p.deleted_at is None and p.contact_id is not None
        ]
        contacts = {c.id: c for c in (self.session.get(Contact, p.contact_id) for p in participants) if c}
        everyone = [contacts[p.contact_id] for p in participants if p.contact_id in contacts]
        moderators = [
            contacts[p.contact_id]
            for p in participants
            if p.contact_id in contacts and p.role in (ParticipantRole.HOST, ParticipantRole.MODERATOR)
        ]
        return everyone, moderators

    # --- other actions ---------------------------------------------------------------------------------

    def stop_streaming(self, actor: Actor, conference: Conference) -> None:
        conference.is_streaming = False
        if conference.broadcast_state == "STARTED":
            conference.broadcast_state = "STOPPED"
        self.session.flush()
        self._log("conference.streaming_stopped", conference, actor.label)

    def dial_number(self, actor: Actor, conference: Conference, fields: dict[str, Any]) -> str:
        """Validate and record a dial-out request (placed by a telephony gateway when one is connected)."""
        self.require_active(conference)
        coerce.country("country_code", fields.get("country_code") or "")
        phone = coerce.to_str("phone_number", fields.get("phone_number") or "", maximum=20).lstrip("+")
        if not re.fullmatch(r"[1-9]\d{6,14}", phone):
            raise InvalidInput(
                "phone_number must be an E.164 number such as 14165551212", field="phone_number"
            )
        name = coerce.to_str("name", fields.get("name") or phone)
        self._log("conference.dialout_requested", conference, actor.label, phone_number=phone, name=name)
        return "new"

    def delete_media(self, actor: Actor, conference: Conference, kind: str) -> None:
        """Delete a past conference's recordings (with their transcripts) or transcripts."""
        self.require_past(conference)
        self._log(f"conference.{kind}_deleted", conference, actor.label)

    def visible_to(self, viewer: Host, conference_id: int) -> Conference:
        """A conference its organiser, or an admin whose scope holds the organiser, may look at."""
        from podium.domain.access.service import AccessPolicy
        from podium.domain.auth.service import AuthService

        conference = self.repo.by_id(conference_id)
        if conference is None or conference.host_id is None:
            raise NotFound("Conference not found")
        if conference.host_id != viewer.id:
            AccessPolicy(
                self.session, AuthService(self.session, self.settings).actor_for_host(viewer, "web")
            ).host(conference.host_id)
        return conference

    def organiser(self, conference: Conference) -> Host | None:
        return self.hosts.by_id(conference.host_id) if conference.host_id else None

    def reuse_instances(self, code: str) -> Sequence[Conference]:
        return self.repo.with_access_code(code)

    def new_instance_from(self, original: Conference, now: datetime) -> Conference:
        """A visit to a one-time code outside the original time: a new instance, started now."""
        instance = Conference(
            starts_at=now,
            reservationless=True,
            **ConferenceService(self.session, self.settings).fresh_codes(),
            **{name: getattr(original, name) for name in SERIES_FIELDS if name != "schedule"},
        )
        instance.code_valid_until = original.code_valid_until
        self.repo.add(instance)
        self._copy_participants(original, instance)
        self._log(
            "conference.access_code_reused",
            instance,
            "room",
            original_conference_id=original.id,
            access_code=original.access_code,
        )
        self._start(instance, now)
        return instance

    def dedicated_room(self, host: Host, now: datetime) -> Conference:
        """The host's conference on its dedicated code now: scheduled for now, running, or a new one."""
        for conference in self.repo.on_code_for_host(host.id, host.access_code):
            if self.is_active(conference, now) or (
                conference.starts_at is not None
                and conference.ended_at is None
                and conference.starts_at - timedelta(minutes=15) <= now < self.end_of(conference)
            ):
                return conference
        self.subscriptions.ensure_can_host(host)
        conference = self._new(_RoomActor(host), host)
        conference.reservationless = True
        conference.title = f"{host.name}'s meeting"
        conference.duration_minutes = 60
        conference.starts_at = now
        conference.access_code = host.access_code
        self._set_participants(conference, host, None)
        self._start(conference, now)
        return conference


@dataclass(frozen=True)
class _OnBehalf:
    """The caller, acting in the organiser's company."""

    company_id: int
    label: str


@dataclass(frozen=True)
class _RoomActor:
    """A conference opened by visiting a host's meeting URL acts for that host."""

    host: Host

    @property
    def company_id(self) -> int:
        return self.host.company_id

    @property
    def label(self) -> str:
        return f"room:host:{self.host.id}"
