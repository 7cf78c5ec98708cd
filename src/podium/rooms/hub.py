"""Who is connected to which room in this process, and broadcasting to them.

Fan-out is in-process (one server process); a Redis fan-out for several processes is future work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    conference_id: int
    name: str
    role: str
    media_token: str
    participant_id: int | None = None
    attendance_id: int | None = None  # None while in the waiting room
    publisher_id: int | None = None  # the visitor's Janus publisher, as its page reports it
    key: str = field(default_factory=lambda: secrets.token_hex(6))

    @property
    def waiting(self) -> bool:
        return self.attendance_id is None

    def describe(self) -> dict[str, Any]:
        return {"id": self.key, "name": self.name, "role": self.role, "waiting": self.waiting}


@dataclass
class RoomHub:
    rooms: dict[int, set[Connection]] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None
    on_ended: Callable[[int], None] | None = None

    def add(self, connection: Connection) -> None:
        self.rooms.setdefault(connection.conference_id, set()).add(connection)

    def remove(self, connection: Connection) -> None:
        members = self.rooms.get(connection.conference_id, set())
        members.discard(connection)
        if not members:
            self.rooms.pop(connection.conference_id, None)

    def members(self, conference_id: int) -> list[Connection]:
        return sorted(self.rooms.get(conference_id, set()), key=lambda c: (c.attendance_id or 0, c.key))

    def find(self, conference_id: int, key: str) -> Connection | None:
        return next((c for c in self.members(conference_id) if c.key == key), None)

    async def broadcast(
        self, conference_id: int, message: dict[str, Any], *, skip: Connection | None = None
    ) -> None:
        for connection in self.members(conference_id):
            if connection is skip:
                continue
            try:
                await connection.websocket.send_json(message)
            except Exception:  # noqa: BLE001 - a vanished socket is cleaned up by its own handler
                log.debug("could not send to a room socket")

    def publish_threadsafe(self, conference_id: int, event: dict[str, Any]) -> None:
        """From a worker thread (after a commit): deliver on the event loop."""
        if self.loop is None or self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._deliver(conference_id, event), self.loop)

    async def _deliver(self, conference_id: int, event: dict[str, Any]) -> None:
        await self.broadcast(conference_id, event)
        if event.get("type") == "ended":
            for connection in self.members(conference_id):
                with contextlib.suppress(Exception):  # already gone: nothing to close
                    await connection.websocket.close(code=4000, reason="conference ended")
            if self.on_ended is not None:
                await asyncio.to_thread(self.on_ended, conference_id)
