"""The room as a phone hears it (rooms/phone/gateway.Room), on a real Janus with a real publisher: a
subscription that brings no sound is made again, each time after twice as long (so a publisher a
moderator muted is not churned), and once sound comes the phone hears it and the count starts over.

CI once saw a phone joined to a room that never heard it: the subscription's media never came up
under load, and nothing made it again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from bench.room_load import Meetings, wait_for
from sqlalchemy import select

from podium.models.conference import Conference
from podium.rooms.janus_async import JanusSession
from podium.rooms.phone import gateway
from tests.fixtures.browser import LiveServer
from tests.fixtures.event_loop import run_async
from tests.fixtures.tenants import TenantFactory
from tests.rooms.test_broadcast import LOW, RED, _janus, painted

pytestmark = pytest.mark.flaky(reruns=1, reruns_delay=2)

PATIENCE = 1.5  # the test's FEED_PATIENCE: seconds before a silent subscription is made again


def test_a_silent_subscription_is_made_again_less_and_less_often_until_sound_comes(
    live_server: LiveServer, tenants: TenantFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "FEED_PATIENCE", PATIENCE)
    tenant = tenants()
    meetings = Meetings(
        live_server.base_url,
        {
            "liveminutes_account_sid": tenant.liveminutes_account_sid,
            "liveminutes_auth_token": tenant.liveminutes_auth_token,
        },
    )
    speaker = painted(live_server.base_url, meetings.links(1)[0], RED, LOW)
    token = "phone-room-test-token"

    async def scenario() -> dict[str, Any]:
        await speaker.join()
        try:
            assert await wait_for(lambda: speaker.webrtcup_at is not None, 15), speaker.errors
            janus = _janus(live_server, speaker.entry["janus_url"])
            janus.add_token(token)
            with live_server.app.state.sessions() as session:  # type: ignore[attr-defined]
                secret = session.scalar(
                    select(Conference.media_secret).where(Conference.media_room == speaker.room)
                )
            assert secret and speaker.publisher_pc is not None and speaker.publisher_id is not None
            publisher: int = speaker.publisher_id
            audio_mid = next(t.mid for t in speaker.publisher_pc.getTransceivers() if t.kind == "audio")
            assert audio_mid is not None

            def moderate(mute: bool) -> None:
                janus.moderate(speaker.room, secret=secret, publisher=publisher, mids=[audio_mid], mute=mute)

            # A moderator muted the speaker: Janus relays none of its sound.
            await asyncio.to_thread(moderate, True)
            errors: list[str] = []
            async with httpx.AsyncClient(timeout=10) as http:
                janus_session = JanusSession(http, speaker.entry["janus_url"], token, errors)
                await janus_session.create()
                room = gateway.Room(janus_session, speaker.room)
                redone_at: list[float] = []
                subscriptions: list[Any] = []  # the subscription objects the feed had (kept alive)
                started = time.monotonic()
                try:
                    while time.monotonic() - started < PATIENCE * 5.5:
                        before = room.redone.get(publisher, 0)
                        await room.look()
                        if room.redone.get(publisher, 0) > before:
                            redone_at.append(time.monotonic() - started)
                        current = room.feeds[publisher][0] if publisher in room.feeds else None
                        if current is not None and not any(current is seen for seen in subscriptions):
                            subscriptions.append(current)
                        await asyncio.sleep(0.2)
                    assert publisher in room.feeds, "subscribed again after each drop"
                    # Sound again: the phone hears it, and the count of retries starts over.
                    await asyncio.to_thread(moderate, False)

                    async def hears() -> bool:
                        await room.look()
                        feed = room.feeds.get(publisher)
                        return feed is not None and feed[1].heard and publisher not in room.redone

                    heard = False
                    for _ in range(int(PATIENCE * 16 / 0.2)):
                        if await hears():
                            heard = True
                            break
                        await asyncio.sleep(0.2)
                    return {
                        "redone_at": redone_at,
                        "subscriptions": len(subscriptions),
                        "heard": heard,
                        "errors": errors,
                    }
                finally:
                    for publisher in list(room.feeds):
                        await room.drop(publisher)
        finally:
            await speaker.leave()

    outcome = run_async(scenario())
    redone_at = outcome["redone_at"]
    # Made again after PATIENCE, then after twice that (3 x PATIENCE in all), not at every look.
    assert len(redone_at) == 2, outcome
    assert PATIENCE <= redone_at[0] < PATIENCE + 1.5, outcome
    assert redone_at[1] - redone_at[0] >= 2 * PATIENCE, outcome
    assert outcome["subscriptions"] == 3, outcome  # the first, and one new subscription each time
    assert outcome["heard"], outcome
