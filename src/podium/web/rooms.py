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

from podium.domain.chat.service import ChatService
from podium.kit.errors import DomainError, InvalidInput
from podium.kit.jsonbody import parse_json, parse_json_object
from podium.kit.uow import Context, run_unit_of_work, unit_of_work
from podium.rooms.hub import Connection, RoomHub
from podium.rooms.janus import JanusClient, JanusUnavailable
from podium.rooms.service import RoomRules, RoomService, Seat, is_moderator
from podium.web.errors import status_for
from podium.web.openapi import json_call, json_request

log = logging.getLogger(__name__)
router = APIRouter(tags=["rooms"])
PROTOCOL_VERSION = 1
ENTER_REQUEST = json_request(
    {
        "ticket": {"type": "string", "description": "The lobby's ticket"},
        "name": {"type": "string", "description": "A guest's name"},
    },
    required=("ticket",),
)
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")


def _rooms(ctx: Context, request: Request | WebSocket) -> RoomService:
    return RoomService(ctx.session, ctx.settings, getattr(request.app.state, "media", None))


@router.post("/rooms/enter", responses=json_call(), openapi_extra=ENTER_REQUEST)
async def enter(request: Request) -> JSONResponse:
    """Trade the lobby's ticket (and a guest's name) for a seat in the media room."""
    try:
        body = parse_json_object(await request.body())
        ticket, name = str(body.get("ticket", "")), str(body.get("name", ""))
        entry = await run_unit_of_work(request, lambda ctx: _rooms(ctx, request).enter(ticket, name))
    except DomainError as error:
        status = status_for(error)
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


async def _receive(websocket: WebSocket, idle: float) -> Any:
    """The next message, read through the one JSON reader (a malformed one is a protocol error)."""
    text = await asyncio.wait_for(websocket.receive_text(), idle)
    return parse_json(text.encode("utf-8", "surrogatepass"), max_depth=8)


@router.websocket("/rooms/ws")
async def signaling(websocket: WebSocket) -> None:
    """Presence, chat and system messages of one room (protocol in docs/protocol/signaling.md)."""
    await websocket.accept()
    hub: RoomHub = websocket.app.state.room_hub
    idle = float(websocket.app.state.settings.room_idle_seconds)
    try:
        hello = await _receive(websocket, idle)
    except (TimeoutError, WebSocketDisconnect, InvalidInput):
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
            unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).seat(str(hello.get("key", "")))
        )
        rules: RoomRules = await run_in_threadpool(
            unit_of_work,
            websocket,
            lambda ctx: _rooms(ctx, websocket).rules(_rooms(ctx, websocket)._live(seat.conference_id)),
        )
        me = Connection(
            websocket, seat.conference_id, seat.name, seat.role, seat.media_token, seat.participant_id
        )
        if not rules.waits(seat.role):
            me.attendance_id = await run_in_threadpool(
                unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).arrive(seat)
            )
    except DomainError as error:
        await websocket.close(code=4403, reason=error.message[:120])
        return
    hub.add(me)
    tasks: set[asyncio.Task[None]] = set()
    try:
        present = [c.describe() for c in hub.members(seat.conference_id) if not c.waiting or c is me]
        recording = await run_in_threadpool(
            unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).is_recording(seat.conference_id)
        )
        await websocket.send_json(
            {
                "type": "welcome",
                "version": PROTOCOL_VERSION,
                "you": me.describe(),
                "participants": present,
                "recording": recording,
            }
        )
        if me.waiting:
            await websocket.send_json({"type": "waiting"})
            await _to_moderators(hub, seat.conference_id, {"type": "knocking", "participant": me.describe()})
        else:
            await hub.broadcast(seat.conference_id, {"type": "joined", "participant": me.describe()}, skip=me)
            await _moderators_see_waiting(hub, me)
        while True:
            message = await _receive(websocket, idle)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ping":
                await websocket.send_json({"type": "pong"})
            elif kind == "chat" and not me.waiting:
                text = str(message.get("text", "")).strip()[:4000]
                if text:
                    await run_in_threadpool(
                        unit_of_work,
                        websocket,
                        lambda ctx, t=text: ChatService(ctx.session).post_from_room(
                            seat.conference_id, me.name, me.participant_id, t
                        ),
                    )
                    await hub.broadcast(
                        seat.conference_id, {"type": "chat", "from": me.name, "text": text, "system": False}
                    )
            elif kind == "media" and not me.waiting:
                me.publisher_id = _publisher(message.get("publisher"))
                if me.attendance_id is not None:
                    attendance_id, publisher_id = me.attendance_id, me.publisher_id
                    await run_in_threadpool(
                        unit_of_work,
                        websocket,
                        lambda ctx, a=attendance_id, p=publisher_id: _rooms(ctx, websocket).note_publisher(
                            a, p
                        ),
                    )
                if rules.mute_mode == "presentation":
                    # The publisher shows up in Janus once its offer is negotiated: look again shortly.
                    for delay in (0.0, 1.0, 3.0):
                        check = _enforce_later(delay, websocket, hub, seat.conference_id)
                        tasks.add(asyncio.create_task(check))
            elif kind == "screen" and not me.waiting and me.publisher_id is not None:
                # A screen share takes the stage of the recording while it lasts.
                await _note_screen_share(
                    websocket, seat.conference_id, me.publisher_id, bool(message.get("on"))
                )
            elif kind == "record" and not me.waiting:
                if not is_moderator(me.role):
                    await websocket.send_json({"type": "error", "message": "Only moderators can record"})
                    continue
                await _record(websocket, seat.conference_id, me, bool(message.get("on")))
            elif kind in ("admit", "mute", "remove", "end"):
                if not is_moderator(me.role):
                    await websocket.send_json({"type": "error", "message": "Only moderators can do that"})
                    continue
                await _moderate(websocket, hub, me, kind, str(message.get("id", "")))
            elif kind == "leave":
                break
            else:
                await websocket.send_json({"type": "error", "message": f"unknown message type {kind!r}"})
    except InvalidInput:
        # A malformed message is a protocol error: the socket closes (docs/protocol/signaling.md).
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=4400, reason="malformed message")
    except (TimeoutError, WebSocketDisconnect, ValueError, RuntimeError):
        pass
    finally:
        hub.remove(me)
        if me.attendance_id is not None:
            attendance_id = me.attendance_id
            await run_in_threadpool(
                unit_of_work,
                websocket,
                lambda ctx: _rooms(ctx, websocket).depart(attendance_id, seat.media_token),
            )
        await hub.broadcast(seat.conference_id, {"type": "left", "participant": me.describe()})
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


def _publisher(value: Any) -> int | None:
    """A media publisher id as the page reports it (Janus ids are positive 64-bit integers)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    return None


async def _note_publisher(websocket: WebSocket, attendance_id: int, publisher_id: int | None) -> None:
    await run_in_threadpool(
        unit_of_work,
        websocket,
        lambda ctx: _rooms(ctx, websocket).note_publisher(attendance_id, publisher_id),
    )


async def _note_screen_share(websocket: WebSocket, conference_id: int, publisher_id: int, on: bool) -> None:
    def work(ctx: Context) -> None:
        _rooms(ctx, websocket).note_screen_share(conference_id, publisher_id, on)

    await run_in_threadpool(unit_of_work, websocket, work)


async def _record(websocket: WebSocket, conference_id: int, me: Connection, on: bool) -> None:
    """A moderator starts or stops recording; everyone is told by the room event that follows."""

    def work(ctx: Context) -> None:
        rooms = _rooms(ctx, websocket)
        if on:
            rooms.start_recording(conference_id, started_by=f"moderator:{me.name}"[:64])
        else:
            rooms.stop_recording(conference_id)

    try:
        await run_in_threadpool(unit_of_work, websocket, work)
    except DomainError as error:
        await websocket.send_json({"type": "error", "message": error.message})


async def _to_moderators(hub: RoomHub, conference_id: int, message: dict[str, Any]) -> None:
    for connection in hub.members(conference_id):
        if is_moderator(connection.role) and not connection.waiting:
            with contextlib.suppress(Exception):
                await connection.websocket.send_json(message)


async def _moderators_see_waiting(hub: RoomHub, me: Connection) -> None:
    """A moderator who arrives learns who is already knocking."""
    if is_moderator(me.role):
        for connection in hub.members(me.conference_id):
            if connection.waiting:
                await me.websocket.send_json({"type": "knocking", "participant": connection.describe()})


def _room_of(websocket: WebSocket, conference_id: int) -> tuple[JanusClient, int, str] | None:
    """The Janus, room number and room secret of a conference (None before its first join)."""
    result: tuple[JanusClient, int, str] | None = unit_of_work(
        websocket, lambda ctx: _rooms(ctx, websocket).room_of(conference_id)
    )
    return result


async def _enforce_later(delay: float, websocket: WebSocket, hub: RoomHub, conference_id: int) -> None:
    await asyncio.sleep(delay)
    await run_in_threadpool(_enforce_presentation, websocket, hub, conference_id)


def _enforce_presentation(websocket: WebSocket, hub: RoomHub, conference_id: int) -> None:
    """In presentation mode, any publisher that is not a moderator's is muted at the media server."""
    found = _room_of(websocket, conference_id)
    if found is None:
        return
    server, room, secret = found
    allowed = {c.publisher_id for c in hub.members(conference_id) if is_moderator(c.role) and c.publisher_id}
    try:
        for publisher in server.participants(room):
            if publisher.get("publisher") and publisher.get("id") not in allowed:
                server.moderate(
                    room, secret=secret, publisher=int(publisher["id"]), mids=["0", "1"], mute=True
                )
    except JanusUnavailable:
        log.warning("could not enforce presentation mode in room %s", room)


async def _moderate(websocket: WebSocket, hub: RoomHub, me: Connection, kind: str, key: str) -> None:
    conference_id = me.conference_id
    if kind == "end":
        await run_in_threadpool(
            unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).end(conference_id)
        )
        return
    target = hub.find(conference_id, key)
    if target is None:
        await websocket.send_json({"type": "error", "message": "No such participant"})
        return
    if kind == "admit":
        if not target.waiting:
            return
        seat = Seat(conference_id, target.participant_id, None, target.name, target.role, target.media_token)

        target.attendance_id = await run_in_threadpool(
            unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).admit(seat)
        )
        await target.websocket.send_json({"type": "admitted", "token": target.media_token})
        await hub.broadcast(conference_id, {"type": "joined", "participant": target.describe()}, skip=target)
        return
    found = await run_in_threadpool(_room_of, websocket, conference_id)
    publisher = target.publisher_id
    if kind == "mute":
        if found is not None and publisher:
            server, room, secret = found
            with contextlib.suppress(JanusUnavailable):
                await run_in_threadpool(
                    lambda: server.moderate(room, secret=secret, publisher=publisher, mids=["0"], mute=True)
                )
        await target.websocket.send_json({"type": "muted", "by": me.name})
    elif kind == "remove":
        if found is not None and publisher:
            server, room, secret = found
            with contextlib.suppress(JanusUnavailable):
                await run_in_threadpool(lambda: server.kick(room, secret=secret, publisher=publisher))
        with contextlib.suppress(Exception):
            await target.websocket.send_json({"type": "removed", "by": me.name})
            await target.websocket.close(code=4001, reason="removed by a moderator")
