"""Watch pages: a media (or a whole subscription) behind its paywall, played with hls.js.

The page asks for what the media's paywalls need (an access password, the registration form, or
nothing for a free media), starts a view session, plays the signed HLS stream, overlays the
watermark and sends heartbeats that renew the playback token and count watched time.
"""

from __future__ import annotations

import math
import re
import secrets
from pathlib import Path
from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from podium.domain.guard import targets
from podium.domain.guard.targets import Target
from podium.domain.lives import links as live_links
from podium.domain.media import links
from podium.domain.media.service import MediaService
from podium.domain.paywall.service import PaywallService
from podium.domain.viewing.heartbeats import HeartbeatLedger
from podium.domain.viewing.service import Viewer, ViewingService
from podium.kit import coerce
from podium.kit.errors import DomainError, ErrorCode, InvalidInput, NotFound, retry_after_headers
from podium.kit.jsonbody import parse_json_object
from podium.kit.uow import Context, run_unit_of_work
from podium.models.live import LIVE_MEDIA_TYPE
from podium.web import guarding
from podium.web.errors import PLAYBACK_STATUS_BY_CODE
from podium.web.openapi import json_call, json_request, page

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(tags=["watch"])

_TEXT = {"type": "string"}
_SESSION_REF = {
    "session": {"type": "integer", "description": "The view session's id"},
    "key": {"type": "string", "description": "The view session's key"},
}
SESSION_REQUEST = json_request(
    {
        "password": {**_TEXT, "description": "An access password (a buyer's or a subscription's)"},
        "id_recovery": {**_TEXT, "description": "A buyer's id_recovery link value"},
        "email": {**_TEXT, "description": "A protect-list email, or the registration form's"},
        "name": {**_TEXT, "description": "The registration form's name"},
        "phone": {**_TEXT, "description": "The registration form's phone"},
        "preview": {"type": "boolean", "description": "Watch the free preview"},
        "device": {**_TEXT, "description": "The browser's device id (kept by the page)"},
    }
)
HEARTBEAT_REQUEST = json_request(
    {
        **_SESSION_REF,
        "watched": {"type": "number", "description": "Milliseconds watched since the last beat"},
        "live": {"type": "boolean", "description": "A live's page: answer its shared address's token too"},
    },
    required=("session", "key"),
)
END_REQUEST = json_request(_SESSION_REF, required=("session", "key"))

DEVICE_COOKIE = "podium_device"
DEVICE_RE = re.compile(r"^[0-9a-f]{32}$")
VENDOR_HLS = Path(__file__).parent / "static" / "vendor" / "hls.min.js"
STATUS_BY_CODE = PLAYBACK_STATUS_BY_CODE
TITLE_BY_CODE = {
    "not_found": "Video not found",
    "not_ready": "Video not ready",
    "too_many_attempts": "Too many attempts",
}
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    # Players are embedded in customers' sites (Boomstream PlayerCode is an iframe).
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "media-src 'self' blob:; worker-src 'self' blob:; frame-ancestors *"
    ),
}


def _status(error: DomainError) -> int:
    return STATUS_BY_CODE[error.code]


def error_page(request: Request, error: DomainError) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "link_error.html",
        {
            "heading": TITLE_BY_CODE.get(error.code, "Video unavailable"),
            "message": error.message,
            "code": error.code,
        },
        status_code=_status(error),
        headers=PAGE_HEADERS | retry_after_headers(error),
    )


def _device(request: Request, body: dict[str, Any]) -> str:
    """The browser's device id: kept by the page (localStorage) and in a cookie; made when absent."""
    for candidate in (str(body.get("device", "")), request.cookies.get(DEVICE_COOKIE, "")):
        if DEVICE_RE.match(candidate):
            return candidate
    return secrets.token_hex(16)


def _viewer(request: Request, device: str) -> Viewer:
    return Viewer(
        device_id=device,
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


async def _json(request: Request) -> dict[str, Any]:
    return parse_json_object(await request.body())


def _api_error(error: DomainError) -> JSONResponse:
    return JSONResponse(
        {"code": error.code, "message": error.message},
        status_code=_status(error),
        headers={"Cache-Control": "no-store"} | retry_after_headers(error),
    )


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _word(value: str | None) -> bool | None:
    """A yes/no page option: True, False, or None when absent or not a yes/no word."""
    value = (value or "").strip().lower()
    return True if value in TRUE_WORDS else False if value in FALSE_WORDS else None


async def player_page(request: Request, code: str, *, embed: bool, title_shown: bool) -> HTMLResponse:
    """The watch page of one media, for every way a site opens it (``/watch/<code>`` and the embeds).

    Options read from the query string: ``title=0`` hides the title, ``autostart`` (or ``autoplay``)
    ``1``/``0`` plays at once or waits for the viewer's click; ``id_recovery`` is read by the page
    itself (it signs in through the session API like a typed password). Other options are ignored.
    ``title_shown`` is the default when ``title`` is not given.
    """
    query = request.query_params
    title = _word(query.get("title"))
    autostart = _word(query.get("autostart", query.get("autoplay")))

    def work(ctx: Context) -> dict[str, Any]:
        offer = ViewingService(ctx.session, ctx.settings).offer(code)
        media = offer.media
        poster = MediaService(ctx.session, ctx.settings).poster_of(media)
        main = offer.paywalls[0] if offer.paywalls else None
        contacts = (
            PaywallService(ctx.session, ctx.settings).seller_contacts(media.company_id) if main else None
        )
        registration = offer.registration
        return {
            "media": media,
            "poster_url": f"/media/images/{poster.code}.jpg" if poster else "",
            "free": offer.free,
            "needs_password": offer.needs_password,
            "registration": registration.collection_type if registration else "",
            "preview_seconds": offer.preview_seconds or 0,
            "paywall": main,
            "contacts": contacts,
            "embed": embed,
            "show_title": title_shown if title is None else title,
            "autostart": "" if autostart is None else "yes" if autostart else "no",
            "heartbeat_seconds": ctx.settings.heartbeat_seconds,
            "has_hls_js": VENDOR_HLS.exists(),
        }

    try:
        page = await run_unit_of_work(request, work)
    except DomainError as error:
        return error_page(request, error)
    return templates.TemplateResponse(request, "watch.html", page, headers=PAGE_HEADERS)


@router.get("/watch/{code}", response_class=HTMLResponse, responses=page())
async def watch_page(request: Request, code: str, embed: str = "") -> HTMLResponse:
    """The player page of one media: free, or behind a password, a registration form or a preview."""
    embedded = bool(_word(embed))  # PlayerCode's iframe: no title unless ``title=1``
    return await player_page(request, code, embed=embedded, title_shown=not embedded)


@router.get("/watch/s/{code}", response_class=HTMLResponse, responses=page())
async def subscription_page(request: Request, code: str) -> HTMLResponse:
    """A subscription's page: its media, each opening with the subscription's access password."""
    attempts = guarding.attempts(request)
    # A code that names no subscription is a guess, counted on its prefix (and the client).
    guessed = targets.subscription_code(code)

    def work(ctx: Context) -> dict[str, Any]:
        attempts.check(ctx.session, guessed)
        try:
            paywall, medias = ViewingService(ctx.session, ctx.settings).paywall_page(code)
        except NotFound:
            attempts.failed(guessed)
            raise
        library = MediaService(ctx.session, ctx.settings)
        items = []
        for media in medias:
            poster = library.poster_of(media)
            items.append({"media": media, "poster_url": f"/media/images/{poster.code}.jpg" if poster else ""})
        contacts = PaywallService(ctx.session, ctx.settings).seller_contacts(paywall.company_id)
        return {"paywall": paywall, "items": items, "contacts": contacts}

    try:
        page = await run_unit_of_work(request, work)
    except DomainError as error:
        return error_page(request, error)
    finally:
        await attempts.settle_async()
    return templates.TemplateResponse(request, "subscription.html", page, headers=PAGE_HEADERS)


@router.post("/watch/{code}/session", responses=json_call(), openapi_extra=SESSION_REQUEST)
async def start_session(request: Request, code: str) -> Response:
    """Start playback: with an access password, the registration form, as a preview, or free."""
    try:
        body = await _json(request)
    except DomainError as error:
        return _api_error(error)
    device = _device(request, body)
    password = str(body.get("password", ""))
    recovery = body["id_recovery"] if isinstance(body.get("id_recovery"), str) else ""
    email = str(body.get("email", ""))
    attempts = guarding.attempts(request)

    def work(ctx: Context) -> dict[str, Any]:
        viewing = ViewingService(ctx.session, ctx.settings)
        guessed: tuple[Target, ...] = ()
        if password.strip() or recovery.strip() or email.strip():
            # An access password (typed or in an id_recovery link) or a protect-list email is a guess
            # at the media's subscriptions: each is a target, locked for everyone after a few misses.
            guessed = targets.ppv_access(viewing.offer(code).paywalls)
            attempts.check(ctx.session, *guessed)
        try:
            started = viewing.start(
                code,
                _viewer(request, device),
                password=password,
                recovery=recovery,
                email=email,
                name=str(body.get("name", "")),
                phone=str(body.get("phone", "")),
                preview=bool(body.get("preview", False)),
            )
        except DomainError as error:
            if guessed and error.code == ErrorCode.ACCESS_DENIED:
                attempts.failed(*guessed)
            raise
        src = f"{links.play_base(ctx.settings, started.token, code)}/master.m3u8"
        live_token = ""
        if viewing.embedded(code).media_type == LIVE_MEDIA_TYPE:
            # A live plays from the address all its viewers share (CDN-cacheable), renewed by beats.
            live_token = live_links.segment_token(ctx.settings, code)
            src = f"{ctx.settings.base_url}/live/{live_token}/{code}/index.m3u8"
        return {
            "session": started.session.id,
            "key": started.session.session_key,
            "token": started.token,
            "live_token": live_token,
            "src": src,
            "watermark": started.watermark,
            "preview_seconds": started.preview_seconds,
            "downloadable": started.downloadable,
            "heartbeat_seconds": ctx.settings.heartbeat_seconds,
            "device": device,
        }

    try:
        answer = await run_unit_of_work(request, work)
    except DomainError as error:
        return _api_error(error)
    finally:
        await attempts.settle_async()
    response = JSONResponse(answer, headers={"Cache-Control": "no-store"})
    response.set_cookie(DEVICE_COOKIE, device, max_age=400 * 86400, httponly=True, samesite="lax")
    return response


def _session_ref(body: dict[str, Any]) -> tuple[int, str]:
    session = body.get("session")
    key = body.get("key")
    if (
        not isinstance(session, int)
        or isinstance(session, bool)
        or not 0 < session <= coerce.INT_LIMIT
        or not isinstance(key, str)
    ):
        raise InvalidInput("session (a number) and key are required")
    return session, key


@router.post("/watch/heartbeat", responses=json_call(), openapi_extra=HEARTBEAT_REQUEST)
async def heartbeat(request: Request) -> Response:
    """Watched time since the last beat; answers a fresh playback token (or why playback must stop)."""
    try:
        body = await _json(request)
        session_id, key = _session_ref(body)
        watched = body.get("watched", 0)
        if not isinstance(watched, int | float) or isinstance(watched, bool) or not math.isfinite(watched):
            raise InvalidInput("watched must be a number of milliseconds")
    except DomainError as error:
        return _api_error(error)

    ledger: HeartbeatLedger = request.app.state.heartbeats
    seconds = request.app.state.settings.heartbeat_seconds
    try:
        # An admitted session's beat is counted in memory, on the event loop (no thread, no query).
        token = ledger.beat(session_id, key, int(watched))
        if token is None:

            def admit(ctx: Context) -> str:
                view = ViewingService(ctx.session, ctx.settings).admit(session_id, key)
                return ledger.admitted(view, int(watched))

            token = await run_unit_of_work(request, admit)
    except DomainError as error:
        return _api_error(error)
    answer: dict[str, Any] = {"token": token, "heartbeat_seconds": seconds}
    if body.get("live") is True:
        # The shared address of the session's live for the next half minute (a session of a video
        # gets a token that opens nothing: /live/ serves lives' files only).
        code = jwt.decode(token, options={"verify_signature": False}).get("m", "")
        answer["live_token"] = live_links.segment_token(request.app.state.settings, str(code))
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.post("/watch/end", status_code=204, responses=json_call(204), openapi_extra=END_REQUEST)
async def end_session(request: Request) -> Response:
    """The page is closing (sent with sendBeacon): the device is no longer live."""
    try:
        body = await _json(request)
        session_id, key = _session_ref(body)
    except DomainError as error:
        return _api_error(error)

    def work(ctx: Context) -> None:
        ViewingService(ctx.session, ctx.settings).end(session_id, key)

    try:
        await run_unit_of_work(request, work)
    except DomainError as error:
        return _api_error(error)
    request.app.state.heartbeats.forget(session_id)
    return Response(status_code=204)
