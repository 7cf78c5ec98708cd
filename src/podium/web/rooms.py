"""The room: entering the media room, the signaling WebSocket (docs/protocol/signaling.md), the scripts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.edges.common import Context, run_unit_of_work, unit_of_work
from podium.kit.errors import DomainError
from podium.rooms.hub import Connection, RoomHub
from podium.rooms.service import RoomService, Seat
from podium.web.errors import status_for

log = logging.getLogger(__name__)
router = APIRouter(tags=["rooms"])
PROTOCOL_VERSION = 1
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")


def _rooms(ctx: Context, request: Request | WebSocket) -> RoomService:
    return RoomService(ctx.session, ctx.settings, getattr(request.app.state, "media", None))


@router.post("/rooms/enter")
async def enter(request: Request) -> JSONResponse:
    """Trade the lobby's ticket (and a guest's name) for a seat in the media room."""
    try:
        body = await request.json()
    except ValueError:
        body = {}
    ticket, name = str(body.get("ticket", "")), str(body.get("name", ""))
    try:
        entry = await run_unit_of_work(request, lambda ctx: _rooms(ctx, request).enter(ticket, name))
    except DomainError as error:
        status = 503 if error.code == "media_unavailable" else status_for(error)
        return JSONResponse({"message": error.message, "error": error.code}, status_code=status)
    return JSONResponse(entry.as_json())


@router.get("/static/janus.js", include_in_schema=False)
async def janus_js() -> Response:
    if not JANUS_JS.exists():
        return Response(
            "// janus.js is not installed (Debian package libjs-janus-gateway)",
            status_code=503,
            media_type="application/javascript",
        )
    return FileResponse(JANUS_JS, media_type="application/javascript")


class _Request:
    """unit_of_work needs only .app; a WebSocket has it too."""

    def __init__(self, websocket: WebSocket) -> None:
        self.app = websocket.app


@router.websocket("/rooms/ws")
async def signaling(websocket: WebSocket) -> None:
    """Presence, chat and system messages of one room (protocol in docs/protocol/signaling.md)."""
    await websocket.accept()
    hub: RoomHub = websocket.app.state.room_hub
    carrier: Any = _Request(websocket)
    idle = float(websocket.app.state.settings.room_idle_seconds)
    try:
        hello = await asyncio.wait_for(websocket.receive_json(), idle)
    except (TimeoutError, WebSocketDisconnect, ValueError):
        await websocket.close(code=4400, reason="expected hello")
        return
    if (
        not isinstance(hello, dict)
        or hello.get("type") != "hello"
        or hello.get("version") != PROTOCOL_VERSION
    ):
        await websocket.close(code=4400, reason=f"expected hello with version {PROTOCOL_VERSION}")
        return
    try:
        seat: Seat = await run_in_threadpool(
            unit_of_work, carrier, lambda ctx: _rooms(ctx, websocket).seat(str(hello.get("key", "")))
        )
        attendance_id: int = await run_in_threadpool(
            unit_of_work, carrier, lambda ctx: _rooms(ctx, websocket).arrive(seat)
        )
    except DomainError as error:
        await websocket.close(code=4403, reason=error.message[:120])
        return
    me = Connection(
        websocket,
        seat.conference_id,
        seat.name,
        seat.role,
        attendance_id,
        seat.media_token,
        seat.participant_id,
    )
    hub.add(me)
    try:
        await websocket.send_json(
            {
                "type": "welcome",
                "version": PROTOCOL_VERSION,
                "you": me.describe(),
                "participants": [c.describe() for c in hub.members(seat.conference_id)],
            }
        )
        await hub.broadcast(seat.conference_id, {"type": "joined", "participant": me.describe()}, skip=me)
        while True:
            message = await asyncio.wait_for(websocket.receive_json(), idle)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ping":
                await websocket.send_json({"type": "pong"})
            elif kind == "chat":
                text = str(message.get("text", "")).strip()[:4000]
                if text:
                    await hub.broadcast(
                        seat.conference_id, {"type": "chat", "from": me.name, "text": text, "system": False}
                    )
            elif kind == "leave":
                break
            else:
                await websocket.send_json({"type": "error", "message": f"unknown message type {kind!r}"})
    except (TimeoutError, WebSocketDisconnect, ValueError, RuntimeError):
        pass
    finally:
        hub.remove(me)
        await run_in_threadpool(
            unit_of_work, carrier, lambda ctx: _rooms(ctx, websocket).depart(attendance_id, seat.media_token)
        )
        await hub.broadcast(seat.conference_id, {"type": "left", "participant": me.describe()})
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()
