"""Room presence across processes (rooms/presence.py) on a real Redis: members seen by every process,
a dead process's members dropped at once by readers and swept exactly once."""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from podium.rooms.presence import LocalPresence, Member, RedisPresence, Vanished
from tests.fixtures.event_loop import run_async

REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="PODIUM_TEST_REDIS_URL is unset (`make test` sets it in its PostgreSQL pass)"
)


def _member(presence: LocalPresence | RedisPresence, key: str, attendance_id: int | None = 1) -> Member:
    return Member(
        key=key,
        conference_id=7,
        name=key.title(),
        role="guest",
        waiting=attendance_id is None,
        process=presence.process,
        media_token=f"token-{key}",
        attendance_id=attendance_id,
    )


def test_local_presence_is_this_process() -> None:
    async def scenario() -> None:
        presence = LocalPresence()
        await presence.put(_member(presence, "bea", 2))
        await presence.put(_member(presence, "al", 1))
        assert [m.key for m in await presence.members(7)] == ["al", "bea"]  # arrival order
        assert await presence.remove(_member(presence, "al"))
        assert not await presence.remove(_member(presence, "al"))
        assert [m.key for m in await presence.members(7)] == ["bea"]

    run_async(scenario())


@needs_redis
def test_a_dead_process_members_vanish_and_are_swept_once() -> None:
    assert REDIS_URL is not None
    prefix = f"podium:test:{secrets.token_hex(4)}"

    async def scenario() -> None:
        clients = [aioredis.Redis.from_url(REDIS_URL, decode_responses=True) for _ in range(3)]
        doomed, first, second = (
            RedisPresence(client, prefix=prefix, ttl=1.0, beat=0.2) for client in clients
        )
        vanished: list[Member] = []

        async def record(member: Member) -> None:
            vanished.append(member)

        for presence in (doomed, first, second):
            await presence.start(record)
        await doomed.put(_member(doomed, "dora", 1))
        await first.put(_member(first, "fred", 2))
        waiting = _member(second, "sam", None)
        await second.put(waiting)
        # Every process sees everyone, in arrival order (the waiting visitor has no attendance yet).
        for presence in (doomed, first, second):
            assert [m.key for m in await presence.members(7)] == ["sam", "dora", "fred"]
        # An update (admitted, publishing) replaces the member everywhere.
        await second.put(Member(**{**waiting.__dict__, "waiting": False, "attendance_id": 3}))
        assert [m.waiting for m in await first.members(7)] == [False, False, False]

        # The doomed process stops its heartbeat without removing anyone: a kill -9.
        await doomed.close()
        await asyncio.sleep(1.6)
        assert [m.key for m in await first.members(7)] == ["fred", "sam"]
        # Two sweepers ran meanwhile; the member was handed to exactly one of them.
        assert [m.key for m in vanished] == ["dora"]
        assert vanished[0].media_token == "token-dora" and vanished[0].attendance_id == 1

        assert await first.remove(_member(first, "fred"))
        assert not await second.remove(_member(first, "fred"))
        assert [m.key for m in await second.members(7)] == ["sam"]
        for presence in (first, second):
            await presence.close()
        for client in clients:
            await client.aclose()

    run_async(scenario())


@needs_redis
def test_a_vanished_member_is_swept_by_a_process_that_reaches_its_janus() -> None:
    """Leaving revokes the media token, so a process that does not reach the member's Janus (e.g.
    started with Janus off) leaves it to one that does, however often it sweeps first."""
    assert REDIS_URL is not None
    prefix = f"podium:test:{secrets.token_hex(4)}"

    async def scenario() -> None:
        clients = [aioredis.Redis.from_url(REDIS_URL, decode_responses=True) for _ in range(3)]
        doomed, blind, sighted = (
            RedisPresence(client, prefix=prefix, ttl=1.0, beat=0.2) for client in clients
        )
        swept_by: dict[str, list[str]] = {"blind": [], "sighted": []}

        def recorder(name: str) -> Vanished:
            async def record(member: Member) -> None:
                swept_by.setdefault(name, []).append(member.key)

            return record

        await doomed.start(recorder("doomed"))
        await blind.start(recorder("blind"), lambda member: member.media_server is None)
        await doomed.put(replace(_member(doomed, "dora", 1), media_server="http://janus-a/janus"))
        await doomed.put(_member(doomed, "mo", 2))  # no media: anyone records the leave
        await doomed.close()
        await asyncio.sleep(1.6)
        # The blind process swept what it could; the member with media is still waiting.
        assert swept_by["blind"] == ["mo"]
        assert await clients[0].sismember(f"{prefix}:processes", doomed.process)
        await sighted.start(recorder("sighted"), lambda member: member.media_server == "http://janus-a/janus")
        await asyncio.sleep(0.6)
        assert swept_by == {"blind": ["mo"], "sighted": ["dora"]}
        assert not await clients[0].sismember(f"{prefix}:processes", doomed.process)
        for presence in (blind, sighted):
            await presence.close()
        for client in clients:
            await client.aclose()

    run_async(scenario())
