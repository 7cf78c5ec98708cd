"""Join pages: every link a dialect returns opens the same lobby."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from podium.domain.guard import targets
from podium.domain.guard.attempts import Attempts
from podium.domain.guard.targets import Target, Targets
from podium.domain.joining.service import JoiningService, JoinTicket
from podium.kit.errors import DomainError, ErrorCode, LinkInvalid, LinkUnknown, retry_after_headers
from podium.kit.uow import Context, run_unit_of_work
from podium.rooms.service import RoomService
from podium.web import guarding
from podium.web.errors import TITLE_BY_CODE, status_for
from podium.web.openapi import form, page
from podium.web.session import signed_in_host_id

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(tags=["pages"])

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the URL carries the join credential
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
}


@dataclass(frozen=True)
class Guess:
    """What a link is a guess at: the targets checked (and charged) with the client, and the errors
    that make it a failed guess (a link that leads nowhere; expired and withdrawn links are real)."""

    targets: tuple[Target, ...] = ()
    failures: frozenset[ErrorCode] = frozenset({ErrorCode.LINK_UNKNOWN, ErrorCode.LINK_INVALID})


async def _lobby(
    request: Request,
    resolve: Callable[[JoiningService], JoinTicket],
    guess: Guess,
    attempts: Attempts | None = None,
) -> HTMLResponse:
    media = getattr(request.app.state, "media", None)
    signed_in = signed_in_host_id(request, request.app.state.settings)
    own_attempts = attempts is None
    attempts = attempts or guarding.attempts(request)

    def work(ctx: Context) -> dict[str, object]:
        attempts.check(ctx.session, *guess.targets)
        joining = JoiningService(ctx.session, ctx.settings)
        try:
            resolved = resolve(joining)
        except DomainError as error:
            if error.code in guess.failures:
                attempts.failed(*guess.targets)
            raise
        ticket = joining.as_organiser(resolved, signed_in)
        rooms = RoomService(ctx.session, ctx.settings, media)
        return {
            "ticket": rooms.ticket_for(ticket),
            # People who join later are told before they join.
            "recording": rooms.is_recording(ticket.conference.id),
            "media_available": media is not None,
            "title": ticket.conference.title or "Meeting",
            "description": ticket.conference.description,
            "name": ticket.display_name,
            "role": ticket.role,
            "asks_for_name": ticket.asks_for_name,
            "conference_code": ticket.conference.code,
        }

    try:
        lobby = await run_unit_of_work(request, work)
    except DomainError as error:
        return _error_page(request, error)
    finally:
        if own_attempts:
            await attempts.settle_async()
    headers = dict(SECURITY_HEADERS)
    if media is not None:
        # The page talks to the media server directly.
        headers["Content-Security-Policy"] = (
            f"default-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"connect-src 'self' {' '.join(media.origins)}; media-src 'self' blob: mediastream:"
        )
    return templates.TemplateResponse(request, "lobby.html", lobby, headers=headers)


def _error_page(request: Request, error: DomainError) -> HTMLResponse:
    context = {
        "heading": TITLE_BY_CODE.get(error.code, "Invalid link"),
        "message": error.message,
        "code": error.code,
    }
    if error.code == ErrorCode.TOO_MANY_ATTEMPTS:
        context["hint"] = "Wait a little, then try again."
    return templates.TemplateResponse(
        request,
        "link_error.html",
        context,
        status_code=status_for(error),
        headers=SECURITY_HEADERS | retry_after_headers(error),
    )


def _pin_form(request: Request, error: str = "", status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pin.html",
        {"error": error, "action": request.url.path, "query": request.url.query},
        status_code=status,
        headers=SECURITY_HEADERS,
    )


async def _room(request: Request, code_of: Callable[[JoiningService], str], pin: str | None) -> HTMLResponse:
    """An Iotum room URL: moderator token, security PIN, then the conference's lobby.

    Guarded: the room code's prefix (a code that opens nothing is a guess), the conference's security
    PIN (a wrong one), and the client (a secure URL that is not ours, a wrong moderator token).
    """
    moderator_token = request.query_params.get("moderator_token", "")
    attempts = guarding.attempts(request)
    room: list[Target] = []

    def needs_pin(ctx: Context) -> bool:
        joining = JoiningService(ctx.session, ctx.settings)
        try:
            code = code_of(joining)
        except LinkInvalid:
            attempts.failed()  # a secure URL that is not ours: signed, so only the client's budget
            raise
        room.append(targets.room_code(code))
        attempts.check(ctx.session, room[0], *([targets.security_pin(code)] if pin is not None else []))
        expected = joining.security_pin_for(code)
        is_moderator = joining.is_moderator_token(code, moderator_token)
        if moderator_token and not is_moderator:
            attempts.failed()  # a long random token: only the client's budget
        if expected is None or is_moderator:
            return False
        if pin is None:
            return True
        if not secrets.compare_digest(pin.encode("utf-8", "surrogatepass"), expected.encode()):
            attempts.failed(Targets(ctx.session).security_pin(code))
            raise WrongPin("Wrong security PIN")
        return False

    try:
        if await run_unit_of_work(request, needs_pin):
            return _pin_form(request)
        return await _lobby(
            request,
            lambda joining: joining.resolve_access_code(code_of(joining), moderator_token),
            Guess(tuple(room)),
            attempts,
        )
    except WrongPin as error:
        return _pin_form(request, error.message, 403)
    except DomainError as error:
        return _error_page(request, error)
    finally:
        await attempts.settle_async()


class WrongPin(DomainError):
    code = ErrorCode.WRONG_PIN


def _link_part(value: str) -> str:
    """A code or token from the address. One that no link of ours can hold (a NUL or another control
    character, an absurd length) names nothing, and never reaches the database (PostgreSQL refuses NUL)."""
    if len(value) > 2048 or not value.isprintable():
        raise LinkUnknown("This link does not lead to a meeting")
    return value


PIN_FORM = form({"pin": "The conference's security PIN"})


@router.get("/conf/call/{access_code}", response_class=HTMLResponse, responses=page())
async def room_page(request: Request, access_code: str) -> HTMLResponse:
    """Iotum room URL (a host's meeting URL or a conference's code); ?moderator_token= makes a moderator."""
    return await _room(request, lambda _joining: _link_part(access_code), None)


@router.post(
    "/conf/call/{access_code}", response_class=HTMLResponse, responses=page(), openapi_extra=PIN_FORM
)
async def room_page_with_pin(request: Request, access_code: str) -> HTMLResponse:
    """The security PIN form's answer."""
    form = await request.form()
    return await _room(request, lambda _joining: _link_part(access_code), str(form.get("pin", "")))


@router.get("/conf/call/s/{token}", response_class=HTMLResponse, responses=page())
async def secure_room_page(request: Request, token: str) -> HTMLResponse:
    """Iotum secure_url: the access code travels encrypted."""
    return await _room(request, lambda joining: joining.code_from_secure_url(_link_part(token)), None)


@router.post("/conf/call/s/{token}", response_class=HTMLResponse, responses=page(), openapi_extra=PIN_FORM)
async def secure_room_page_with_pin(request: Request, token: str) -> HTMLResponse:
    """The security PIN form's answer on a secure URL."""
    form = await request.form()
    return await _room(
        request, lambda joining: joining.code_from_secure_url(_link_part(token)), str(form.get("pin", ""))
    )


@router.get("/conf/invite.html", response_class=HTMLResponse, responses=page())
async def invite_page(request: Request, jwt: str = "") -> HTMLResponse:
    """Lobby opened by a Boomstream invite link."""
    # Signed: a forged one is cheap to refuse, and counts against the client's budget only.
    return await _lobby(request, lambda joining: joining.resolve_invite(_link_part(jwt)), Guess())


@router.get("/m/{short_code}", response_class=HTMLResponse, responses=page())
async def meeting_page(request: Request, short_code: str) -> HTMLResponse:
    """Lobby opened by a LiveMinutes meeting URL (guests give a name)."""
    guess = Guess((targets.meeting_code(short_code),))
    return await _lobby(request, lambda joining: joining.resolve_meeting_code(_link_part(short_code)), guess)


@router.get("/e/{token}", response_class=HTMLResponse, responses=page())
async def personal_page(request: Request, token: str) -> HTMLResponse:
    """Lobby opened by a LiveMinutes host or participant URL."""
    # A long random token: a wrong one counts against the client's budget only.
    return await _lobby(request, lambda joining: joining.resolve_personal_token(_link_part(token)), Guess())
