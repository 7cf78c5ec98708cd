"""Iotum enterprise API: conferences: scheduled, reservationless and recurring; their actions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.attendance.service import AttendanceService
from podium.domain.chat.service import ChatService
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.contacts.service import Book, ContactService
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


def scheduling_of(call: Call) -> SchedulingService:
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
    return present.conference(scheduling_of(call).view(conference))


def page_of(call: Call, endpoint: str, items: Sequence[T]) -> tuple[list[T], dict[str, str] | None]:
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


def conference_create(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    conference = scheduling_of(call).create(call.actor, host, _fields(call))
    return Answer(_answer(call, conference))


def conference_create_reservationless(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    conference = scheduling_of(call).create_reservationless(call.actor, host, _fields(call))
    return Answer(_answer(call, conference))


def conference_update(call: Call) -> Answer:
    conference, host = _conference(call)
    scheduling_of(call).update(call.actor, conference, host, _fields(call))
    return Answer(_answer(call, conference))


def detail_of(call: Call, conference: Conference) -> dict[str, Any]:
    scheduling = scheduling_of(call)
    session = call.ctx.session
    usage = AttendanceService(session).usage([conference])[0]
    chat = ChatService(session).messages(conference_id=conference.id)
    return present.conference_detail(scheduling.view(conference), usage, chat, now=utcnow())


def conference_fetch(call: Call) -> Answer:
    conference, _ = _conference(call)
    if call.body.str_("output") == "detail":
        return Answer(detail_of(call, conference))
    return Answer(_answer(call, conference))


def conference_fetch_all(call: Call) -> Answer:
    host = call.policy.host(call.host_id())
    conferences = scheduling_of(call).for_host(host)
    chunk, next_page = page_of(call, "conference/fetch_all", conferences)
    detail = call.body.str_("output") == "detail"
    rows = [detail_of(call, c) if detail else _answer(call, c) for c in chunk]
    return Answer(rows, headers=next_page)


def conference_cancel(call: Call) -> Answer:
    conference, _ = _conference(call)
    scheduling_of(call).cancel(call.actor, conference)
    return MESSAGE_OK


def conference_end(call: Call) -> Answer:
    conference, _ = _conference(call)
    scheduling_of(call).end(call.actor, conference)
    return MESSAGE_OK


def conference_participant_details(call: Call) -> Answer:
    conference, host = _conference(call)
    everyone, moderators = scheduling_of(call).participant_contacts(conference)
    contacts = ContactService(call.ctx.session)

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
    scheduling_of(call).stop_streaming(call.actor, conference)
    return MESSAGE_OK


def conference_dial_number(call: Call) -> Answer:
    conference, _ = _conference(call)
    status = scheduling_of(call).dial_number(call.actor, conference, call.body.values)
    return Answer({"dialout_status": status})


def conference_message(call: Call) -> Answer:
    conference, _ = _conference(call)
    scheduling_of(call).require_active(conference)
    ChatService(call.ctx.session).post_to_conference(
        call.actor.label, conference.company_id, conference.id, call.body.str_("message", required=True)
    )
    return MESSAGE_OK


def conference_delete_recordings(call: Call) -> Answer:
    conference, _ = _conference(call)
    scheduling_of(call).delete_media(call.actor, conference, "recordings")
    return MESSAGE_OK


def conference_delete_transcriptions(call: Call) -> Answer:
    conference, _ = _conference(call)
    scheduling_of(call).delete_media(call.actor, conference, "transcriptions")
    return MESSAGE_OK


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
)
