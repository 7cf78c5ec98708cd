"""Conference emails: invitations with an iCalendar file (``invite.ics``) when a conference is
scheduled, changed or cancelled, reminders before it starts, a summary to its host after it ends, and
a note to the host when a transcript is ready.

Every email goes through the outbox in the caller's transaction, and each kind is skipped when the
organising host's ``disable_emails`` says so (``conference_invitations`` covers invitations, their
updates and cancellations). The entry points call one method each; the rules live here:

- **Who is invited by email.** Everyone invited to a conference that has a start time (an Iotum
  conference's invitees, its organiser first; a LiveMinutes meeting's participants with an email and
  its ``hostemail``); to one without a start (a Boomstream conference) only those whose invitation
  asked for an email (``notifyEmail``). Whoever holds an invitation is told of changes and of the
  cancellation, and of being uninvited.
- **What an invitation shows** is its iCalendar event: subject, agenda, start and end (UTC; a series
  in another zone is written in that zone, so its wall-clock time holds across daylight saving), the
  series' rule, and the join link. Its UID is stable per conference (a series' instance is an occurrence of
  its master's event, ``RECURRENCE-ID``); its SEQUENCE goes up with each change of what it shows.
  Invitees added later get the current invitation; a change of options the invitation does not show
  sends nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vRecur
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.attendance.service import AttendanceService, minutes
from podium.domain.conferences.recurrence import parse
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.room_urls import RoomUrls
from podium.domain.conferences.roster import LEADING
from podium.domain.conferences.series import is_instance, is_master
from podium.domain.conferences.timing import FIRST_YEAR, LAST_YEAR, end_of, local, zone_of
from podium.domain.hosts.repository import HostRepository
from podium.domain.outbox.service import Attachment, enqueue_email
from podium.domain.participants.repository import ParticipantRepository
from podium.kit.clock import utcnow
from podium.kit.links import Links
from podium.models.conference import Conference
from podium.models.participant import Participant
from podium.models.tenancy import Host

__all__ = ["INVITATIONS", "REMINDERS", "SUMMARIES", "TRANSCRIPTIONS", "ConferenceEmails"]

# The host's disable_emails keys (hosts/schemas.py DISABLE_EMAIL_KEYS), one per kind of email.
INVITATIONS = "conference_invitations"
REMINDERS = "conference_reminders"
SUMMARIES = "conference_summaries"
TRANSCRIPTIONS = "transcription_summaries"

PRODID = "-//Podium//Conferences//EN"
ICS_NAME = "invite.ics"
EXCERPT_MAX = 2000
WHEN_FORMAT = "%a %d %b %Y %H:%M"


@dataclass(frozen=True)
class Recipient:
    """Someone an email goes to, with the link that lets them in (None: none to give)."""

    email: str
    name: str
    link: str | None
    chair: bool = False


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def _dated(conference: Conference) -> bool:
    """Whether the conference has a start a calendar can hold (a LiveMinutes ``time`` may name any
    year; Iotum starts are kept within these)."""
    start = conference.starts_at
    return start is not None and FIRST_YEAR < start.year < LAST_YEAR


class ConferenceEmails:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.links = Links(settings)
        self.conferences = ConferenceRepository(session)
        self.participants = ParticipantRepository(session)
        self.hosts = HostRepository(session)

    # --- invitations ---------------------------------------------------------------------------

    def announce(self, conference: Conference) -> None:
        """Bring everyone invited up to date with the conference as it is now: the first invitation
        after it is scheduled, an updated one (SEQUENCE + 1) after a change of what it shows, the
        current one to whoever was invited since, a cancellation to whoever was uninvited.

        A series' instance is announced on its own only once it differs from its occurrence of the
        series (an override of the master's event); until then the master's invitation covers it.
        """
        if not self._announceable(conference):
            return
        digest = self._digest(conference)
        known = conference.calendar_digest or self._series_digest(conference)
        first, changed = known is None, known is not None and digest != known
        if changed:
            conference.calendar_sequence = self._next_sequence(conference)
        if first or changed:
            conference.calendar_digest = digest
        if is_instance(conference) and conference.calendar_digest is None:
            return  # still just an occurrence of the series
        self._tell(conference, first=first, changed=changed, anyone_invited=True)

    def stamp_made(self, conference: Conference) -> None:
        """A conference about to be inserted: what its invitation shows goes in with its row, so
        the row is not updated again just after (``announce_made`` follows the insert)."""
        if self._announceable(conference):
            conference.calendar_digest = self._digest(conference)

    def announce_made(self, conference: Conference) -> None:
        """``announce`` for a conference just inserted (``stamp_made``): nobody is invited yet, so
        only its meeting host can be told."""
        if conference.calendar_digest is not None:
            self._tell(conference, first=True, changed=False, anyone_invited=False)

    def _announceable(self, conference: Conference) -> bool:
        return conference.deleted_at is None and not self._over(conference)

    def _tell(self, conference: Conference, *, first: bool, changed: bool, anyone_invited: bool) -> None:
        if self._disabled(conference, INVITATIONS):
            return
        if (first or changed) and self._starts_soon(conference):
            conference.reminder_sent_for = conference.starts_at  # the invitation is the reminder
        sequence = conference.calendar_sequence
        holders = self._holders(conference) if is_instance(conference) else set()
        for participant in self.participants.for_conference(conference.id) if anyone_invited else ():
            if not participant.email:
                continue
            if participant.deleted_at is not None:
                if participant.calendar_sequence is not None:
                    self._send_cancellation(conference, self._recipient(conference, participant))
                    participant.calendar_sequence = None
                continue
            if participant.calendar_sequence == sequence:
                continue  # holds the invitation as it is
            if not _dated(conference) and participant.calendar_sequence is None:
                continue  # no start and never asked to be emailed (Boomstream without notifyEmail)
            update = self._holds(participant, holders)
            self._send_invitation(conference, self._recipient(conference, participant), update=update)
            participant.calendar_sequence = sequence
        host = self._meeting_host(conference)
        if host is not None and (first or changed):
            self._send_invitation(conference, host, update=changed)

    def invited_with_link(
        self, conference: Conference, participant: Participant, link: str, valid_seconds: int
    ) -> None:
        """A Boomstream invitation whose client asked for an email (``notifyEmail``): its signed link
        (with the calendar file when the conference has a start); from then on the participant is told
        of changes and of the cancellation. The client asked for this email: the organising host's
        ``disable_emails`` does not hold it back."""
        recipient = Recipient(participant.email, participant.name, link, participant.role in LEADING)
        body = (
            f"Hello {participant.name},\n\n"
            f'You are invited to "{conference.title}" as {participant.role.value}.\n'
            f"Join here: {link}\n\n"
            f"This link is valid for {valid_seconds // 60} minutes.\n"
        )
        enqueue_email(
            self.session,
            to=participant.email,
            subject=f"Invitation: {conference.title or 'conference'}",
            body=body,
            attachments=self._ics(conference, recipient, "REQUEST"),
        )
        participant.calendar_sequence = conference.calendar_sequence

    def cancelled(self, conference: Conference) -> None:
        """The conference was cancelled (or deleted): whoever holds its invitation gets the
        cancellation. A series' master cancels the whole series; an instance, its occurrence. A
        conference that is over is not cancelled by email (deleting it is tidying up)."""
        if self._over(conference) or self._disabled(conference, INVITATIONS):
            return
        conference.calendar_sequence = self._next_sequence(conference)
        holders = self._holders(conference)
        for participant in self.participants.for_conference(conference.id):
            if participant.deleted_at is None and participant.email and self._holds(participant, holders):
                self._send_cancellation(conference, self._recipient(conference, participant))
                participant.calendar_sequence = None
        if is_master(conference):
            # Occurrences announced on their own reach people the series' invitation did not.
            for instance in self.conferences.series(conference.id):
                if instance.id == conference.id or instance.calendar_digest is None:
                    continue
                for participant in self.participants.for_conference(instance.id):
                    if participant.calendar_sequence is None or participant.deleted_at is not None:
                        continue
                    if participant.email.lower() not in holders:
                        self._send_cancellation(instance, self._recipient(instance, participant))
                    participant.calendar_sequence = None
        host = self._meeting_host(conference)
        if host is not None:
            self._send_cancellation(conference, host)
        self.session.flush()

    def uninvited(self, conference: Conference, participant: Participant) -> None:
        """One participant was removed: if they hold the invitation, they get its cancellation."""
        if participant.calendar_sequence is None or not participant.email:
            return
        if not self._over(conference) and not self._disabled(conference, INVITATIONS):
            self._send_cancellation(conference, self._recipient(conference, participant))
        participant.calendar_sequence = None
        self.session.flush()

    # --- reminders -----------------------------------------------------------------------------

    def send_due_reminders(self) -> int:
        """Remind everyone invited to a conference that starts within ``PODIUM_REMINDER_MINUTES``,
        once per start (a conference moved since its reminder is reminded of its new time). Called
        periodically by the outbox worker; returns how many reminders were queued."""
        now = utcnow()
        window = timedelta(minutes=self.settings.reminder_minutes)
        queued = 0
        for conference in self.conferences.due_for_reminder(now, now + window):
            start = conference.starts_at
            if start is None or not self.conferences.claim_reminder(conference.id, start):
                continue  # another worker took it
            conference.reminder_sent_for = start
            if self._disabled(conference, REMINDERS):
                continue
            recipients = [
                self._recipient(conference, p)
                for p in self.participants.for_conference(conference.id)
                if p.deleted_at is None and p.email
            ]
            host = self._meeting_host(conference)
            if host is not None:
                recipients.append(host)
            for recipient in recipients:
                self._send_reminder(conference, recipient, now)
                queued += 1
        self.session.flush()
        return queued

    # --- after the meeting ---------------------------------------------------------------------

    def summary(
        self, conference: Conference, recording_links: Sequence[tuple[str, str]] | None = None
    ) -> None:
        """The host's summary of a conference that ended: who came, from when to when, for how many
        minutes, the recordings (``recording_links``: (label, URL) pairs) and the summary page.
        Nothing is sent for a conference nobody came to, or without a host to tell."""
        host = self._host_recipient(conference)
        if host is None or self._disabled(conference, SUMMARIES):
            return
        usage = AttendanceService(self.session).usage([conference])[0]
        if not usage.attendances:
            return
        zone = zone_of(conference)
        now = utcnow()
        title = self._title(conference)
        first, last = usage.first_join(), usage.last_leave() or conference.ended_at or now
        lines = [f"Hello {host.name},", "", f'Here is what happened in "{title}".', ""]
        if first is not None:
            lines.append(f"Held: {self._span(first, last, zone)} ({conference.time_zone or 'UTC'})")
        lines += [
            f"People: {usage.total_participants()}",
            f"Participant minutes: {usage.total_minutes(now)}",
            "",
            "Who came:",
        ]
        for attendance in sorted(usage.attendances, key=lambda a: (a.joined_at, a.id)):
            who = attendance.name or attendance.email or "Guest"
            if attendance.email and attendance.name:
                who = f"{attendance.name} <{attendance.email}>"
            end = attendance.left_at or last
            lines.append(
                f"- {who}: {self._span(attendance.joined_at, end, zone)}, {minutes(attendance, now)} min"
            )
        if recording_links:
            lines += ["", "Recordings:"]
            lines += [f"- {label}: {url}" for label, url in recording_links]
        if conference.host_id is not None:
            lines += ["", f"Meeting summary: {self.links.conference_summary(conference.id)}"]
        enqueue_email(self.session, to=host.email, subject=f"Summary: {title}", body="\n".join(lines) + "\n")

    def summary_of(
        self, conference_id: int, recording_links: Sequence[tuple[str, str]] | None = None
    ) -> None:
        """``summary`` by the conference's id (the outbox job queued when a conference stops)."""
        conference = self.conferences.by_id(conference_id)
        if conference is not None:
            self.summary(conference, recording_links)

    def transcription_summary(self, conference: Conference, transcript_text_excerpt: str, link: str) -> None:
        """Tell the host a transcript of the conference is ready: its beginning and where to read it
        all. Called by the transcription pipeline once a transcript is published."""
        host = self._host_recipient(conference)
        if host is None or self._disabled(conference, TRANSCRIPTIONS):
            return
        title = self._title(conference)
        excerpt = transcript_text_excerpt.strip()
        if len(excerpt) > EXCERPT_MAX:
            excerpt = excerpt[:EXCERPT_MAX].rstrip() + " …"
        lines = [f"Hello {host.name},", "", f'The transcript of "{title}" is ready.', "", f"Read it: {link}"]
        if excerpt:
            lines += ["", "It begins:", "", excerpt]
        if conference.host_id is not None:
            lines += ["", f"Meeting summary: {self.links.conference_summary(conference.id)}"]
        enqueue_email(
            self.session, to=host.email, subject=f"Transcript ready: {title}", body="\n".join(lines) + "\n"
        )

    # --- who, and with which link --------------------------------------------------------------

    def _host(self, conference: Conference) -> Host | None:
        if conference.host_id is None:
            return None
        host = self.hosts.by_id(conference.host_id)
        return host if host is not None and host.deleted_at is None else None

    def _disabled(self, conference: Conference, key: str) -> bool:
        """Whether the organising host turned this kind of email off (``disable_emails``)."""
        host = self._host(conference)
        if host is None:
            return False
        disabled = (host.settings or {}).get("disable_emails") or {}
        return bool(disabled.get(key, False))

    def _meeting_host(self, conference: Conference) -> Recipient | None:
        """A meeting's host known only by the email its client gave (LiveMinutes ``hostemail``), with
        the host URL; invited when the meeting has a start."""
        if conference.host_id is not None or not conference.host_email or not _dated(conference):
            return None
        return Recipient(
            conference.host_email,
            conference.host_nickname or conference.host_email,
            self.links.personal(conference.host_token),
            chair=True,
        )

    def _host_recipient(self, conference: Conference) -> Recipient | None:
        """Whoever a summary goes to: the organising host, else the meeting's host email."""
        host = self._host(conference)
        if host is not None and host.email:
            return Recipient(host.email, host.name or host.email, None, chair=True)
        if conference.host_id is None and conference.host_email:
            return Recipient(conference.host_email, conference.host_nickname or conference.host_email, None)
        return None

    def _recipient(self, conference: Conference, participant: Participant) -> Recipient:
        chair = participant.role in LEADING
        return Recipient(
            participant.email,
            participant.name or participant.email,
            self._join_link(conference, participant, chair),
            chair,
        )

    def _join_link(self, conference: Conference, participant: Participant, chair: bool) -> str | None:
        """An Iotum conference's room URL (with the moderator token for its host and moderators: it
        opens every occurrence of a series); a LiveMinutes participant's own URL; none otherwise (a
        Boomstream invitation's signed link is given once, when it is made)."""
        if conference.host_id is not None:
            room = RoomUrls(self.settings).of(conference)
            if chair and conference.moderator_token:
                return self.links.moderator_room(room, conference.moderator_token)
            return room
        if participant.external_id is not None:
            return self.links.personal(participant.url_token)
        return None

    def _holders(self, conference: Conference) -> set[str]:
        """The emails that hold the invitation that covers this conference: its own participants'
        and, for an occurrence of a series, those of the series' invitation."""
        master = self._master(conference) if is_instance(conference) else None
        holders = set()
        for source in (conference, master):
            if source is not None:
                holders |= {
                    p.email.lower()
                    for p in self.participants.for_conference(source.id)
                    if p.calendar_sequence is not None and p.email
                }
        return holders

    @staticmethod
    def _holds(participant: Participant, holders: set[str]) -> bool:
        return participant.calendar_sequence is not None or participant.email.lower() in holders

    def _master(self, conference: Conference) -> Conference | None:
        if conference.master_id is None:
            return None
        return conference if is_master(conference) else self.conferences.by_id(conference.master_id)

    def _next_sequence(self, conference: Conference) -> int:
        """The SEQUENCE of a revision: one more than the last (an occurrence of a series, one more
        than the series' too)."""
        floor = conference.calendar_sequence
        if is_instance(conference):
            master = self._master(conference)
            if master is not None:
                floor = max(floor, master.calendar_sequence)
        return floor + 1

    @staticmethod
    def _over(conference: Conference) -> bool:
        """Ended before now (one stopped by its own deletion is not), or past its scheduled end."""
        if conference.ended_at is not None and conference.ended_at != conference.deleted_at:
            return True
        return _dated(conference) and end_of(conference) <= utcnow()

    def _starts_soon(self, conference: Conference) -> bool:
        if conference.starts_at is None or not _dated(conference):
            return False
        now = utcnow()
        return now < conference.starts_at <= now + timedelta(minutes=self.settings.reminder_minutes)

    # --- what an invitation shows ---------------------------------------------------------------

    def _facts(self, conference: Conference, start: datetime | None, source: Conference) -> list[object]:
        """What an invitation shows, from ``source``'s options and the given start."""
        return [
            source.title,
            source.description,
            start.isoformat() if start else None,
            source.duration_minutes,
            source.time_zone,
            source.schedule if is_master(conference) else None,
            source.access_code,
            source.secure_url,
            source.security_pin,
        ]

    @staticmethod
    def _hash(facts: list[object]) -> str:
        return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()

    def _digest(self, conference: Conference) -> str:
        return self._hash(self._facts(conference, conference.starts_at, conference))

    def _series_digest(self, conference: Conference) -> str | None:
        """For an instance never announced on its own: its occurrence as the series shows it."""
        if not is_instance(conference):
            return None
        master = self._master(conference)
        if master is None:
            return None
        return self._hash(self._facts(conference, conference.occurrence_at or conference.starts_at, master))

    @staticmethod
    def _title(conference: Conference) -> str:
        """The title on one line (it goes into subjects, where a line break is not allowed)."""
        return " ".join(conference.title.split()) or "Meeting"

    def _when(self, conference: Conference) -> str:
        assert conference.starts_at is not None
        zone = zone_of(conference)
        start, end = local(conference.starts_at, zone), local(end_of(conference), zone)
        until = end.strftime("%H:%M") if end.date() == start.date() else end.strftime(WHEN_FORMAT)
        return f"{start.strftime(WHEN_FORMAT)}–{until} ({conference.time_zone or 'UTC'})"

    @staticmethod
    def _span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
        first, last = local(start, zone), local(end, zone)
        until = last.strftime("%H:%M") if last.date() == first.date() else last.strftime("%Y-%m-%d %H:%M")
        return f"{first.strftime('%Y-%m-%d %H:%M')}–{until}"

    def _details(self, conference: Conference, recipient: Recipient) -> list[str]:
        """The lines every invitation and reminder carries: when, how often, where to join."""
        lines = []
        if _dated(conference):
            lines.append(f"When: {self._when(conference)}")
        if conference.schedule and is_master(conference):
            lines.append(f"Repeats: {conference.schedule} (see the calendar file)")
        return lines + self._joining(conference, recipient)

    @staticmethod
    def _joining(conference: Conference, recipient: Recipient) -> list[str]:
        lines = []
        if recipient.link:
            lines.append(f"Join: {recipient.link}")
        if conference.security_pin and not recipient.chair:
            lines.append(f"Security PIN: {conference.security_pin}")
        return lines

    def _send_invitation(self, conference: Conference, recipient: Recipient, *, update: bool) -> None:
        title = self._title(conference)
        when = f" @ {self._when(conference)}" if _dated(conference) else ""
        organiser_email, organiser = self._organiser(conference)
        if update:
            lead = f'"{title}" has changed; here is the invitation as it is now.'
        elif recipient.email.lower() == organiser_email.lower():
            lead = f'Your meeting "{title}" is scheduled.'
        else:
            lead = f'{organiser} invites you to "{title}".'
        lines = [f"Hello {recipient.name},", "", lead, "", *self._details(conference, recipient)]
        if conference.description:
            lines += ["", conference.description]
        if _dated(conference):
            lines += ["", f"The attached {ICS_NAME} puts it in your calendar."]
        elif recipient.link is None:
            lines += ["", "Join with the link of your invitation."]
        enqueue_email(
            self.session,
            to=recipient.email,
            subject=f"{'Updated invitation' if update else 'Invitation'}: {title}{when}",
            body="\n".join(lines) + "\n",
            attachments=self._ics(conference, recipient, "REQUEST"),
        )

    def _send_cancellation(self, conference: Conference, recipient: Recipient) -> None:
        title = self._title(conference)
        when = f" @ {self._when(conference)}" if _dated(conference) else ""
        lines = [f"Hello {recipient.name},", "", f'"{title}"{when} has been cancelled.']
        if _dated(conference):
            lines += ["", f"The attached {ICS_NAME} takes it off your calendar."]
        enqueue_email(
            self.session,
            to=recipient.email,
            subject=f"Cancelled: {title}{when}",
            body="\n".join(lines) + "\n",
            attachments=self._ics(conference, recipient, "CANCEL"),
        )

    def _send_reminder(self, conference: Conference, recipient: Recipient, now: datetime) -> None:
        assert conference.starts_at is not None
        title = self._title(conference)
        left = max(1, round((conference.starts_at - now).total_seconds() / 60))
        lines = [
            f"Hello {recipient.name},",
            "",
            f'"{title}" starts in {left} minute{"s" if left != 1 else ""}.',
            "",
            *self._details(conference, recipient),
        ]
        start = local(conference.starts_at, zone_of(conference)).strftime("%H:%M")
        enqueue_email(
            self.session,
            to=recipient.email,
            subject=f"Reminder: {title} starts at {start} ({conference.time_zone or 'UTC'})",
            body="\n".join(lines) + "\n",
        )

    # --- the calendar file ---------------------------------------------------------------------

    def _organiser(self, conference: Conference) -> tuple[str, str]:
        """(email, name) of whoever organises: the host, the meeting's host email, else Podium."""
        host = self._host(conference)
        if host is not None and host.email:
            return host.email, host.name or host.email
        if conference.host_email:
            return conference.host_email, conference.host_nickname or conference.host_email
        name, address = parseaddr(self.settings.mail_from)
        return address, name or address

    def _uid(self, conference: Conference) -> str:
        """Stable per conference; a series' instances share their master's (they are occurrences)."""
        root = conference.master_id if conference.master_id is not None else conference.id
        domain = urlparse(self.settings.base_url).hostname or "podium.invalid"
        return f"conference-{root}@{domain}"

    def _ics(self, conference: Conference, recipient: Recipient, method: str) -> list[Attachment]:
        """The invitation (``REQUEST``) or its cancellation (``CANCEL``) as an RFC 5545 calendar with
        one event; none for a conference without a start."""
        if conference.starts_at is None or not _dated(conference):
            return []
        zone = zone_of(conference)
        master = self._master(conference)
        # A series in a zone with daylight saving keeps its wall-clock time: written in that zone
        # (with its VTIMEZONE); everything else in UTC.
        series_zone = master is not None and master.schedule is not None and zone.key != "UTC"
        tz: ZoneInfo | None = zone if series_zone else None

        def moment(value: datetime) -> datetime:
            aware = _aware(value)
            return aware.astimezone(tz) if tz is not None else aware

        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", method)
        event = Event()
        event.add("uid", self._uid(conference))
        event.add("dtstamp", _aware(utcnow()))
        event.add("sequence", conference.calendar_sequence)
        event.add("dtstart", moment(conference.starts_at))
        event.add("dtend", moment(end_of(conference)))
        if is_instance(conference):
            event.add("recurrence-id", moment(conference.occurrence_at or conference.starts_at))
        elif is_master(conference) and conference.schedule:
            event.add("rrule", vRecur.from_ical(self._rrule(conference, zone)))
        if is_master(conference) and conference.schedule and method == "REQUEST":
            skipped = [
                moment(i.occurrence_at or i.starts_at)
                for i in self.conferences.series(conference.id)
                if i.id != conference.id and i.cancelled_at is not None and i.starts_at is not None
            ]
            if skipped:
                event.add("exdate", skipped)
        event.add("summary", self._title(conference))
        description = [conference.description] if conference.description else []
        event.add("description", "\n\n".join([*description, *self._joining(conference, recipient)]))
        if recipient.link:
            event.add("url", recipient.link)
            event.add("location", recipient.link)
        email, name = self._organiser(conference)
        organizer = vCalAddress(f"mailto:{email}")
        organizer.params["cn"] = name
        event.add("organizer", organizer)
        attendee = vCalAddress(f"mailto:{recipient.email}")
        attendee.params["cn"] = recipient.name
        attendee.params["role"] = "CHAIR" if recipient.chair else "REQ-PARTICIPANT"
        attendee.params["partstat"] = "NEEDS-ACTION"
        attendee.params["rsvp"] = "FALSE"
        event.add("attendee", attendee)
        event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
        if tz is not None:
            first = local(conference.starts_at, zone).date() - timedelta(days=1)
            calendar.add_missing_timezones(first_date=first, last_date=date(first.year + 10, 12, 31))
        content_type = f"text/calendar; method={method}"
        return [Attachment(ICS_NAME, content_type, calendar.to_ical().decode())]

    @staticmethod
    def _rrule(conference: Conference, zone: ZoneInfo) -> str:
        """The series' rule as RFC 5545 wants it beside a date-time start: its inclusive UNTIL date
        becomes the last second of that day in the conference's zone, in UTC."""
        assert conference.schedule is not None
        schedule = parse(conference.schedule)
        text = schedule.text
        if schedule.until is not None:
            day = datetime.strptime(schedule.until, "%Y%m%d").replace(hour=23, minute=59, second=59)
            until = day.replace(tzinfo=zone).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            text = text.replace(f"UNTIL={schedule.until}", f"UNTIL={until}")
        return text
