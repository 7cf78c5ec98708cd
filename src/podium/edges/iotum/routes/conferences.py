"""Iotum enterprise API: conferences: scheduled, reservationless and recurring; their actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypeVar

from podium.domain.attendance.service import AttendanceService
from podium.domain.chat.service import ChatService
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.recordings.service import RecordingService, RecordingView
from podium.domain.telephony.service import TelephonyService
from podium.domain.telephony.views import DialOutView
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.routes.conference_params import (
    CONFERENCE_OPTIONS,
    DIAL_OUT_FIELDS,
    DURATION,
    INVITEE_FIELDS,
    SCHEDULE,
    START,
    conference_options,
    dial_out,
    invitees,
)
from podium.edges.iotum.routes.hosts import OWN_HOST_ID
from podium.edges.iotum.routes_base import INTEGER, MESSAGE_OK, TEXT, Answer, Call, Endpoint
from podium.kit import coerce
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput
from podium.kit.links import Links
from podium.models.conference import Conference

PAGE = 10

T = TypeVar("T")

CONFERENCE_ID = Param("conference_id", "Conference id", required=True, schema=INTEGER)
PAGE_PARAM = Param(
    "page",
    f"Page, from 1 ({PAGE} per page; the Link and X-Next-Page headers name the next one)",
    schema=INTEGER,
)
DETAIL_OUTPUT = Param("output", "detail: the detailed output", schema=TEXT)


def scheduling_of(call: Call) -> SchedulingService:
    return SchedulingService(call.ctx.session, call.ctx.settings)


def _conference_id(call: Call) -> int:
    return call.body.id_("conference_id")


def _answer(
    call: Call, conference: Conference, recordings: list[RecordingView] | None = None
) -> dict[str, Any]:
    if recordings is None:
        recordings = _recordings(call, [conference])[conference.id]
    return present.conference(scheduling_of(call).view(conference), recordings)


def _recordings(call: Call, conferences: Sequence[Conference]) -> dict[int, list[RecordingView]]:
    """The conferences' recordings in one query (a page of conferences answers them all)."""
    return RecordingService(call.ctx.session, call.ctx.settings).views([c.id for c in conferences])


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
    """Schedule a conference (or a recurring series)."""
    conference = scheduling_of(call).create(
        call.actor, call.host_id(), conference_options(call.body, "create"), invitees(call.body)
    )
    return Answer(_answer(call, conference))


def conference_create_reservationless(call: Call) -> Answer:
    """Start a reservationless conference now."""
    conference = scheduling_of(call).create_reservationless(
        call.actor, call.host_id(), conference_options(call.body, "reservationless"), invitees(call.body)
    )
    return Answer(_answer(call, conference))


def conference_update(call: Call) -> Answer:
    """Update a conference (a master updates its series)."""
    conference = scheduling_of(call).update(
        call.actor, _conference_id(call), conference_options(call.body, "update"), invitees(call.body)
    )
    return Answer(_answer(call, conference))


def _dial_outs(call: Call, conferences: Sequence[Conference]) -> dict[int, list[DialOutView]]:
    """The conferences' phone calls in one query (a page of conferences answers them all)."""
    return TelephonyService(call.ctx.session, call.ctx.settings).views([c.id for c in conferences])


def detail_of(
    call: Call,
    conference: Conference,
    recordings: list[RecordingView] | None = None,
    dial_outs: list[DialOutView] | None = None,
) -> dict[str, Any]:
    scheduling = scheduling_of(call)
    session = call.ctx.session
    usage = AttendanceService(session).usage([conference])[0]
    chat = ChatService(session).messages(conference_id=conference.id)
    if recordings is None:
        recordings = _recordings(call, [conference])[conference.id]
    if dial_outs is None:
        dial_outs = _dial_outs(call, [conference])[conference.id]
    return present.conference_detail(
        scheduling.view(conference), usage, chat, now=utcnow(), recordings=recordings, dial_outs=dial_outs
    )


def conference_fetch(call: Call) -> Answer:
    """A conference (output: detail)."""
    conference = scheduling_of(call).fetch(call.actor, _conference_id(call))
    if call.body.str_("output") == "detail":
        return Answer(detail_of(call, conference))
    return Answer(_answer(call, conference))


def conference_fetch_all(call: Call) -> Answer:
    """A host's scheduled conferences (18 months)."""
    conferences = scheduling_of(call).for_host(call.actor, call.host_id())
    chunk, next_page = page_of(call, "conference/fetch_all", conferences)
    detail = call.body.str_("output") == "detail"
    recorded = _recordings(call, chunk)
    if detail:
        calls = _dial_outs(call, chunk)
        rows = [detail_of(call, c, recorded[c.id], calls[c.id]) for c in chunk]
    else:
        rows = [_answer(call, c, recorded[c.id]) for c in chunk]
    return Answer(rows, headers=next_page)


def conference_cancel(call: Call) -> Answer:
    """Cancel a conference (a master cancels its series)."""
    scheduling_of(call).cancel(call.actor, _conference_id(call))
    return MESSAGE_OK


def conference_end(call: Call) -> Answer:
    """End an active conference."""
    scheduling_of(call).end(call.actor, _conference_id(call))
    return MESSAGE_OK


def conference_participant_details(call: Call) -> Answer:
    """Contacts of a conference's participants."""
    everyone, moderators = scheduling_of(call).participant_contacts(call.actor, _conference_id(call))
    return Answer(
        {
            "participants": [present.contact(view) for view in everyone],
            "moderators": [present.contact(view) for view in moderators],
        }
    )


def conference_livestream_viewers(call: Call) -> Answer:
    """Livestream viewers now."""
    count = scheduling_of(call).livestream_viewers(call.actor, _conference_id(call))
    return Answer({"count": str(count)})


def conference_stop_streaming(call: Call) -> Answer:
    """Stop the livestream."""
    scheduling_of(call).stop_streaming(call.actor, _conference_id(call))
    return MESSAGE_OK


def conference_stream_previews(call: Call) -> Answer:
    """The stream's preview clips and images of the last 24 hours."""
    views = scheduling_of(call).stream_previews(call.actor, _conference_id(call))
    return Answer({"previews": [present.stream_preview(view) for view in views]})


def conference_stream_preview_image(call: Call) -> Answer:
    """An image of the stream now."""
    view = scheduling_of(call).stream_preview_image(call.actor, _conference_id(call))
    return Answer({"preview": present.stream_preview(view)})


def conference_dial_number(call: Call) -> Answer:
    """Dial a phone number into an active conference."""
    status = scheduling_of(call).dial_number(call.actor, _conference_id(call), dial_out(call.body))
    return Answer({"dialout_status": status})


def conference_message(call: Call) -> Answer:
    """A System message in an active conference."""
    scheduling_of(call).post_message(call.actor, _conference_id(call), call.body.str_("message"))
    return MESSAGE_OK


def conference_delete_recordings(call: Call) -> Answer:
    """Delete a past conference's recordings."""
    scheduling_of(call).delete_media(call.actor, _conference_id(call), "recordings")
    return MESSAGE_OK


def conference_delete_transcriptions(call: Call) -> Answer:
    """Delete a past conference's transcriptions."""
    scheduling_of(call).delete_media(call.actor, _conference_id(call), "transcriptions")
    return MESSAGE_OK


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "conference/create",
        "Schedule a conference (or a recurring series)",
        conference_create,
        "write",
        params=(
            OWN_HOST_ID,
            replace(START, required=True),
            replace(DURATION, required=True),
            SCHEDULE,
            *CONFERENCE_OPTIONS,
            *INVITEE_FIELDS,
        ),
    ),
    # start and schedule are read only to be refused: the call starts now.
    Endpoint(
        "conference/create/reservationless",
        "Start a reservationless conference now",
        conference_create_reservationless,
        "write",
        params=(OWN_HOST_ID, DURATION, *CONFERENCE_OPTIONS, *INVITEE_FIELDS),
    ),
    Endpoint(
        "conference/update",
        "Update a conference (a master updates its series)",
        conference_update,
        "write",
        params=(CONFERENCE_ID, START, DURATION, SCHEDULE, *CONFERENCE_OPTIONS, *INVITEE_FIELDS),
    ),
    Endpoint(
        "conference/fetch",
        "A conference (output: detail)",
        conference_fetch,
        "read",
        params=(CONFERENCE_ID, DETAIL_OUTPUT),
        cached=True,
    ),
    Endpoint(
        "conference/fetch_all",
        "A host's scheduled conferences (18 months)",
        conference_fetch_all,
        "read",
        params=(OWN_HOST_ID, DETAIL_OUTPUT, PAGE_PARAM),
        cached=True,
    ),
    Endpoint(
        "conference/cancel",
        "Cancel a conference (a master cancels its series)",
        conference_cancel,
        "write",
        params=(CONFERENCE_ID,),
    ),
    Endpoint("conference/end", "End an active conference", conference_end, "write", params=(CONFERENCE_ID,)),
    Endpoint(
        "conference/fetch_participant_details",
        "Contacts of a conference's participants",
        conference_participant_details,
        "read",
        params=(CONFERENCE_ID,),
    ),
    Endpoint(
        "conference/fetch_livestream_viewer_count",
        "Livestream viewers now",
        conference_livestream_viewers,
        "read",
        params=(CONFERENCE_ID,),
    ),
    Endpoint(
        "conference/stop_streaming",
        "Stop the livestream",
        conference_stop_streaming,
        "write",
        params=(CONFERENCE_ID,),
    ),
    Endpoint(
        "conference/fetch_stream_previews",
        "The stream's preview clips and images of the last 24 hours (extension: host stream_preview)",
        conference_stream_previews,
        "read",
        params=(CONFERENCE_ID,),
    ),
    Endpoint(
        "conference/stream_preview_image",
        "An image of the stream now, kept 24 hours (extension: host stream_preview.image_preview)",
        conference_stream_preview_image,
        "write",
        params=(CONFERENCE_ID,),
    ),
    Endpoint(
        "conference/dial_number",
        "Dial a phone number into an active conference",
        conference_dial_number,
        "write",
        params=(CONFERENCE_ID, *DIAL_OUT_FIELDS),
    ),
    Endpoint(
        "conference/message/create",
        "A System message in an active conference",
        conference_message,
        "write",
        params=(
            CONFERENCE_ID,
            Param(
                "message", "Message shown in the conference's chat as from System", required=True, schema=TEXT
            ),
        ),
    ),
    Endpoint(
        "conference/delete_recordings",
        "Delete a past conference's recordings",
        conference_delete_recordings,
        "write",
        params=(CONFERENCE_ID,),
    ),
    Endpoint(
        "conference/delete_transcriptions",
        "Delete a past conference's transcriptions",
        conference_delete_transcriptions,
        "write",
        params=(CONFERENCE_ID,),
    ),
)
