"""The fan-out bus (kit/bus.py): in-process, and Redis pub/sub between two buses as two processes
would hold them (a real Redis: PODIUM_TEST_REDIS_URL, started by `make test`)."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from typing import Any

import pytest

from podium.config import Settings
from podium.kit.bus import InProcessBus, RedisBus, make_bus
from tests.fixtures.event_loop import run_async

REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="PODIUM_TEST_REDIS_URL is unset (`make test` sets it in its PostgreSQL pass)"
)


class Inbox:
    """What a listener received, and a way to wait for it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        async def enough() -> None:
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.messages


def test_in_process_bus_delivers_from_the_loop_and_from_threads() -> None:
    async def scenario() -> None:
        bus, inbox = InProcessBus(), Inbox()
        await bus.start(inbox)
        await bus.publish({"n": 1})
        assert inbox.messages == [{"n": 1}]  # handed over at once, as the hub always did
        worker = threading.Thread(target=bus.publish_threadsafe, args=({"n": 2},))
        worker.start()
        worker.join()
        assert await inbox.wait_for(2) == [{"n": 1}, {"n": 2}]
        await bus.close()

    run_async(scenario())


def test_in_process_bus_without_a_listener_drops_messages() -> None:
    # `podium worker` without Redis: nobody in the process listens, nothing fails.
    InProcessBus().publish_threadsafe({"n": 1})


def test_the_bus_follows_the_settings(tmp_path: Any) -> None:
    assert isinstance(make_bus(Settings(data_dir=tmp_path, redis_url=None)), InProcessBus)
    redis_bus = make_bus(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(redis_bus, RedisBus)
    run_async(redis_bus.close())
    with pytest.raises(ValueError, match="PODIUM_REDIS_URL"):
        Settings(data_dir=tmp_path, redis_url="http://127.0.0.1:6379")


@needs_redis
def test_redis_bus_fans_out_to_every_process() -> None:
    assert REDIS_URL is not None
    channel = f"podium:test:{secrets.token_hex(4)}"

    async def scenario() -> None:
        first, second = RedisBus(REDIS_URL, channel), RedisBus(REDIS_URL, channel)
        first_inbox, second_inbox = Inbox(), Inbox()
        await first.start(first_inbox)
        await second.start(second_inbox)
        await first.publish({"from": "first", "text": "héllo"})
        # A worker thread (or `podium worker`, with no event loop) publishes too.
        await asyncio.to_thread(second.publish_threadsafe, {"from": "thread"})
        expected = [{"from": "first", "text": "héllo"}, {"from": "thread"}]
        assert await first_inbox.wait_for(2) == expected
        assert await second_inbox.wait_for(2) == expected
        # A bus on another channel (another deployment on the same Redis) hears nothing of it.
        other, other_inbox = RedisBus(REDIS_URL, channel + ":other"), Inbox()
        await other.start(other_inbox)
        await first.publish({"from": "first", "again": True})
        await second_inbox.wait_for(3)
        assert other_inbox.messages == []
        for bus in (first, second, other):
            await bus.close()

    run_async(scenario())


@needs_redis
def test_redis_bus_keeps_listening_after_a_bad_message() -> None:
    assert REDIS_URL is not None
    channel = f"podium:test:{secrets.token_hex(4)}"

    async def scenario() -> None:
        bus, inbox = RedisBus(REDIS_URL, channel), Inbox()
        await bus.start(inbox)
        await bus.client.publish(channel, "not json")
        await bus.publish({"n": 1})
        assert await inbox.wait_for(1) == [{"n": 1}]
        await bus.close()

    run_async(scenario())
