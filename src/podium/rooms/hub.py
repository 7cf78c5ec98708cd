"""The room hub: this process's signaling sockets, the rooms' presence, and fan-out to every process.

Each socket lives in one process; everything about rooms goes through the bus (``kit/bus.py``) so that
it reaches the sockets of every process (ADR 0007):

- ``broadcast`` (presence, chat, knocking): delivered by each process to its own sockets of the room;
- ``publish_threadsafe`` (room events raised after a commit, by any thread of any process — a request,
  the outbox or media worker, ``podium worker``): delivered the same way; an ``ended`` event also
  closes the sockets and the media room;
- ``order`` (a moderator's admit, mute, remove, lower a hand, aimed at a connection): carried out by the
  process that holds that connection's socket, wherever the moderator is;
- ``recall`` (someone arrived): every process sends the newcomer the state of its own sockets of the
  room (microphone, camera, screen share, raised hand), so the state lives with its socket only.

Presence (who is in which room) is ``rooms/presence.py``: in memory with one process, in Redis with
several. Without ``PODIUM_REDIS_URL`` the bus and presence are in-process: one server process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket

from podium.config import Settings
from podium.kit.bus import Bus, InProcessBus, RedisBus
from podium.kit.metrics import ROOM_CONNECTIONS
from podium.rooms.presence import LocalPresence, Member, Presence, RedisPresence
from podium.rooms.service import is_moderator

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Connection:
    """A signaling socket of this process."""

    websocket: WebSocket
    conference_id: int
    name: str
    role: str
    media_token: str
    participant_id: int | None = None
    attendance_id: int | None = None  # None while in the waiting room
    publisher_id: int | None = None  # the visitor's Janus publisher, as its page reports it
    media_server: str | None = None  # the Janus its media token is on (the conference's)
    key: str = field(default_factory=lambda: secrets.token_hex(6))
    process: str = ""
    replaced: bool = False  # the same seat connected again (a reconnect): this socket is stale
    # What the page reports of itself (the tiles show it; moderators see the raised hands in order).
    audio: bool = True
    video: bool = True
    screen: bool = False
    hand: float | None = None  # when the hand went up (epoch seconds), None when it is down

    @property
    def waiting(self) -> bool:
        return self.attendance_id is None

    def describe(self) -> dict[str, Any]:
        return self.member().describe()

    def state(self) -> dict[str, Any]:
        """The ``state`` message of this connection (docs/protocol/signaling.md)."""
        return {
            "type": "state",
            "participant": self.describe(),
            "publisher": self.publisher_id,
            "audio": self.audio,
            "video": self.video,
            "screen": self.screen,
            "hand": self.hand,
        }

    def member(self) -> Member:
        return Member(
            key=self.key,
            conference_id=self.conference_id,
            name=self.name,
            role=self.role,
            waiting=self.waiting,
            process=self.process,
            media_token=self.media_token,
            participant_id=self.participant_id,
            attendance_id=self.attendance_id,
            publisher_id=self.publisher_id,
            media_server=self.media_server,
        )


# A moderator's order, carried out where the target's socket is: (target, order, by whom).
OrderHandler = Callable[[Connection, str, str], Awaitable[None]]


class RoomHub:
    def __init__(self, bus: Bus | None = None, presence: Presence | None = None) -> None:
        self.bus: Bus = bus or InProcessBus()
        self.presence: Presence = presence or LocalPresence()
        self.sockets: dict[str, Connection] = {}  # this process's, by connection key
        self.on_ended: Callable[[int], None] | None = None  # closes an ended conference's media room
        self.on_order: OrderHandler | None = None
        # Told every room event this process receives (cheap and non-blocking: on the event loop).
        self.on_event: Callable[[int, dict[str, Any]], None] | None = None
        # Records the departure of a member whose process died (``keep_media``: its media token is
        # in use again, by the same visitor reconnected to another process).
        self.on_vanished: Callable[[Member, bool], None] | None = None
        # Whether this process reaches the Janus a vanished member's token is on (to revoke it).
        self.reaches_media: Callable[[str], bool] = lambda api_url: True
        self._started = False

    @classmethod
    def for_settings(cls, settings: Settings) -> RoomHub:
        """Redis fan-out and presence with ``PODIUM_REDIS_URL``, else in-process."""
        if not settings.redis_url:
            return cls()
        bus = RedisBus(settings.redis_url)
        return cls(bus, RedisPresence(bus.client))

    async def start(self) -> None:
        await self.bus.start(self._receive)
        await self.presence.start(self._vanished, self._can_depart)
        self._started = True

    async def close(self) -> None:
        if self._started:
            await self.presence.close()
        await self.bus.close()
        self._started = False

    # --- presence ---------------------------------------------------------------------------------

    async def add(self, connection: Connection) -> None:
        connection.process = self.presence.process
        self.sockets[connection.key] = connection
        await self.presence.put(connection.member())
        ROOM_CONNECTIONS.inc()

    async def update(self, connection: Connection) -> None:
        """The connection changed (admitted, publishing): every process sees it."""
        if connection.key in self.sockets:
            await self.presence.put(connection.member())

    async def remove(self, connection: Connection) -> None:
        self.sockets.pop(connection.key, None)
        try:
            await self.presence.remove(connection.member())
        except Exception:  # noqa: BLE001 - Redis away: the leave is still recorded
            log.warning("presence: could not remove a member", exc_info=True)

    async def census(self) -> tuple[int, int]:
        """(rooms with someone in them, people in rooms) on every process (``/metrics``)."""
        return await self.presence.census()

    async def members(self, conference_id: int) -> list[Member]:
        """Everyone in the room, on every process, in arrival order."""
        return await self.presence.members(conference_id)

    async def find(self, conference_id: int, key: str) -> Member | None:
        return next((m for m in await self.members(conference_id) if m.key == key), None)

    async def take_over(self, connection: Connection) -> None:
        """A seat connected again (its page reconnected, e.g. after its server process died): the
        seat's older connections leave — their departure recorded, their media token kept for the
        new one, and a still-open old socket closed by its process."""
        for stale in await self.members(connection.conference_id):
            if stale.media_token != connection.media_token or stale.key == connection.key:
                continue
            if not await self.presence.remove(stale):
                continue  # its own socket (or a sweep) removed it meanwhile
            await self.order(stale, "replaced", connection.name)
            if self.on_vanished is not None:
                await asyncio.to_thread(self.on_vanished, stale, True)
            await self.broadcast(stale.conference_id, {"type": "left", "participant": stale.describe()})

    def _can_depart(self, member: Member) -> bool:
        return member.media_server is None or self.reaches_media(member.media_server)

    async def _vanished(self, member: Member) -> None:
        """A dead process's member: its departure is recorded and the room is told it left."""
        if self.on_vanished is not None:
            token_in_use = any(
                m.media_token == member.media_token for m in await self.members(member.conference_id)
            )
            log.info(
                "presence: %s (process %s) vanished from conference %d; media %s",
                member.key,
                member.process,
                member.conference_id,
                "kept (its seat is back)" if token_in_use else "revoked",
            )
            await asyncio.to_thread(self.on_vanished, member, token_in_use)
        await self.broadcast(member.conference_id, {"type": "left", "participant": member.describe()})

    # --- fan-out ----------------------------------------------------------------------------------

    async def broadcast(
        self,
        conference_id: int,
        message: dict[str, Any],
        *,
        skip: Connection | None = None,
        moderators_only: bool = False,
        only: str | None = None,
    ) -> None:
        """Tell the room's sockets on every process (all, the admitted moderators, or the one
        connection whose key is ``only``)."""
        await self.bus.publish(
            {
                "kind": "room",
                "conference": conference_id,
                "message": message,
                "skip": skip.key if skip is not None else None,
                "moderators": moderators_only,
                "only": only,
            }
        )

    async def recall(self, conference_id: int, to: str) -> None:
        """Every process sends connection ``to`` the state of its own admitted sockets of the room."""
        await self.bus.publish({"kind": "recall", "conference": conference_id, "to": to})

    async def order(self, target: Member, order: str, by: str) -> None:
        """Have the process holding ``target``'s socket carry out a moderator's order."""
        await self.bus.publish(
            {
                "kind": "order",
                "conference": target.conference_id,
                "target": target.key,
                "order": order,
                "by": by,
            }
        )

    def publish_threadsafe(self, conference_id: int, event: dict[str, Any]) -> None:
        """From any thread (after a commit): the room event reaches the room on every process."""
        self.bus.publish_threadsafe({"kind": "event", "conference": conference_id, "message": event})

    def _local(self, conference_id: int) -> list[Connection]:
        return sorted(
            (c for c in self.sockets.values() if c.conference_id == conference_id),
            key=lambda c: (c.attendance_id or 0, c.key),
        )

    async def _send(self, connections: list[Connection], message: dict[str, Any]) -> None:
        for connection in connections:
            try:
                await connection.websocket.send_json(message)
            except Exception:  # noqa: BLE001 - a vanished socket is cleaned up by its own handler
                log.debug("could not send to a room socket")

    async def _receive(self, envelope: dict[str, Any]) -> None:
        """A bus message, from this process or another: this process's part of it."""
        conference_id = int(envelope["conference"])
        kind = envelope.get("kind")
        if kind == "room":
            from_moderators = bool(envelope.get("moderators"))
            targets = [
                c
                for c in self._local(conference_id)
                if c.key != envelope.get("skip")
                and (not from_moderators or (is_moderator(c.role) and not c.waiting))
                and envelope.get("only") in (None, c.key)
            ]
            await self._send(targets, envelope["message"])
        elif kind == "recall":
            states = [c.state() for c in self._local(conference_id) if not c.waiting and not c.replaced]
            if states:
                await self.broadcast(
                    conference_id, {"type": "states", "states": states}, only=str(envelope.get("to"))
                )
        elif kind == "event":
            await self._deliver(conference_id, envelope["message"])
        elif kind == "order":
            target = self.sockets.get(str(envelope.get("target")))
            if target is not None and target.conference_id == conference_id and self.on_order is not None:
                await self.on_order(target, str(envelope.get("order")), str(envelope.get("by", "")))

    async def _deliver(self, conference_id: int, event: dict[str, Any]) -> None:
        await self._send(self._local(conference_id), event)
        if self.on_event is not None:
            self.on_event(conference_id, event)  # e.g. the stream keeper's compositors (a screen share)
        if event.get("type") == "ended":
            for connection in self._local(conference_id):
                with contextlib.suppress(Exception):  # already gone: nothing to close
                    await connection.websocket.close(code=4000, reason="conference ended")
            if self.on_ended is not None:
                # Every process with a media server tries: the first destroys the room, the others
                # find it gone (a claim could be won by a process that cannot reach the room).
                await asyncio.to_thread(self.on_ended, conference_id)
