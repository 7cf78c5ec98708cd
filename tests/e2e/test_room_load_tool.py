"""The room load tool (bench/room_load.py): two synthetic aiortc clients join one room through real
join links, the lobby, /rooms/enter, the signaling socket and Janus, and each receives the other's
audio and video frames."""

from __future__ import annotations

import asyncio

import pytest
from bench.room_load import Client, Meetings, everyone_receives, wait_for

from tests.fixtures.browser import LiveServer
from tests.fixtures.event_loop import run_async
from tests.fixtures.tenants import TenantFactory

# Real WebRTC and Janus on two loaded cores: one retry absorbs a scheduling hiccup.
pytestmark = pytest.mark.flaky(reruns=1, reruns_delay=2)


def test_two_synthetic_clients_receive_each_other(live_server: LiveServer, tenants: TenantFactory) -> None:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    tenant = tenants()
    links = Meetings(
        live_server.base_url,
        {
            "liveminutes_account_sid": tenant.liveminutes_account_sid,
            "liveminutes_auth_token": tenant.liveminutes_auth_token,
        },
    ).links(2)
    clients = [Client(live_server.base_url, link, True, 160, 120, 10, False) for link in links]

    async def run() -> bool:
        try:
            await asyncio.gather(*(c.join() for c in clients))
            received = await wait_for(lambda: everyone_receives(clients), 15)
            # Audio too, and frames keep coming.
            await wait_for(lambda: all(f.audio_frames > 5 for c in clients for f in c.feeds.values()), 5)
            return received
        finally:
            await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)

    received = run_async(run())
    details = [
        (c.publisher_id, {p: (f.video_frames, f.audio_frames) for p, f in c.feeds.items()}, c.errors)
        for c in clients
    ]
    assert received, details
    first, second = clients
    assert set(first.feeds) == {second.publisher_id}, details
    assert set(second.feeds) == {first.publisher_id}, details
    for client in clients:
        for feed in client.feeds.values():
            assert feed.video_frames > 0 and feed.audio_frames > 5, details
