"""Fan-out: a message published by any thread of any server process reaches every process's listener.

Two implementations behind one protocol (ADR 0007):

- ``InProcessBus`` (the default): the listener is in this process, so a message is handed to it on
  its event loop. One server process, no Redis — Podium's behaviour before the bus existed.
- ``RedisBus`` (``PODIUM_REDIS_URL``): every message is JSON on one Redis pub/sub channel to which
  every process subscribes, so several ``podium serve`` processes (and ``podium worker``) act as one.

Pub/sub is fire-and-forget: a process that is not subscribed when a message is published never sees
it. What must survive that (attendance, recordings, the outbox) lives in the database; the bus only
carries what connected browsers are told now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis

from podium.config import Settings

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], Awaitable[None]]
DEFAULT_CHANNEL = "podium:bus"
CLOSE_SECONDS = 5.0


class Bus(Protocol):
    async def start(self, listener: Listener) -> None:
        """Hand every message published from now on (by any process) to ``listener``, on this loop."""

    async def publish(self, message: dict[str, Any]) -> None:
        """Publish from the event loop."""

    def publish_threadsafe(self, message: dict[str, Any]) -> None:
        """Publish from any thread (a worker thread after a commit; a process with no event loop)."""

    async def close(self) -> None:
        """Stop listening and release connections."""


class InProcessBus:
    """One process: publishing hands the message to this process's listener."""

    def __init__(self) -> None:
        self._listener: Listener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, listener: Listener) -> None:
        self._listener, self._loop = listener, asyncio.get_running_loop()

    async def publish(self, message: dict[str, Any]) -> None:
        if self._listener is not None:
            await self._listener(message)

    def publish_threadsafe(self, message: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # nobody listens in this process (e.g. `podium worker` without Redis)
        asyncio.run_coroutine_threadsafe(self.publish(message), loop)

    async def close(self) -> None:
        self._listener = self._loop = None


class RedisBus:
    """Several processes: one Redis pub/sub channel that every process publishes to and listens on."""

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        self.url, self.channel = url, channel
        self.client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._sync: redis.Redis | None = None
        self._sync_lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._pubsub: Any = None

    async def start(self, listener: Listener) -> None:
        await self._subscribe()
        self._task = asyncio.create_task(self._listen(listener), name="podium-bus")

    async def _subscribe(self) -> None:
        self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.channel)

    async def _listen(self, listener: Listener) -> None:
        while True:
            try:
                async for item in self._pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    try:
                        message = json.loads(item["data"])
                        await listener(message)
                    except Exception:  # noqa: BLE001 - one bad message must not stop the fan-out
                        log.exception("a bus message could not be handled")
            except redis.RedisError as exc:
                log.warning("bus: Redis unavailable (%s); resubscribing", exc)
            # Redis went away: what is published meanwhile is lost (pub/sub); subscribe again.
            await asyncio.sleep(1.0)
            with contextlib.suppress(redis.RedisError):
                await self._pubsub.aclose()
            with contextlib.suppress(redis.RedisError):
                await self._subscribe()

    async def publish(self, message: dict[str, Any]) -> None:
        await self.client.publish(self.channel, json.dumps(message))

    def publish_threadsafe(self, message: dict[str, Any]) -> None:
        with self._sync_lock:
            if self._sync is None:
                self._sync = redis.Redis.from_url(self.url, decode_responses=True)
        try:
            self._sync.publish(self.channel, json.dumps(message))
        except redis.RedisError as exc:
            log.warning("bus: a message was not published (%s)", exc)

    async def close(self) -> None:
        # Each step is bounded: a server stopping must not wait forever on a Redis connection.
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, redis.RedisError):
                await asyncio.wait_for(self._task, CLOSE_SECONDS)
        if self._pubsub is not None:
            with contextlib.suppress(TimeoutError, redis.RedisError):
                await asyncio.wait_for(self._pubsub.aclose(), CLOSE_SECONDS)
        with contextlib.suppress(TimeoutError, redis.RedisError):
            await asyncio.wait_for(self.client.aclose(), CLOSE_SECONDS)
        if self._sync is not None:
            self._sync.close()


def make_bus(settings: Settings) -> InProcessBus | RedisBus:
    """Redis when ``PODIUM_REDIS_URL`` is set, else in-process."""
    return RedisBus(settings.redis_url) if settings.redis_url else InProcessBus()
