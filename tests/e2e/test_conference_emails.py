"""Conference emails (issue #13) through the real app and database: invitations with an RFC 5545
calendar file on Iotum create, updates that bump SEQUENCE, cancellations (METHOD:CANCEL), series
(RRULE, occurrences), reminders once per start, the host's summary after the end, the transcript note,
each skipped by its ``disable_emails`` key set through ``host/update``; Boomstream ``notifyEmail``
invitees and LiveMinutes meetings with a time. Emails are read back from the Maildir the outbox
worker writes."""

from __future__ import annotations

import email
import mailbox
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from fastapi.testclient import TestClient
from icalendar import Calendar, Event

from podium.domain.attendance.service import AttendanceService
from podium.domain.conferences.emails import ConferenceEmails
from podium.domain.outbox.service import Attachment, enqueue_email
from podium.domain.outbox.worker import OutboxWorker
from podium.domain.participants.repository import ParticipantRepository
from podium.kit.clock import clock, utcnow
from podium.kit.db import make_engine, make_sessionmaker
from podium.models.conference import Conference
from tests.conftest import make_settings
from tests.edges.boomstream.helpers import boom, ok
from tests.fixtures.iotum import World, api, build_world
from tests.fixtures.processes import free_port
from tests.fixtures.tenants import TenantFactory

BASE = "http://podium.test"
KINDS = ("conference_invitations", "conference_reminders", "conference_summaries", "transcription_summaries")


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    yield world


def _address(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}@example.com"


def deliver(client: TestClient) -> None:
    """What the worker thread does: jobs first (a summary is a job), then the mail they queued."""
    worker = client.app.state.outbox_worker  # type: ignore[attr-defined]
    worker.deliver_due()
    worker.deliver_due()


def _delivered_order(key: str) -> tuple[int, ...]:
    """Maildir names start with the delivery's second, microsecond and a per-process counter."""
    match = re.match(r"(\d+)\.M(\d+)P\d+Q(\d+)", key)
    assert match, key
    return tuple(int(g) for g in match.groups())


def inbox(world_or_settings: Any, to: str) -> list[EmailMessage]:
    """The messages to ``to``, in the order they were delivered."""
    settings = getattr(world_or_settings, "settings", world_or_settings)
    box = mailbox.Maildir(settings.maildir_path, create=False)
    found = []
    for key in sorted(box.keys(), key=_delivered_order):
        parsed = email.message_from_bytes(box.get_bytes(key), policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        if parsed["To"] == to:
            found.append(parsed)
    return found


def subjects(world: World, to: str) -> list[str]:
    return [str(m["Subject"]) for m in inbox(world, to)]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def strict_ics(text: str) -> Calendar:
    """Parse an .ics after checking what RFC 5545 asks of its lines: CRLF ends, at most 75 octets."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75, line
    calendar = Calendar.from_ical(text)
    assert isinstance(calendar, Calendar)
    assert (calendar["VERSION"], calendar["PRODID"]) == ("2.0", "-//Podium//Conferences//EN")
    return calendar


def invitation(message: EmailMessage) -> tuple[str, Event]:
    """The METHOD and the one event of the message's calendar attachment."""
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    assert part.get_filename() == "invite.ics"
    calendar = strict_ics(part.get_payload(decode=True).decode())  # type: ignore[union-attr]
    assert part.get_param("method") == calendar["METHOD"]
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return str(calendar["METHOD"]), events[0]


def _start(minutes: int = 0, days: int = 10) -> datetime:
    moment = utcnow() + timedelta(days=days, minutes=minutes)
    return moment.replace(second=0, microsecond=0)


def create(client: TestClient, world: World, host: int, start: datetime, **fields: Any) -> dict[str, Any]:
    body = {
        "host_id": host,
        "subject": "Quarterly review",
        "agenda": "Numbers; plans, and questions",
        "start": start.strftime("%Y-%m-%d %H:%M:%S"),
        "time_zone": "UTC",
        "duration": 45,
        **fields,
    }
    response = api(client, "conference/create", world.home.ra, **body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@dataclass
class People:
    host: int
    host_email: str
    mod: str
    guest: str


def people(world: World, **host_fields: Any) -> People:
    host_email = _address("host")
    host = world.new_host(
        world.company_id, plan_slug="large_plan", email=host_email, name="Hope Host", **host_fields
    )
    return People(host, host_email, _address("mod"), _address("guest"))


def test_invitation_on_create_carries_a_calendar_file(client: TestClient, world: World) -> None:
    who = people(world)
    start = _start()
    conference = create(
        client,
        world,
        who.host,
        start,
        participant_emails=[{"email": who.mod, "moderator": True}, {"email": who.guest}],
    )
    deliver(client)
    for address in (who.host_email, who.mod, who.guest):
        messages = inbox(world, address)
        assert len(messages) == 1, address
        assert str(messages[0]["Subject"]).startswith("Invitation: Quarterly review @ ")
    guest_mail = inbox(world, who.guest)[0]
    method, event = invitation(guest_mail)
    assert method == "REQUEST"
    assert str(event["UID"]) == f"conference-{conference['conference_id']}@podium.test"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == start.replace(tzinfo=UTC)
    assert event.decoded("DTEND") == (start + timedelta(minutes=45)).replace(tzinfo=UTC)
    assert event.to_ical().decode().count("DTSTART:") == 1  # written in UTC (…Z), no TZID
    assert str(event["SUMMARY"]) == "Quarterly review"
    assert str(event["URL"]) == conference["room_url"]
    assert conference["room_url"] in str(event["DESCRIPTION"])
    assert "Numbers; plans, and questions" in str(event["DESCRIPTION"])
    assert str(event["ORGANIZER"]) == f"mailto:{who.host_email}"
    assert str(event["ATTENDEE"]) == f"mailto:{who.guest}"
    assert event["ATTENDEE"].params["ROLE"] == "REQ-PARTICIPANT"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert conference["room_url"] in body_of(guest_mail)
    # Moderators (and the host) get the room URL that admits them as moderators.
    _, mod_event = invitation(inbox(world, who.mod)[0])
    assert (
        str(mod_event["URL"]) == f"{conference['room_url']}?moderator_token={conference['moderator_token']}"
    )
    assert mod_event["ATTENDEE"].params["ROLE"] == "CHAIR"
    assert str(mod_event["UID"]) == str(event["UID"])


def test_update_bumps_sequence_and_cancel_sends_method_cancel(client: TestClient, world: World) -> None:
    who = people(world)
    conference = create(client, world, who.host, _start(), participant_emails=[{"email": who.guest}])
    conference_id = conference["conference_id"]
    ra = world.home.ra
    moved = _start(days=11)
    response = api(
        client,
        "conference/update",
        ra,
        conference_id=conference_id,
        start=moved.strftime("%Y-%m-%d %H:%M:%S"),
    )
    assert response.status_code == 200, response.text
    deliver(client)
    first, updated = inbox(world, who.guest)
    assert str(updated["Subject"]).startswith("Updated invitation: Quarterly review @ ")
    _, before = invitation(first)
    _, after = invitation(updated)
    assert (int(before["SEQUENCE"]), int(after["SEQUENCE"])) == (0, 1)
    assert str(before["UID"]) == str(after["UID"])
    assert after.decoded("DTSTART") == moved.replace(tzinfo=UTC)

    # What the invitation does not show changes nothing; a new subject is an update.
    api(client, "conference/update", ra, conference_id=conference_id, mute_mode="presentation")
    deliver(client)
    assert len(inbox(world, who.guest)) == 2
    api(client, "conference/update", ra, conference_id=conference_id, subject="Quarterly review (moved)")
    deliver(client)
    _, renamed = invitation(inbox(world, who.guest)[-1])
    assert (int(renamed["SEQUENCE"]), str(renamed["SUMMARY"])) == (2, "Quarterly review (moved)")

    # A new invitee gets the invitation as it is; one dropped gets a cancellation; the rest nothing.
    newcomer = _address("newcomer")
    api(
        client,
        "conference/update",
        ra,
        conference_id=conference_id,
        participant_emails=[{"email": newcomer}],
    )
    deliver(client)
    (joined,) = inbox(world, newcomer)
    assert str(joined["Subject"]).startswith("Invitation: ")
    assert int(invitation(joined)[1]["SEQUENCE"]) == 2
    dropped = inbox(world, who.guest)[-1]
    assert str(dropped["Subject"]).startswith("Cancelled: ")
    assert invitation(dropped)[0] == "CANCEL"
    assert len(inbox(world, who.host_email)) == 3  # invitation, moved, renamed

    assert api(client, "conference/cancel", ra, conference_id=conference_id).status_code == 200
    deliver(client)
    for address in (who.host_email, newcomer):
        cancelled = inbox(world, address)[-1]
        assert str(cancelled["Subject"]).startswith("Cancelled: Quarterly review (moved) @ ")
        method, event = invitation(cancelled)
        assert method == "CANCEL"
        assert str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == f"conference-{conference_id}@podium.test"
        assert int(event["SEQUENCE"]) == 3
    assert len(inbox(world, who.guest)) == 4  # no second cancellation for whoever was dropped


def test_series_invitation_has_its_rule_and_occurrences_are_cancelled_alone(
    client: TestClient, world: World
) -> None:
    who = people(world)
    # Every Tuesday of next March at 09:00 in Toronto: the first before daylight saving starts (the
    # second Sunday), the last after it.
    year = utcnow().year + 1
    tuesdays = [date(year, 3, d) for d in range(1, 32) if date(year, 3, d).weekday() == 1]
    toronto = ZoneInfo("America/Toronto")

    def nine(day: date, hour: int = 9) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=toronto).astimezone(UTC)

    conference = create(
        client,
        world,
        who.host,
        datetime.combine(tuesdays[0], time(9)),
        time_zone="America/Toronto",
        participant_emails=[{"email": who.guest}],
        schedule=f"FREQ=WEEKLY;BYDAY=TU;UNTIL={tuesdays[-1]:%Y%m%d}",
    )
    master_id = conference["conference_id"]
    deliver(client)
    (mail,) = inbox(world, who.guest)  # one invitation for the whole series
    _, event = invitation(mail)
    rule = event["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["TU"]
    # UNTIL is the last second of that day in the conference's zone, in UTC.
    assert rule["UNTIL"] == [nine(tuesdays[-1], 23) + timedelta(minutes=59, seconds=59)]
    # A series keeps its wall-clock time across daylight saving: written in its zone.
    assert event.decoded("DTSTART") == nine(tuesdays[0])
    assert event["DTSTART"].params["TZID"] == "America/Toronto"
    assert nine(tuesdays[0]).hour != nine(tuesdays[-1]).hour  # the offset did change in between
    listed = api(client, "conference/fetch_all", world.home.ra, host_id=who.host).json()
    instances = sorted(
        (c for c in listed if c.get("master_id") == master_id and c["conference_id"] != master_id),
        key=lambda c: c["start"],
    )
    assert len(instances) == len(tuesdays) - 1
    last = instances[-1]
    assert last["start"] == f"{tuesdays[-1]} 09:00:00"

    # Cancelling one occurrence tells the series' invitees, for that occurrence only.
    api(client, "conference/cancel", world.home.ra, conference_id=last["conference_id"])
    deliver(client)
    cancelled = inbox(world, who.guest)[-1]
    method, event = invitation(cancelled)
    assert method == "CANCEL"
    assert str(event["UID"]) == f"conference-{master_id}@podium.test"
    assert event.decoded("RECURRENCE-ID") == nine(tuesdays[-1])
    # Moving another one sends that occurrence on its own, still known by its original time.
    moved = instances[0]
    api(
        client,
        "conference/update",
        world.home.ra,
        conference_id=moved["conference_id"],
        start=f"{tuesdays[1]} 11:00:00",
    )
    deliver(client)
    override_mail = inbox(world, who.guest)[-1]
    assert str(override_mail["Subject"]).startswith("Updated invitation: ")
    _, override = invitation(override_mail)
    assert str(override["UID"]) == f"conference-{master_id}@podium.test"
    assert override.decoded("RECURRENCE-ID") == nine(tuesdays[1])
    assert override.decoded("DTSTART") == nine(tuesdays[1], 11)
    assert int(override["SEQUENCE"]) == 1
    # The series' next update names the cancelled occurrence as an exception.
    api(client, "conference/update", world.home.ra, conference_id=master_id, subject="Weekly sync")
    deliver(client)
    _, series = invitation(inbox(world, who.guest)[-1])
    assert str(series["SUMMARY"]) == "Weekly sync" and int(series["SEQUENCE"]) == 1
    assert [d.dt for d in series["EXDATE"].dts] == [nine(tuesdays[-1]).astimezone(toronto)]


def test_reminder_is_sent_once_per_start(client: TestClient, world: World) -> None:
    who = people(world)
    start = _start(minutes=40, days=0)
    conference = create(client, world, who.host, start, participant_emails=[{"email": who.guest}])
    worker = client.app.state.outbox_worker  # type: ignore[attr-defined]
    worker.send_reminders()  # 40 minutes before: too early
    deliver(client)
    assert [s.split(":")[0] for s in subjects(world, who.guest)] == ["Invitation"]
    clock.freeze(start - timedelta(minutes=10))
    worker.send_reminders()
    worker.send_reminders()
    deliver(client)
    for address in (who.guest, who.host_email):
        reminders = [m for m in inbox(world, address) if str(m["Subject"]).startswith("Reminder:")]
        assert len(reminders) == 1, address
    (reminder,) = [m for m in inbox(world, who.guest) if str(m["Subject"]).startswith("Reminder:")]
    assert str(reminder["Subject"]) == f"Reminder: Quarterly review starts at {start:%H:%M} (UTC)"
    text = body_of(reminder)
    assert "starts in 10 minutes" in text and conference["room_url"] in text
    clock.freeze(None)

    # Moved later: its new start is reminded of too.
    later = start + timedelta(hours=2)
    api(
        client,
        "conference/update",
        world.home.ra,
        conference_id=conference["conference_id"],
        start=later.strftime("%Y-%m-%d %H:%M:%S"),
    )
    clock.freeze(later - timedelta(minutes=5))
    worker.send_reminders()
    deliver(client)
    clock.freeze(None)
    reminders = [s for s in subjects(world, who.guest) if s.startswith("Reminder:")]
    assert reminders == [
        f"Reminder: Quarterly review starts at {start:%H:%M} (UTC)",
        f"Reminder: Quarterly review starts at {later:%H:%M} (UTC)",
    ]


def test_invitation_close_to_the_start_is_the_reminder(client: TestClient, world: World) -> None:
    who = people(world)
    start = _start(minutes=10, days=0)
    create(client, world, who.host, start, participant_emails=[{"email": who.guest}])
    client.app.state.outbox_worker.send_reminders()  # type: ignore[attr-defined]
    deliver(client)
    assert [s.split(":")[0] for s in subjects(world, who.guest)] == ["Invitation"]


def _attend(world: World, conference_id: int, email_address: str, minutes: int, *, offset: int = 0) -> None:
    with world.sessions() as session:
        conference = session.get(Conference, conference_id)
        assert conference is not None
        participant = ParticipantRepository(session).by_email(conference_id, email_address)
        joined = utcnow() - timedelta(minutes=minutes + offset)
        service = AttendanceService(session)
        attendance = service.record_join(conference, participant=participant, at=joined)
        session.flush()
        service.record_leave(attendance.id, joined + timedelta(minutes=minutes))
        session.commit()


def test_summary_after_the_end_lists_who_came(client: TestClient, world: World) -> None:
    who = people(world)
    response = api(
        client,
        "conference/create/reservationless",
        world.home.ra,
        host_id=who.host,
        subject="Stand-up",
        participant_emails=[{"email": who.guest}],
    )
    conference_id = response.json()["conference_id"]
    _attend(world, conference_id, who.host_email, 12, offset=1)
    _attend(world, conference_id, who.guest, 5)
    assert api(client, "conference/end", world.home.ra, conference_id=conference_id).status_code == 200
    deliver(client)
    (summary,) = [m for m in inbox(world, who.host_email) if str(m["Subject"]).startswith("Summary:")]
    assert str(summary["Subject"]) == "Summary: Stand-up"
    text = body_of(summary)
    assert "People: 2" in text and "Participant minutes: 17" in text
    assert re.search(r"- Hope Host <host-[0-9a-f]+@example\.com>: .*, 12 min", text), text
    assert re.search(rf"- [^:]+<{re.escape(who.guest)}>: .*, 5 min", text), text
    assert f"Meeting summary: {BASE}/conf/summary/{conference_id}" in text
    assert not [m for m in inbox(world, who.guest) if str(m["Subject"]).startswith("Summary:")]

    # The recordings part hands its links to the same summary.
    with world.sessions() as session:
        conference = session.get(Conference, conference_id)
        assert conference is not None
        links = [("Video (MP4)", f"{BASE}/recordings/1/meeting.mp4?token=t")]
        ConferenceEmails(session, world.settings).summary(conference, links)
        session.commit()
    deliver(client)
    text = body_of(inbox(world, who.host_email)[-1])
    assert f"Recordings:\n- Video (MP4): {BASE}/recordings/1/meeting.mp4?token=t" in text


def test_transcription_summary(client: TestClient, world: World) -> None:
    who = people(world)
    conference = create(client, world, who.host, _start())
    with world.sessions() as session:
        row = session.get(Conference, conference["conference_id"])
        assert row is not None
        ConferenceEmails(session, world.settings).transcription_summary(
            row, "Alice: good morning everyone. " * 200, f"{BASE}/recordings/7/transcript.txt?token=x"
        )
        session.commit()
    deliver(client)
    (note,) = [m for m in inbox(world, who.host_email) if str(m["Subject"]).startswith("Transcript")]
    assert str(note["Subject"]) == "Transcript ready: Quarterly review"
    text = body_of(note)
    assert f"Read it: {BASE}/recordings/7/transcript.txt?token=x" in text
    assert "Alice: good morning everyone." in text and text.count("good morning") < 100


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_skipped_by_its_disable_emails_key(client: TestClient, world: World, kind: str) -> None:
    who = people(world)
    response = api(client, "host/update", world.home.ra, host_id=who.host, disable_emails={kind: True})
    assert response.status_code == 200, response.text
    assert response.json()["disable_emails"][kind] is True
    start = _start(minutes=30, days=0)
    conference = create(client, world, who.host, start, participant_emails=[{"email": who.guest}])
    conference_id = conference["conference_id"]
    api(client, "conference/update", world.home.ra, conference_id=conference_id, subject="Renamed")
    clock.freeze(start - timedelta(minutes=5))
    client.app.state.outbox_worker.send_reminders()  # type: ignore[attr-defined]
    deliver(client)  # queued at the frozen time: due then
    clock.freeze(None)
    with world.sessions() as session:
        row = session.get(Conference, conference_id)
        assert row is not None
        ConferenceEmails(session, world.settings).transcription_summary(row, "Hello.", f"{BASE}/t")
        session.commit()
    _attend(world, conference_id, who.guest, 3)  # it ran: cancelling it stops it
    api(client, "conference/cancel", world.home.ra, conference_id=conference_id)
    deliver(client)
    sent = {s.split(":")[0] for s in subjects(world, who.host_email)}
    sent |= {s.split(":")[0] for s in subjects(world, who.guest)}
    expected = {
        "conference_invitations": {"Invitation", "Updated invitation", "Cancelled"},
        "conference_reminders": {"Reminder"},
        "conference_summaries": {"Summary"},
        "transcription_summaries": {"Transcript ready"},
    }
    everything = set().union(*expected.values())
    assert sent == everything - expected[kind]


def test_boomstream_invitees_asked_to_be_emailed_hear_of_changes(
    client: TestClient, tenants: TenantFactory
) -> None:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Board meeting"))["Code"]
    notified, quiet = _address("notified"), _address("quiet")
    ok(boom(client, "conference/invite", key, code=code, email=notified, notifyEmail="yes"))
    ok(boom(client, "conference/invite", key, code=code, email=quiet))
    ok(boom(client, "conference/update", key, code=code, title="Board meeting (Q3)"))
    ok(boom(client, "conference/update", key, code=code, folderCode="boards"))  # not shown: nothing
    ok(boom(client, "conference/delete", key, code=code))
    deliver(client)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    messages = inbox(settings, notified)
    assert [str(m["Subject"]) for m in messages] == [
        "Invitation: Board meeting",
        "Updated invitation: Board meeting (Q3)",
        "Cancelled: Board meeting (Q3)",
    ]
    assert not any(m.is_multipart() for m in messages)  # no start: no calendar file
    assert "Join with the link of your invitation." in body_of(messages[1])
    assert inbox(settings, quiet) == []


def test_a_new_conferences_invitation_is_what_it_was_created_with(
    client: TestClient, tenants: TenantFactory
) -> None:
    """A creation records what its invitation shows with its row (ConferenceEmails.stamp_made), from
    the row as stored, its defaults (time zone, secure URL) included: an update right after that
    changes nothing shown sends nothing, and one that changes the title sends the update."""
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Stand-up"))["Code"]
    notified = _address("standup")
    ok(boom(client, "conference/invite", key, code=code, email=notified, notifyEmail="yes"))
    ok(boom(client, "conference/update", key, code=code, folderCode="daily"))  # not shown
    ok(boom(client, "conference/update", key, code=code, title="Stand-up (new time)"))
    deliver(client)
    messages = inbox(client.app.state.settings, notified)  # type: ignore[attr-defined]
    assert [str(m["Subject"]) for m in messages] == [
        "Invitation: Stand-up",
        "Updated invitation: Stand-up (new time)",
    ]


def test_liveminutes_meeting_with_a_time(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    host, uma, ivo = _address("hana"), _address("uma"), _address("ivo")
    start = _start(days=3)

    def lm(method: str, **data: Any) -> dict[str, Any]:
        response = client.post(f"/liveminutes/{method}", data=data, auth=tenant.basic)
        body: dict[str, Any] = response.json()
        assert body["resultcode"] == 1, body
        return body

    created = lm(
        "createMeeting",
        meetingKey="weekly",
        hostid="h-1",
        title="Demo",
        time=start.strftime("%Y-%m-%d %H:%M:%S"),
        duration="30",
        hostnickname="Hana",
        hostemail=host,
    )
    added = lm("addParticipant", meetingKey="weekly", puid="u-1", nickname="Uma", email=uma)
    lm("addParticipant", meetingKey="weekly", puid="u-2", nickname="Ivo", email=ivo)
    lm("addParticipant", meetingKey="weekly", puid="u-3", nickname="No email")
    lm("cancelParticipant", meetingKey="weekly", puid="u-2")
    lm("cancelMeeting", meetingKey="weekly")
    deliver(client)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    host_mail = inbox(settings, host)
    assert [str(m["Subject"]).split(":")[0] for m in host_mail] == ["Invitation", "Cancelled"]
    _, event = invitation(host_mail[0])
    assert str(event["URL"]) == created["hostUrl"]
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=30)
    uma_mail = inbox(settings, uma)
    assert [str(m["Subject"]).split(":")[0] for m in uma_mail] == ["Invitation", "Cancelled"]
    assert str(invitation(uma_mail[0])[1]["URL"]) == added["participantUrl"]
    assert invitation(uma_mail[1])[0] == "CANCEL"
    assert [str(m["Subject"]).split(":")[0] for m in inbox(settings, ivo)] == ["Invitation", "Cancelled"]


class Sink(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


def test_attachments_go_out_over_smtp_and_old_payloads_still_send(world: World) -> None:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings = make_settings(
        world.settings.data_dir, world.settings.resolved_database_url, smtp_url=f"smtp://127.0.0.1:{port}"
    )
    worker = OutboxWorker(settings, make_sessionmaker(make_engine(settings.resolved_database_url)))
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    try:
        with worker.sessions() as session:
            plain = enqueue_email(session, to="plain@example.com", subject="Plain", body="Body")
            assert set(plain.payload) == {"to", "subject", "body"}  # as before
            enqueue_email(
                session,
                to="ics@example.com",
                subject="With file",
                body="See the file.",
                attachments=[Attachment("invite.ics", "text/calendar; method=CANCEL", ics)],
            )
            session.commit()
        worker.deliver_due()
    finally:
        controller.stop()
    by_to = {m["To"]: m for m in sink.messages}
    assert not by_to["plain@example.com"].is_multipart()
    sent = email.message_from_bytes(by_to["ics@example.com"].as_bytes(), policy=default_policy)
    assert isinstance(sent, EmailMessage)
    (part,) = sent.iter_attachments()
    assert (part.get_content_type(), part.get_param("method"), part.get_filename()) == (
        "text/calendar",
        "CANCEL",
        "invite.ics",
    )
    assert part.get_payload(decode=True) == ics.encode()
    with pytest.raises(ValueError):
        Attachment("x.bin", "application/octet-stream", "…")


def test_liveminutes_time_beyond_any_calendar_sends_no_invitation(
    client: TestClient, tenants: TenantFactory
) -> None:
    tenant = tenants()
    host = _address("far")
    for method, data in (
        (
            "createMeeting",
            {"meetingKey": "far", "hostid": "h", "time": "9999-12-31 23:59:59", "hostemail": host},
        ),
        ("addParticipant", {"meetingKey": "far", "puid": "p", "email": _address("farp")}),
        ("cancelMeeting", {"meetingKey": "far"}),
    ):
        response = client.post(
            f"/liveminutes/{method}", data={**data, "duration": "10080"}, auth=tenant.basic
        )
        assert response.json()["resultcode"] == 1, response.text
    deliver(client)
    assert inbox(client.app.state.settings, host) == []  # type: ignore[attr-defined]
