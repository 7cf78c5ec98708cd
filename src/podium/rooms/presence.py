"""Who is in which room, across every server process (ADR 0007).

``LocalPresence`` keeps the members in this process (one server process, no Redis). ``RedisPresence``
keeps each conference's members in a Redis hash, each member marked with the process that holds its
socket. Every process renews a short-lived heartbeat key; a process that stops renewing it (killed,
frozen, its machine gone) loses its members: readers skip them at once, and a sweep run by every
process removes them — exactly one sweeper wins each member (``HDEL`` says who), and that one
records the departure and tells the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One signaling connection as every process sees it."""

    key: str
    conference_id: int
    name: str
    role: str
    waiting: bool
    process: str
    media_token: str
    participant_id: int | None = None
    attendance_id: int | None = None
    publisher_id: int | None = None
    media_server: str | None = None  # the Janus (API URL) holding its media token, None without media

    def describe(self) -> dict[str, Any]:
        return {"id": self.key, "name": self.name, "role": self.role, "waiting": self.waiting}

    @property
    def order(self) -> tuple[int, str]:
        return (self.attendance_id or 0, self.key)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Member:
        """Fields this version does not know (a newer process wrote them) are left out."""
        values = json.loads(raw)
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


Vanished = Callable[[Member], Awaitable[None]]
# Whether this process can carry out a vanished member's departure (it reaches the member's Janus).
CanDepart = Callable[[Member], bool]


def anyone(member: Member) -> bool:
    return True


class Presence(Protocol):
    process: str

    async def start(self, on_vanished: Vanished, can_depart: CanDepart = anyone) -> None:
        """Begin the heartbeat; ``on_vanished`` is called once per member of a dead process, by a
        process for which ``can_depart`` says yes."""

    async def close(self) -> None: ...

    async def put(self, member: Member) -> None:
        """Add or update a member."""

    async def remove(self, member: Member) -> bool:
        """Remove a member; True when this call removed it."""

    async def members(self, conference_id: int) -> list[Member]:
        """The conference's live members, in arrival order."""

    async def census(self) -> tuple[int, int]:
        """(rooms with at least one member, members in all rooms)."""


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class LocalPresence:
    """One process: the members are in this process's memory; nothing can vanish without its socket."""

    def __init__(self) -> None:
        self.process = process_name()
        self.rooms: dict[int, dict[str, Member]] = {}

    async def start(self, on_vanished: Vanished, can_depart: CanDepart = anyone) -> None:
        return None

    async def close(self) -> None:
        return None

    async def put(self, member: Member) -> None:
        self.rooms.setdefault(member.conference_id, {})[member.key] = member

    async def remove(self, member: Member) -> bool:
        room = self.rooms.get(member.conference_id, {})
        removed = room.pop(member.key, None) is not None
        if not room:
            self.rooms.pop(member.conference_id, None)
        return removed

    async def members(self, conference_id: int) -> list[Member]:
        return sorted(self.rooms.get(conference_id, {}).values(), key=lambda m: m.order)

    async def census(self) -> tuple[int, int]:
        return len(self.rooms), sum(len(room) for room in self.rooms.values())


class RedisPresence:
    """Members in Redis: ``<prefix>:room:<conference>`` (a hash: connection key → member JSON),
    ``<prefix>:process:<name>`` (the heartbeat, expiring after ``ttl``), ``<prefix>:held:<name>``
    (the members a process holds, for the sweep) and ``<prefix>:processes`` (every process seen)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "podium:presence",
        ttl: float = 5.0,
        beat: float = 1.0,
    ) -> None:
        self.client, self.prefix, self.ttl, self.beat = client, prefix, ttl, beat
        self.process = process_name()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def _room(self, conference_id: int) -> str:
        return f"{self.prefix}:room:{conference_id}"

    def _alive(self, process: str) -> str:
        return f"{self.prefix}:process:{process}"

    def _held(self, process: str) -> str:
        return f"{self.prefix}:held:{process}"

    @property
    def _processes(self) -> str:
        return f"{self.prefix}:processes"

    async def start(self, on_vanished: Vanished, can_depart: CanDepart = anyone) -> None:
        await self._renew()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._heartbeat(on_vanished, can_depart), name="podium-presence")

    async def close(self) -> None:
        """Stop the heartbeat between two beats (not in the middle of a Redis command), within 5 s."""
        if self._task is not None:
            self._stopping.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 5.0)

    async def _renew(self) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._alive(self.process), "1", px=int(self.ttl * 1000))
            pipe.sadd(self._processes, self.process)
            await pipe.execute()

    async def _heartbeat(self, on_vanished: Vanished, can_depart: CanDepart) -> None:
        while not self._stopping.is_set():
            try:
                await self._renew()
                await self.sweep(on_vanished, can_depart)
            except redis.RedisError as exc:
                log.warning("presence: Redis unavailable (%s)", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.beat)

    async def sweep(self, on_vanished: Vanished, can_depart: CanDepart = anyone) -> None:
        """Remove the members of processes whose heartbeat expired. A member whose departure this
        process cannot carry out (its media token is on a Janus this process does not reach, e.g. a
        process started with Janus off) is left to a process that can: revoking the token is part
        of leaving."""
        for found in await self.client.smembers(self._processes):
            process = str(found)
            if process == self.process or await self.client.exists(self._alive(process)):
                continue
            left_to_others = False
            for ref in await self.client.smembers(self._held(process)):
                conference_id, _, key = str(ref).partition(":")
                raw = await self.client.hget(self._room(int(conference_id)), key)
                if raw is None:
                    continue  # another process swept it first
                member = Member.from_json(raw)
                if not can_depart(member):
                    left_to_others = True
                    continue
                if not await self.client.hdel(self._room(int(conference_id)), key):
                    continue  # another process swept it first
                try:
                    await on_vanished(member)
                except Exception:  # noqa: BLE001 - the next member still goes
                    log.exception("presence: the departure of a vanished member failed")
            if left_to_others:
                continue  # the process stays listed until a process that can sweeps the rest
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._held(process))
                pipe.srem(self._processes, process)
                await pipe.execute()

    async def put(self, member: Member) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self._room(member.conference_id), member.key, member.to_json())
            pipe.sadd(self._held(member.process), f"{member.conference_id}:{member.key}")
            await pipe.execute()

    async def remove(self, member: Member) -> bool:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(self._room(member.conference_id), member.key)
            pipe.srem(self._held(member.process), f"{member.conference_id}:{member.key}")
            removed, _ = await pipe.execute()
        return bool(removed)

    async def census(self) -> tuple[int, int]:
        """One SCAN over the room hashes and one HLEN each (pipelined): no member is read. A dead
        process's members count until the sweep removes them (within ``ttl`` and a beat)."""
        rooms = [key async for key in self.client.scan_iter(match=f"{self.prefix}:room:*", count=1000)]
        if not rooms:
            return 0, 0
        async with self.client.pipeline(transaction=False) as pipe:
            for key in rooms:
                pipe.hlen(key)
            sizes = await pipe.execute()
        return sum(1 for size in sizes if size), sum(int(size) for size in sizes)

    async def members(self, conference_id: int) -> list[Member]:
        raw = await self.client.hgetall(self._room(conference_id))
        members = [Member.from_json(value) for value in raw.values()]
        others = sorted({m.process for m in members} - {self.process})
        alive = {self.process}
        if others:
            flags = await self.client.mget([self._alive(p) for p in others])
            alive |= {p for p, flag in zip(others, flags, strict=True) if flag}
        return sorted((m for m in members if m.process in alive), key=lambda m: m.order)
