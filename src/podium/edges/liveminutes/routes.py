"""LiveMinutes edge: the eight methods, HTTP Basic auth, form or JSON bodies, resultcode answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from podium.domain.actor import Actor
from podium.domain.attendance.service import AttendanceService
from podium.domain.conferences.service import CREATIONS, ConferenceService
from podium.domain.participants.service import ParticipantService
from podium.domain.tenancy.service import TenancyService
from podium.edges.common import MethodSpec, Param, Params, Payload, dispatch, read_params
from podium.edges.guarding import attempts as guarded_attempts
from podium.edges.liveminutes.auth import basic_credentials
from podium.edges.liveminutes.errors import STATUS_BY_CODE, body_for, status_for
from podium.kit.errors import DomainError, InvalidInput, Unauthenticated, retry_after_headers
from podium.kit.links import Links
from podium.kit.openapi import TEXT, answer, errors, json_body, merge, status_set
from podium.kit.uow import Context, Handed
from podium.models.conference import Conference

# The reference's status codes, from recorded attendance.
MEETING_STATUS = {"scheduled": "1", "in_progress": "8", "finished": "12", "host_quit": "11"}
PARTICIPANT_STATUS = {"invited": "2", "in_progress": "10", "quit": "11"}


@dataclass(frozen=True)
class Call:
    ctx: Context
    actor: Actor
    params: Params

    @property
    def conferences(self) -> ConferenceService:
        return ConferenceService(self.ctx.session, self.ctx.settings)

    @property
    def participants(self) -> ParticipantService:
        return ParticipantService(self.ctx.session, self.ctx.settings)

    def meeting(self) -> Conference:
        return self.conferences.get_by_meeting_key(self.actor, self.params.required("meetingKey"))


def _time(params: Params) -> datetime | None:
    raw = params.text("time").strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise InvalidInput("time must be formatted yyyy-MM-dd HH:mm:ss", field="time") from None


def _duration(params: Params) -> float | None:
    raw = params.text("duration").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput("duration must be a number", field="duration") from None
    if value != value:  # NaN
        raise InvalidInput("duration must be a number", field="duration")
    return value


def _meeting_url(call: Call, conference: Conference) -> str:
    return Links(call.ctx.settings).meeting(conference.short_code)


def create_meeting(call: Call) -> Payload:
    # The creation is the whole request's change: it is made with others (kit/group_commit).
    new = ConferenceService(call.ctx.session, call.ctx.settings).checked_creation(
        call.actor,
        meeting_key=call.params.text("meetingKey").strip(),
        host_external_id=call.params.required("hostid"),
        title=call.params.text("title"),
        lang=call.params.text("lang"),
        description=call.params.text("description"),
        starts_at=_time(call.params),
        duration_minutes=_duration(call.params),
        host_nickname=call.params.text("hostnickname"),
        host_email=call.params.text("hostemail"),
    )
    links = Links(call.ctx.settings)
    return Handed(
        CREATIONS,
        new,
        lambda conference: {
            "meetingKey": conference.meeting_key,
            "meetingUrl": links.meeting(conference.short_code),
            "hostUrl": links.personal(conference.host_token),
        },
    )


def add_participant(call: Call) -> dict[str, Any]:
    conference = call.meeting()
    participant = call.participants.add_external(
        call.actor,
        conference,
        external_id=call.params.required("puid"),
        nickname=call.params.text("nickname"),
        email=call.params.text("email"),
    )
    return {
        "meetingKey": conference.meeting_key,
        "participantUrl": call.participants.participant_url(participant),
    }


def get_participant_url(call: Call) -> dict[str, Any]:
    participant = call.participants.get_external(call.actor, call.meeting(), call.params.required("puid"))
    return {"participantUrl": call.participants.participant_url(participant)}


def get_meeting_url(call: Call) -> dict[str, Any]:
    return {"meetingUrl": _meeting_url(call, call.meeting())}


def cancel_meeting(call: Call) -> dict[str, Any]:
    conference = call.meeting()
    call.conferences.delete(call.actor, conference, reason="cancelled")
    return {"meetingKey": conference.meeting_key}


def cancel_participant(call: Call) -> dict[str, Any]:
    conference = call.meeting()
    participant = call.participants.get_external(call.actor, conference, call.params.required("puid"))
    call.participants.remove(call.actor, participant, reason="cancelled")
    return {"meetingKey": conference.meeting_key}


def get_meeting_status(call: Call) -> dict[str, Any]:
    state = AttendanceService(call.ctx.session).meeting_state(call.meeting())
    return {"status": MEETING_STATUS[state]}


def get_participant_status(call: Call) -> dict[str, Any]:
    participant = call.participants.get_external(call.actor, call.meeting(), call.params.required("puid"))
    return {"status": PARTICIPANT_STATUS[AttendanceService(call.ctx.session).participant_state(participant)]}


MEETING_KEY = ("meetingKey", "Meeting key", False)
PUID = ("puid", "The client's user id (at most 50 characters)", True)

METHODS: tuple[tuple[str, str, Callable[[Call], Payload], tuple[tuple[str, str, bool], ...]], ...] = (
    (
        "createMeeting",
        "Create a meeting",
        create_meeting,
        (
            ("meetingKey", "Your meeting id; empty to have one generated", False),
            ("hostid", "Host's user id on the client (at most 50 characters)", True),
            ("title", "Title", False),
            ("lang", "Language", False),
            ("description", "Description", False),
            ("time", "Start, yyyy-MM-dd HH:mm:ss (UTC)", False),
            ("duration", "Duration in minutes", False),
            ("hostnickname", "Host display name", False),
            ("hostemail", "Host email", False),
        ),
    ),
    (
        "addParticipant",
        "Add a participant and get its URL",
        add_participant,
        (
            MEETING_KEY,
            PUID,
            ("nickname", "Display name", False),
            ("email", "Email", False),
        ),
    ),
    ("getParticipantUrl", "A participant's URL", get_participant_url, (MEETING_KEY, PUID)),
    ("getMeetingUrl", "The meeting's URL", get_meeting_url, (MEETING_KEY,)),
    ("cancelMeeting", "Cancel a meeting (revokes its URLs)", cancel_meeting, (MEETING_KEY,)),
    ("cancelParticipant", "Cancel a participant (revokes its URL)", cancel_participant, (MEETING_KEY, PUID)),
    (
        "getMeetingStatus",
        "Meeting status: 1 start, 8 in progress, 12 finished, 11 host quit",
        get_meeting_status,
        (MEETING_KEY,),
    ),
    (
        "getParticipantStatus",
        "Participant status: 2 accepted, 3 refused, 10 in progress, 11 quit",
        get_participant_status,
        (MEETING_KEY, PUID),
    ),
)


# Reads whose answers may be served again for a second while nothing is written (kit/answers).
CACHED = frozenset({"getMeetingStatus", "getParticipantStatus"})

SPECS: tuple[MethodSpec, ...] = tuple(
    MethodSpec(
        name,
        summary,
        handler,
        tuple(Param(p, description, required) for p, description, required in params),
        cached=name in CACHED,
    )
    for name, summary, handler, params in METHODS
)


def _fail(error: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="liveminutes"'} if status_for(error) == 401 else {}
    headers.update(retry_after_headers(error))
    return JSONResponse(body_for(error), status_code=status_for(error), headers=headers)


def _answer(payload: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"resultcode": 1, **payload})


async def _read(request: Request) -> tuple[tuple[str, str], Params]:
    return basic_credentials(request), await read_params(request, request.app.state.settings)


def _endpoint(method: MethodSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        attempts = guarded_attempts(request)

        def work(ctx: Context, read: tuple[tuple[str, str], Params]) -> Payload:
            (account_sid, auth_token), params = read
            # AccountSid and AuthToken are a machine credential: a wrong pair counts against the
            # client only (locking the AccountSid would let anyone switch the account's API off).
            attempts.check(ctx.session)
            try:
                actor = TenancyService(ctx.session, ctx.settings).authenticate_liveminutes(
                    account_sid, auth_token
                )
            except Unauthenticated:
                attempts.failed()
                raise
            return method.handler(Call(ctx=ctx, actor=actor, params=params))

        try:
            return await dispatch(
                request,
                read=_read,
                work=work,
                answer=_answer,
                fail=_fail,
                cache_as=method.cache_as,
            )
        finally:
            await attempts.settle_async()

    endpoint.__name__ = "liveminutes_" + method.operation_name
    endpoint.__doc__ = method.summary
    return endpoint


# Every failure but a credential (401) or a throttle (429) or an oversized body (413) is 200 with
# resultcode 0 (errors.py): the schema says so, with the body of each.
_RESULT = {
    "type": "object",
    "properties": {"resultcode": {"type": "integer", "enum": [0, 1]}, "error": TEXT, "message": TEXT},
    "required": ["resultcode"],
}
_CHALLENGE = {"description": "Basic", "schema": TEXT}
ANSWERS = merge(
    answer(200, json_body(_RESULT), "resultcode 1 with the method's fields, or resultcode 0 with a message"),
    errors(status_set(STATUS_BY_CODE), json_body(_RESULT), but=[200]),
    answer(
        401, None, "AccountSid and AuthToken are missing or wrong", {"WWW-Authenticate": {"schema": TEXT}}
    ),
)


def _request_body(method: MethodSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: p.json_schema for p in method.params},
        "required": [p.name for p in method.params if p.required],
    }
    # Form fields as the vendor documents them; a JSON object with the same fields is read too.
    return {
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            }
        }
    }


def build_router(prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["liveminutes"])
    for method in SPECS:
        router.add_api_route(
            f"/{method.path}",
            _endpoint(method),
            methods=list(method.verbs),
            summary=method.summary,
            responses=ANSWERS,
            openapi_extra=_request_body(method),
        )
    return router


def canonical_paths(prefix: str) -> list[str]:
    return [f"{prefix}/{name}" for name, *_ in METHODS]
