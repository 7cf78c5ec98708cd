"""Join pages: every link a dialect returns opens the same lobby."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from podium.domain.joining.service import JoiningService, JoinTicket
from podium.kit.errors import DomainError, ErrorCode
from podium.kit.uow import Context, run_unit_of_work
from podium.rooms.service import RoomService
from podium.web.errors import TITLE_BY_CODE, status_for
from podium.web.session import signed_in_host_id

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(tags=["pages"])

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the URL carries the join credential
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
}


async def _lobby(request: Request, resolve: Callable[[JoiningService], JoinTicket]) -> HTMLResponse:
    media = getattr(request.app.state, "media", None)
    signed_in = signed_in_host_id(request, request.app.state.settings)

    def work(ctx: Context) -> dict[str, object]:
        joining = JoiningService(ctx.session, ctx.settings)
        ticket = joining.as_organiser(resolve(joining), signed_in)
        return {
            "ticket": RoomService(ctx.session, ctx.settings, media).ticket_for(ticket),
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
    headers = dict(SECURITY_HEADERS)
    if media is not None:
        # The page talks to the media server directly.
        headers["Content-Security-Policy"] = (
            f"default-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"connect-src 'self' {' '.join(media.origins)}; media-src 'self' blob: mediastream:"
        )
    return templates.TemplateResponse(request, "lobby.html", lobby, headers=headers)


def _error_page(request: Request, error: DomainError) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "link_error.html",
        {
            "heading": TITLE_BY_CODE.get(error.code, "Invalid link"),
            "message": error.message,
            "code": error.code,
        },
        status_code=status_for(error),
        headers=SECURITY_HEADERS,
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
    """An Iotum room URL: moderator token, security PIN, then the conference's lobby."""
    moderator_token = request.query_params.get("moderator_token", "")

    def needs_pin(ctx: Context) -> bool:
        joining = JoiningService(ctx.session, ctx.settings)
        code = code_of(joining)
        expected = joining.security_pin_for(code)
        if expected is None or joining.is_moderator_token(code, moderator_token):
            return False
        if pin is None:
            return True
        if not secrets.compare_digest(pin.encode(), expected.encode()):
            raise WrongPin("Wrong security PIN")
        return False

    try:
        if await run_unit_of_work(request, needs_pin):
            return _pin_form(request)
    except WrongPin as error:
        return _pin_form(request, error.message, 403)
    except DomainError as error:
        return _error_page(request, error)
    return await _lobby(
        request, lambda joining: joining.resolve_access_code(code_of(joining), moderator_token)
    )


class WrongPin(DomainError):
    code = ErrorCode.WRONG_PIN


@router.get("/conf/call/{access_code}", response_class=HTMLResponse)
async def room_page(request: Request, access_code: str) -> HTMLResponse:
    """Iotum room URL (a host's meeting URL or a conference's code); ?moderator_token= makes a moderator."""
    return await _room(request, lambda _joining: access_code, None)


@router.post("/conf/call/{access_code}", response_class=HTMLResponse)
async def room_page_with_pin(request: Request, access_code: str) -> HTMLResponse:
    """The security PIN form's answer."""
    form = await request.form()
    return await _room(request, lambda _joining: access_code, str(form.get("pin", "")))


@router.get("/conf/call/s/{token}", response_class=HTMLResponse)
async def secure_room_page(request: Request, token: str) -> HTMLResponse:
    """Iotum secure_url: the access code travels encrypted."""
    return await _room(request, lambda joining: joining.code_from_secure_url(token), None)


@router.post("/conf/call/s/{token}", response_class=HTMLResponse)
async def secure_room_page_with_pin(request: Request, token: str) -> HTMLResponse:
    """The security PIN form's answer on a secure URL."""
    form = await request.form()
    return await _room(request, lambda joining: joining.code_from_secure_url(token), str(form.get("pin", "")))


@router.get("/conf/invite.html", response_class=HTMLResponse)
async def invite_page(request: Request, jwt: str = "") -> HTMLResponse:
    """Lobby opened by a Boomstream invite link."""
    return await _lobby(request, lambda joining: joining.resolve_invite(jwt))


@router.get("/m/{short_code}", response_class=HTMLResponse)
async def meeting_page(request: Request, short_code: str) -> HTMLResponse:
    """Lobby opened by a LiveMinutes meeting URL (guests give a name)."""
    return await _lobby(request, lambda joining: joining.resolve_meeting_code(short_code))


@router.get("/e/{token}", response_class=HTMLResponse)
async def personal_page(request: Request, token: str) -> HTMLResponse:
    """Lobby opened by a LiveMinutes host or participant URL."""
    return await _lobby(request, lambda joining: joining.resolve_personal_token(token))
