"""A conference's streaming page (the webinar page): its stream played by the watch page's player,
a notice while it is not live, and questions to the meeting's moderators.

Viewers need no camera, no media server and no account: the stream is HLS from the conference's live
(domain/streams), watched and counted like any free video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from podium.domain.streams.previews import PreviewService
from podium.domain.streams.service import StreamService, conference_of_page_key
from podium.kit.clients import client_address
from podium.kit.errors import DomainError
from podium.kit.jsonbody import parse_json_object
from podium.kit.links import Links
from podium.kit.uow import Context, run_unit_of_work
from podium.web.openapi import files, json_call, json_request, page
from podium.web.signed_files import signed_file
from podium.web.watch import _api_error, error_page

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(tags=["streaming"])
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
QUESTION_REQUEST = json_request(
    {
        "name": {"type": "string", "description": "Who asks (optional)"},
        "text": {"type": "string", "description": "The question"},
    },
    required=("text",),
)


def _state(ctx: Context, key: str) -> dict[str, Any]:
    conference_id = conference_of_page_key(ctx.settings, key)
    shown = StreamService(ctx.session, ctx.settings).page(conference_id)
    return {
        "title": shown.title,
        "streaming": shown.streaming,
        "player_url": Links(ctx.settings).watch(shown.live_code, embed=True) if shown.live_code else None,
    }


@router.get("/stream/{key}", response_class=HTMLResponse, responses=page())
async def streaming_page(request: Request, key: str) -> HTMLResponse:
    try:
        state = await run_unit_of_work(request, lambda ctx: _state(ctx, key))
    except DomainError as error:
        return error_page(request, error)
    return templates.TemplateResponse(request, "stream.html", {**state, "key": key}, headers=PAGE_HEADERS)


@router.get("/stream/{key}/state", responses=json_call())
async def streaming_state(request: Request, key: str) -> Response:
    """What the page polls: whether the stream runs, and its player."""
    try:
        state = await run_unit_of_work(request, lambda ctx: _state(ctx, key))
    except DomainError as error:
        return _api_error(error)
    return JSONResponse(state, headers={"Cache-Control": "no-store"})


@router.post(
    "/stream/{key}/questions", status_code=204, responses=json_call(204), openapi_extra=QUESTION_REQUEST
)
async def ask(request: Request, key: str) -> Response:
    """A viewer's question: kept with the meeting's chat and shown to its moderators in the room."""
    try:
        body = parse_json_object(await request.body())

        def work(ctx: Context) -> tuple[int, str, str]:
            conference_id = conference_of_page_key(ctx.settings, key)
            name, text = StreamService(ctx.session, ctx.settings).ask(
                conference_id,
                str(body.get("name") or ""),
                str(body.get("text") or ""),
                viewer=client_address(request),
            )
            return conference_id, name, text

        conference_id, name, text = await run_unit_of_work(request, work)
    except DomainError as error:
        return _api_error(error)
    hub = getattr(request.app.state, "room_hub", None)
    if hub is not None:
        await hub.broadcast(
            conference_id, {"type": "question", "from": name, "text": text}, moderators_only=True
        )
    return Response(status_code=204)


@router.get("/previews/{preview_id}/{file_name}", responses=files("video/mp4"))
async def stream_preview_file(request: Request, preview_id: int, file_name: str, token: str = "") -> Response:
    """A stream's preview clip (MP4) or image (JPEG), through its signed link (kept 24 hours)."""

    def find(ctx: Context) -> tuple[Path, str]:
        return PreviewService(ctx.session, ctx.settings).file_for_link(preview_id, file_name, token)

    return await signed_file(request, find, {"Cache-Control": "private, max-age=300"})
