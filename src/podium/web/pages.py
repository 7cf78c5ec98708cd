"""Join pages: every link a dialect returns opens the same lobby."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from podium.domain.joining.service import JoiningService, JoinTicket
from podium.edges.common import Context, run_unit_of_work
from podium.kit.errors import DomainError
from podium.web.errors import TITLE_BY_CODE, status_for

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(tags=["pages"])

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the URL carries the join credential
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
}


async def _lobby(request: Request, resolve: Callable[[JoiningService], JoinTicket]) -> HTMLResponse:
    def work(ctx: Context) -> dict[str, object]:
        ticket = resolve(JoiningService(ctx.session, ctx.settings))
        return {
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
    return templates.TemplateResponse(request, "lobby.html", lobby, headers=SECURITY_HEADERS)


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
