"""The room: entering the media room, the signaling WebSocket (docs/protocol/signaling.md), the scripts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.domain.chat.service import ChatService
from podium.kit.errors import DomainError, InvalidInput
from podium.kit.jsonbody import parse_json, parse_json_object
from podium.kit.uow import Context, run, run_unit_of_work, unit_of_work
from podium.rooms.hub import Connection, RoomHub
from podium.rooms.janus import JanusClient, JanusUnavailable
from podium.rooms.presence import Member
from podium.rooms.service import RoomService, Seat, is_moderator
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
        seat, rules, media_server = await run_in_threadpool(
            unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).admission(str(hello.get("key", "")))
        )
        me = Connection(
            websocket, seat.conference_id, seat.name, seat.role, seat.media_token, seat.participant_id
        )
        me.media_server = media_server
        if not rules.waits(seat.role):
            me.attendance_id = await run_in_threadpool(
                unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).arrive(seat)
            )
            if hello.get("resume") is True:
                # A page back after a network drop: its media token may have been revoked when its
                # old socket's departure was recorded; its media session joins again with it.
                await run_in_threadpool(_grant_again, websocket, seat)
    except DomainError as error:
        await websocket.close(code=4403, reason=error.message[:120])
        return
    await hub.add(me)
    tasks: set[asyncio.Task[None]] = set()
    try:
        # Not the seat's own older connections (a reconnect): they are about to leave.
        present = [
            m.describe()
            for m in await hub.members(seat.conference_id)
            if m.key == me.key or (not m.waiting and m.media_token != me.media_token)
        ]
        recording, streaming, resume_key, phones = await run_in_threadpool(
            unit_of_work,
            websocket,
            lambda ctx: (
                _rooms(ctx, websocket).is_recording(seat.conference_id),
                _rooms(ctx, websocket).streaming(seat.conference_id),
                _rooms(ctx, websocket).resume_key(seat),
                _rooms(ctx, websocket).phones(seat.conference_id),
            ),
        )
        await websocket.send_json(
            {
                "type": "welcome",
                "version": PROTOCOL_VERSION,
                "you": me.describe(),
                "participants": present,
                "recording": recording,
                "streaming": streaming,
                "key": resume_key,
                "phones": phones,
            }
        )
        if me.waiting:
            await websocket.send_json({"type": "waiting"})
            await hub.broadcast(
                seat.conference_id, {"type": "knocking", "participant": me.describe()}, moderators_only=True
            )
        else:
            await hub.broadcast(seat.conference_id, {"type": "joined", "participant": me.describe()}, skip=me)
            await hub.recall(seat.conference_id, me.key)
            await _moderators_see_waiting(hub, me)
        await hub.take_over(me)
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
                await hub.update(me)
                await hub.broadcast(seat.conference_id, me.state())
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
                me.screen = bool(message.get("on"))
                await hub.broadcast(seat.conference_id, me.state())
            elif kind == "state":
                # Microphone, camera, raised hand: the tiles and the moderators' queue show them
                # (a visitor in the waiting room has none yet).
                if not me.waiting:
                    _apply_state(me, message)
                    await hub.broadcast(seat.conference_id, me.state())
            elif kind == "record" and not me.waiting:
                if not is_moderator(me.role):
                    await websocket.send_json({"type": "error", "message": "Only moderators can record"})
                    continue
                await _record(websocket, seat.conference_id, me, bool(message.get("on")))
            elif kind == "stream" and not me.waiting:
                if not is_moderator(me.role):
                    await websocket.send_json({"type": "error", "message": "Only moderators can stream"})
                    continue
                await _stream(websocket, seat.conference_id, me, bool(message.get("on")))
            elif kind == "phone" and not me.waiting:
                if not is_moderator(me.role):
                    await websocket.send_json({"type": "error", "message": "Only moderators can do that"})
                    continue
                await _moderate_phone(websocket, seat.conference_id, me, message)
            elif kind in ("admit", "mute", "remove", "end", "lower"):
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
        await hub.remove(me)
        # A replaced connection's departure was recorded (media kept) when its seat connected again.
        if me.attendance_id is not None and not me.replaced:
            attendance_id = me.attendance_id
            await run_in_threadpool(
                unit_of_work,
                websocket,
                lambda ctx: _rooms(ctx, websocket).depart(attendance_id, seat.media_token),
            )
        if not me.replaced:
            await hub.broadcast(seat.conference_id, {"type": "left", "participant": me.describe()})
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


def _apply_state(me: Connection, message: dict[str, Any]) -> None:
    """What a page says of itself: ``audio`` and ``video`` on or off, ``hand`` up or down (a hand
    keeps its place in the queue while it stays up)."""
    for name in ("audio", "video"):
        if isinstance(message.get(name), bool):
            setattr(me, name, message[name])
    if isinstance(message.get("hand"), bool):
        me.hand = (me.hand or time.time()) if message["hand"] else None


def _grant_again(websocket: WebSocket, seat: Seat) -> None:
    def work(ctx: Context) -> None:
        rooms = _rooms(ctx, websocket)
        rooms.grant_media(rooms.server_of(rooms._live(seat.conference_id)), seat.media_token)

    try:
        unit_of_work(websocket, work)
    except DomainError as error:  # the page's media session says what is wrong
        log.warning("conference %s: media token not granted again: %s", seat.conference_id, error.message)


def _publisher(value: Any) -> int | None:
    """A media publisher id as the page reports it (Janus ids are positive 64-bit integers)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    return None


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


async def _stream(websocket: WebSocket, conference_id: int, me: Connection, on: bool) -> None:
    """A moderator starts or stops the meeting's live stream; everyone is told by the room event."""

    def work(ctx: Context) -> None:
        rooms = _rooms(ctx, websocket)
        if on:
            rooms.start_streaming(conference_id, started_by=f"moderator:{me.name}"[:64])
        else:
            rooms.stop_streaming(conference_id, actor=f"moderator:{me.name}"[:64])

    try:
        await run_in_threadpool(unit_of_work, websocket, work)
    except DomainError as error:
        await websocket.send_json({"type": "error", "message": error.message})


async def _moderate_phone(websocket: WebSocket, conference_id: int, me: Connection, message: Any) -> None:
    """A moderator mutes, unmutes or hangs up a phone call; everyone is told by the room event."""
    leg_id, action = message.get("id"), str(message.get("action", ""))
    if not isinstance(leg_id, int) or isinstance(leg_id, bool):
        await websocket.send_json({"type": "error", "message": "A phone call's id is a number"})
        return

    def work(ctx: Context) -> None:
        _rooms(ctx, websocket).moderate_phone(
            conference_id, leg_id, action, actor=f"moderator:{me.name}"[:64]
        )

    try:
        await run_in_threadpool(unit_of_work, websocket, work)
    except DomainError as error:
        await websocket.send_json({"type": "error", "message": error.message})


async def _moderators_see_waiting(hub: RoomHub, me: Connection) -> None:
    """A moderator who arrives learns who is already knocking (on any process)."""
    if is_moderator(me.role):
        for member in await hub.members(me.conference_id):
            if member.waiting:
                await me.websocket.send_json({"type": "knocking", "participant": member.describe()})


def _room_of(websocket: WebSocket, conference_id: int) -> tuple[JanusClient, int, str] | None:
    """The Janus, room number and room secret of a conference (None before its first join)."""
    result: tuple[JanusClient, int, str] | None = unit_of_work(
        websocket, lambda ctx: _rooms(ctx, websocket).room_of(conference_id)
    )
    return result


async def _enforce_later(delay: float, websocket: WebSocket, hub: RoomHub, conference_id: int) -> None:
    await asyncio.sleep(delay)
    allowed = {
        m.publisher_id for m in await hub.members(conference_id) if is_moderator(m.role) and m.publisher_id
    }
    await run_in_threadpool(_enforce_presentation, websocket, conference_id, allowed)


def _enforce_presentation(websocket: WebSocket, conference_id: int, allowed: set[int]) -> None:
    """In presentation mode, any publisher that is not a moderator's (``allowed``) is muted at the
    media server."""
    found = _room_of(websocket, conference_id)
    if found is None:
        return
    server, room, secret = found
    try:
        for publisher in server.participants(room):
            if publisher.get("publisher") and publisher.get("id") not in allowed:
                server.moderate(
                    room, secret=secret, publisher=int(publisher["id"]), mids=["0", "1"], mute=True
                )
    except JanusUnavailable:
        log.warning("could not enforce presentation mode in room %s", room)


async def _moderate(websocket: WebSocket, hub: RoomHub, me: Connection, kind: str, key: str) -> None:
    """A moderator's command: ``end`` here; one aimed at a connection goes to the process holding it."""
    conference_id = me.conference_id
    if kind == "end":
        await run_in_threadpool(
            unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).end(conference_id)
        )
        return
    target = await hub.find(conference_id, key)
    if target is None:
        await websocket.send_json({"type": "error", "message": "No such participant"})
        return
    await hub.order(target, kind, me.name)


async def obey(target: Connection, order: str, by: str) -> None:
    """Carry out an order on a socket of this process: a moderator's ``admit``, ``mute``, ``remove``,
    ``lower`` (a raised hand)
    (the moderator may be on another process, ``RoomHub.order``), or ``replaced`` (the seat
    connected again: this socket closes without a departure of its own)."""
    websocket = target.websocket
    hub: RoomHub = websocket.app.state.room_hub
    conference_id = target.conference_id
    seat = Seat(conference_id, target.participant_id, None, target.name, target.role, target.media_token)
    if order == "admit":
        if not target.waiting:
            return
        try:
            target.attendance_id = await run_in_threadpool(
                unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).admit(seat)
            )
        except DomainError as error:
            log.warning("conference %s: could not admit a visitor: %s", conference_id, error.message)
            return
        await hub.update(target)
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "admitted", "token": target.media_token})
        await hub.broadcast(conference_id, {"type": "joined", "participant": target.describe()}, skip=target)
        await hub.recall(conference_id, target.key)
        return
    if order == "lower":
        target.hand = None
        await hub.broadcast(conference_id, target.state())
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "hand-lowered", "by": by})
        return
    if order == "replaced":
        target.replaced = True
        with contextlib.suppress(Exception):
            await websocket.close(code=4002, reason="connected again elsewhere")
        return
    if order not in ("mute", "remove"):
        return
    found = await run_in_threadpool(_room_of, websocket, conference_id)
    publisher = target.publisher_id
    if order == "mute":
        if found is not None and publisher:
            server, room, secret = found
            with contextlib.suppress(JanusUnavailable):
                await run_in_threadpool(
                    lambda: server.moderate(room, secret=secret, publisher=publisher, mids=["0"], mute=True)
                )
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "muted", "by": by})
        target.audio = False
        await hub.broadcast(conference_id, target.state())
    else:
        # Recorded first: the seat's resume key (and a personal link) no longer lets it back in.
        try:
            await run_in_threadpool(
                unit_of_work, websocket, lambda ctx: _rooms(ctx, websocket).remove(seat, removed_by=by)
            )
        except DomainError as error:  # the meeting ended meanwhile: the socket closes all the same
            log.info("conference %s: removal not recorded: %s", conference_id, error.message)
        if found is not None and publisher:
            server, room, secret = found
            with contextlib.suppress(JanusUnavailable):
                await run_in_threadpool(lambda: server.kick(room, secret=secret, publisher=publisher))
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "removed", "by": by})
            await websocket.close(code=4001, reason="removed by a moderator")


def depart_vanished(app: FastAPI, member: Member, keep_media: bool) -> None:
    """A visitor whose server process died (no socket said goodbye): the leave is recorded, and the
    media token revoked unless the visitor is back through another process (``keep_media``)."""
    if member.attendance_id is None:
        return  # still waiting: never joined, never had media
    attendance_id, state = member.attendance_id, app.state

    def work(ctx: Context) -> None:
        RoomService(ctx.session, ctx.settings, state.media).depart(
            attendance_id, member.media_token, revoke_media=not keep_media
        )

    run(state.sessions, state.settings, work, state.dispatcher)
