"""Iotum enterprise API, part 2: conferences, reports, drive, chat, webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.attendance.service import AttendanceService, minutes
from podium.domain.chat.service import ChatService
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.scheduling import SchedulingService, local
from podium.domain.contacts.service import ContactService
from podium.domain.drive.service import DriveService
from podium.domain.webhooks.service import WebhookService
from podium.edges.iotum import present
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint
from podium.kit import coerce
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput, NotFound
from podium.kit.links import Links
from podium.models.conference import Conference
from podium.models.tenancy import Host

PAGE = 10
T = TypeVar("T")
CONFERENCE_FIELDS = (
    "subject",
    "agenda",
    "start",
    "time_zone",
    "duration",
    "auto_record",
    "auto_stream",
    "auto_transcribe",
    "one_time_access_code",
    "secure_url",
    "host_initiated_recording",
    "security_pin",
    "mute_mode",
    "participants",
    "participant_emails",
    "participant_hosts",
    "moderators",
    "broadcast_stream_url",
    "schedule",
)


def _scheduling(call: Call) -> SchedulingService:
    return SchedulingService(call.ctx.session, call.ctx.settings)


def _fields(call: Call) -> dict[str, Any]:
    return {k: v for k, v in call.body.values.items() if k in CONFERENCE_FIELDS}


def _conference(call: Call) -> tuple[Conference, Host]:
    """The conference named by ``conference_id`` and its organiser, checked against the caller's scope."""
    conference = ConferenceRepository(call.ctx.session).by_id(call.body.id_("conference_id"))
    if conference is None or conference.deleted_at is not None or conference.host_id is None:
        raise NotFound("Conference not found")
    return conference, call.policy.host(conference.host_id)


def _answer(call: Call, conference: Conference) -> dict[str, Any]:
    return present.conference(_scheduling(call).view(conference))


def _page_of(call: Call, endpoint: str, items: Sequence[T]) -> tuple[list[T], dict[str, str] | None]:
    """Ten per page. The answer stays a JSON array (clients iterate on it); the next page, when there
    is one, is announced out of band: ``Link: <…?page=N>; rel="next"`` and ``X-Next-Page: N``."""
    raw = call.body.get("page")
    page = 1 if raw in (None, "") else coerce.to_int("page", raw)
    if page < 1:
        raise InvalidInput("page must be 1 or more", field="page")
    chunk = list(items[(page - 1) * PAGE : page * PAGE])
    if len(items) <= page * PAGE:
        return chunk, None
    following = page + 1
    link = Links(call.ctx.settings).iotum_page(endpoint, following)
    return chunk, {"Link": f'<{link}>; rel="next"', "X-Next-Page": str(following)}


# --- conferences ---------------------------------------------------------------------------------


def conference_create(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    conference = _scheduling(call).create(call.actor, host, _fields(call))
    return Answer(_answer(call, conference))


def conference_create_reservationless(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    conference = _scheduling(call).create_reservationless(call.actor, host, _fields(call))
    return Answer(_answer(call, conference))


def conference_update(call: Call) -> Answer:
    conference, host = _conference(call)
    _scheduling(call).update(call.actor, conference, host, _fields(call))
    return Answer(_answer(call, conference))


def _detail(call: Call, conference: Conference) -> dict[str, Any]:
    scheduling = _scheduling(call)
    session = call.ctx.session
    usage = AttendanceService(session).usage([conference])[0]
    chat = ChatService(session).messages(conference_id=conference.id)
    return present.conference_detail(scheduling.view(conference), usage, chat, now=utcnow())


def conference_fetch(call: Call) -> Answer:
    conference, _ = _conference(call)
    if call.body.str_("output") == "detail":
        return Answer(_detail(call, conference))
    return Answer(_answer(call, conference))


def conference_fetch_all(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    conferences = _scheduling(call).for_host(host)
    chunk, next_page = _page_of(call, "conference/fetch_all", conferences)
    detail = call.body.str_("output") == "detail"
    rows = [_detail(call, c) if detail else _answer(call, c) for c in chunk]
    return Answer(rows, headers=next_page)


def conference_cancel(call: Call) -> Answer:
    conference, _ = _conference(call)
    _scheduling(call).cancel(call.actor, conference)
    return MESSAGE_OK


def conference_end(call: Call) -> Answer:
    conference, _ = _conference(call)
    _scheduling(call).end(call.actor, conference)
    return MESSAGE_OK


def conference_participant_details(call: Call) -> Answer:
    conference, host = _conference(call)
    everyone, moderators = _scheduling(call).participant_contacts(conference)
    contacts = ContactService(call.ctx.session)
    from podium.domain.contacts.service import Book

    book = Book(call.policy.company_or_own(host.company_id), host)
    return Answer(
        {
            "participants": [present.contact(contacts.view(book, c)) for c in everyone],
            "moderators": [present.contact(contacts.view(book, c)) for c in moderators],
        }
    )


def conference_livestream_viewers(call: Call) -> Answer:
    conference, _ = _conference(call)
    viewers = [
        a
        for a in AttendanceRepository(call.ctx.session).open_for_conference(conference.id)
        if a.via == "stream"
    ]
    return Answer({"count": str(len(viewers))})


def conference_stop_streaming(call: Call) -> Answer:
    conference, _ = _conference(call)
    _scheduling(call).stop_streaming(call.actor, conference)
    return MESSAGE_OK


def conference_dial_number(call: Call) -> Answer:
    conference, _ = _conference(call)
    status = _scheduling(call).dial_number(call.actor, conference, call.body.values)
    return Answer({"dialout_status": status})


def conference_message(call: Call) -> Answer:
    conference, _ = _conference(call)
    _scheduling(call).require_active(conference)
    ChatService(call.ctx.session).post_to_conference(
        call.actor.label, conference.company_id, conference.id, call.body.str_("message", required=True)
    )
    return MESSAGE_OK


def conference_delete_recordings(call: Call) -> Answer:
    conference, _ = _conference(call)
    _scheduling(call).delete_media(call.actor, conference, "recordings")
    return MESSAGE_OK


def conference_delete_transcriptions(call: Call) -> Answer:
    conference, _ = _conference(call)
    _scheduling(call).delete_media(call.actor, conference, "transcriptions")
    return MESSAGE_OK


# --- reports -------------------------------------------------------------------------------------


def _zone(call: Call) -> ZoneInfo:
    return ZoneInfo(coerce.time_zone("time_zone", call.body.get("time_zone") or "UTC"))


def _date_range(call: Call, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """start_date and end_date (inclusive) as days in ``zone`` → a naive UTC range."""
    bounds: list[datetime | None] = []
    for key, extra in (("start_date", 0), ("end_date", 1)):
        raw = call.body.str_(key)
        if not raw:
            bounds.append(None)
            continue
        try:
            day = datetime.strptime(raw[:10], "%Y-%m-%d") + timedelta(days=extra)
        except ValueError:
            raise InvalidInput(f"{key} must be a date such as 2020-12-31", field=key) from None
        bounds.append(day.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None))
    return bounds[0], bounds[1]


def host_conferences(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    zone = _zone(call)
    since, before = _date_range(call, zone)
    output = call.body.str_("output") or "summary"
    if output not in ("summary", "detail"):
        raise InvalidInput("output must be summary or detail", field="output")
    now = utcnow()
    conferences = AttendanceRepository(call.ctx.session).host_conferences(host.id, since, before, now)
    chunk, next_page = _page_of(call, "host/conferences", conferences)
    scheduling = _scheduling(call)
    usages = AttendanceService(call.ctx.session).usage(chunk)
    if output == "summary":
        rows = [
            present.conference_summary(
                u, scheduling.end_of(u.conference), zone, now, Links(call.ctx.settings)
            )
            for u in usages
        ]
    else:
        chats = ChatService(call.ctx.session)
        rows = [
            present.conference_detail(
                scheduling.view(u.conference),
                u,
                chats.messages(conference_id=u.conference.id),
                now=now,
                zone=zone,
            )
            for u in usages
        ]
    return Answer(rows, headers=next_page)


def host_cdrs(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    zone = _zone(call)
    since, before = _date_range(call, zone)
    rows = AttendanceRepository(call.ctx.session).cdrs(
        host.id, call.body.int_("conference_id", required=False), since, before, limit=100
    )
    now = utcnow()
    return Answer(
        [
            present.cdr(attendance, conference, host, zone, minutes(attendance, now))
            for attendance, conference in rows
        ]
    )


def host_active_calls(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    zone = _zone(call)
    calls = AttendanceRepository(call.ctx.session).active_for_host(host.id)
    return Answer(
        [
            {
                "conference_id": c.id,
                "subject": c.title,
                "agenda": c.description or None,
                "start_time": local(c.started_at or c.starts_at or c.created_at, zone).strftime(present.TIME),
            }
            for c in calls
        ]
    )


# --- drive -----------------------------------------------------------------------------------------


def _drive(call: Call) -> tuple[DriveService, Host]:
    return DriveService(call.ctx.session, call.ctx.settings), call.policy.host(call.host_id())


def drive_fetch_all(call: Call) -> Answer:
    drive, host = _drive(call)
    page = call.body.int_("page", required=False) or 1
    files, total_pages = drive.page(host, page)
    return Answer(
        {
            "files": [present.drive_file_brief(f) for f in files],
            "total_pages": total_pages,
            "current_page": page,
            "next_page": page + 1 if page < total_pages else None,
        }
    )


def drive_create(call: Call) -> Answer:
    drive, host = _drive(call)
    file = drive.create(host, call.body.str_("filename", required=True))
    return Answer(
        {"id": file.id, "upload_url": drive.upload_url(file), "download_link": drive.download_link(file)}
    )


def drive_file_fetch(call: Call) -> Answer:
    drive, host = _drive(call)
    file = drive.get(host, call.body.id_("id"))
    return Answer(present.drive_file(file, drive.download_link(file)))


def drive_finish_upload(call: Call) -> Answer:
    drive, host = _drive(call)
    file = drive.finish(host, call.body.id_("id"))
    return Answer(present.drive_file(file, drive.download_link(file)))


def drive_file_delete(call: Call) -> Answer:
    drive, host = _drive(call)
    drive.delete(host, call.body.id_("id"))
    return Answer(None, status=204)


# --- chat -------------------------------------------------------------------------------------------


def chat_create(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    company = call.policy.company(call.body.id_("company_id"))
    chat = ChatService(call.ctx.session)
    room = chat.room(
        company.id, room_id=call.body.int_("id", required=False), slug=call.body.str_("slug") or None
    )
    chat.post_system(call.actor.label, room, call.body.str_("message", required=True))
    return MESSAGE_OK


def chat_fetch(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    chat = ChatService(call.ctx.session)
    room = chat.room(
        company.id, room_id=call.body.int_("id", required=False), slug=call.body.str_("slug") or None
    )
    return Answer(
        {
            "id": room.id,
            "slug": room.slug,
            "messages": [present.chat_message(m) for m in chat.messages(room_id=room.id)],
        }
    )


# --- webhooks (an extension of ours; see docs/webhooks.md) ---------------------------------------------


def webhook_create(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    events = coerce.to_str_list("events", call.body.get("events") or [])
    endpoint = WebhookService(call.ctx.session).create(
        company.id, call.body.str_("url", required=True), events, style="iotum"
    )
    return Answer(present.webhook(endpoint, with_token=True))


def webhook_fetch_all(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    return Answer(
        [present.webhook(e, with_token=False) for e in WebhookService(call.ctx.session).list(company.id)]
    )


def webhook_delete(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    WebhookService(call.ctx.session).delete(company.id, call.body.id_("id"))
    return MESSAGE_OK


def webhook_deliveries(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    rows = WebhookService(call.ctx.session).deliveries(company.id, call.body.id_("id"))
    return Answer([present.webhook_delivery(d) for d in rows])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "conference/create", "Schedule a conference (or a recurring series)", conference_create, "write"
    ),
    Endpoint(
        "conference/create/reservationless",
        "Start a reservationless conference now",
        conference_create_reservationless,
        "write",
    ),
    Endpoint(
        "conference/update", "Update a conference (a master updates its series)", conference_update, "write"
    ),
    Endpoint("conference/fetch", "A conference (output: detail)", conference_fetch, "read"),
    Endpoint(
        "conference/fetch_all", "A host's scheduled conferences (18 months)", conference_fetch_all, "read"
    ),
    Endpoint(
        "conference/cancel", "Cancel a conference (a master cancels its series)", conference_cancel, "write"
    ),
    Endpoint("conference/end", "End an active conference", conference_end, "write"),
    Endpoint(
        "conference/fetch_participant_details",
        "Contacts of a conference's participants",
        conference_participant_details,
        "read",
    ),
    Endpoint(
        "conference/fetch_livestream_viewer_count",
        "Livestream viewers now",
        conference_livestream_viewers,
        "read",
    ),
    Endpoint("conference/stop_streaming", "Stop the livestream", conference_stop_streaming, "write"),
    Endpoint(
        "conference/dial_number",
        "Dial a phone number into an active conference",
        conference_dial_number,
        "write",
    ),
    Endpoint(
        "conference/message/create", "A System message in an active conference", conference_message, "write"
    ),
    Endpoint(
        "conference/delete_recordings",
        "Delete a past conference's recordings",
        conference_delete_recordings,
        "write",
    ),
    Endpoint(
        "conference/delete_transcriptions",
        "Delete a past conference's transcriptions",
        conference_delete_transcriptions,
        "write",
    ),
    Endpoint("host/conferences", "A host's past conferences (summary or detail)", host_conferences, "read"),
    Endpoint("host/cdrs", "Call detail records of a host's conferences (first 100)", host_cdrs, "read"),
    Endpoint("host/active_calls", "Calls the host is on now", host_active_calls, "read"),
    Endpoint("drive/fetch_all", "A host's drive files, 20 per page", drive_fetch_all, "read"),
    Endpoint("drive/create", "A new drive file and its signed upload URL", drive_create, "write"),
    Endpoint("drive/file/fetch", "A drive file", drive_file_fetch, "read"),
    Endpoint("drive/file/finish_upload", "Process an uploaded file", drive_finish_upload, "write"),
    Endpoint("drive/file/delete", "Delete a drive file (204)", drive_file_delete, "write"),
    Endpoint("chat/create", "A System message to a DM room or channel", chat_create, "write"),
    Endpoint("chat/fetch", "Messages of a DM room or channel (extension)", chat_fetch, "read"),
    Endpoint("webhook/create", "Register a webhook endpoint (extension)", webhook_create, "write"),
    Endpoint("webhook/fetch_all", "The company's webhook endpoints (extension)", webhook_fetch_all, "read"),
    Endpoint("webhook/delete", "Remove a webhook endpoint (extension)", webhook_delete, "write"),
    Endpoint(
        "webhook/deliveries", "Delivery log of a webhook endpoint (extension)", webhook_deliveries, "read"
    ),
)
