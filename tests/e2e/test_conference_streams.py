"""A meeting streamed live, end to end: a host with ``native_streaming`` and ``auto_stream: video``,
a Chromium moderator with a fake camera joins the Iotum room, the stream starts by itself (the
server's keeper runs the compositor, which publishes into the conference's live on the server's own
nginx-rtmp), two viewers in their own Chromium contexts watch the streaming page (`streaming_url`),
`fetch_livestream_viewer_count` goes 0 → 2 → 0, a viewer's question reaches the moderator's room, and
`stop_streaming` ends it (the compositor stops, the page says so)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from podium.domain.hosts.schemas import StreamPreview
from podium.rooms.janus import LocalJanus
from podium.streaming.rtmp import LocalRtmp
from tests.fixtures.browser import served
from tests.fixtures.iotum import build_world
from tests.fixtures.processes import free_port
from tests.fixtures.receiver import receiver
from tests.fixtures.rooms import in_room, wait_for
from tests.fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.skipif(not LocalRtmp.available(), reason="nginx with libnginx-mod-rtmp is missing"),
    pytest.mark.skipif(not LocalJanus.available(), reason="janus is missing"),
    # Real browsers, WebRTC, a compositor and nginx on two loaded cores: one retry absorbs a hiccup.
    pytest.mark.flaky(reruns=1, reruns_delay=2),
]


@dataclass
class Server:
    base: str
    app: Any

    def iotum(self, path: str, token: str, **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.base}/enterprise_api/{path}", json={"auth_token": token, **body}, timeout=20
        )


@pytest.fixture(scope="module")
def server(data_dir: Path, database_url: str) -> Iterator[Server]:
    """`podium serve`'s app under uvicorn with its own Janus and nginx-rtmp (free ports)."""
    rtmp = {"rtmp": "local", "rtmp_listen": f"127.0.0.1:{free_port()}"}
    with served(data_dir, database_url, janus=True, heartbeat_seconds=2, **rtmp) as (base, app):
        yield Server(base, app)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def _viewers(server: Server, token: str, conference_id: int) -> int:
    answer = server.iotum("conference/fetch_livestream_viewer_count", token, conference_id=conference_id)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["count"])


def _fetch(server: Server, token: str, conference_id: int) -> dict[str, Any]:
    answer = server.iotum("conference/fetch", token, conference_id=conference_id)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _playing(page: Any) -> float:
    """How far the streaming page's player (the watch page in its iframe) has played, in seconds."""
    frame = page.frame_locator("#player")
    try:
        return float(frame.locator("video").evaluate("v => v.readyState >= 2 ? v.currentTime : 0"))
    except Exception:  # noqa: BLE001 - the iframe is still loading
        return 0.0


def _previews(server: Server, token: str, conference_id: int) -> list[dict[str, Any]]:
    answer = server.iotum("conference/fetch_stream_previews", token, conference_id=conference_id)
    assert answer.status_code == 200, answer.text
    previews: list[dict[str, Any]] = answer.json()["previews"]
    return previews


def _previews_are_cut_and_taken(server: Server, token: str, conference_id: int) -> None:
    """The host's stream_preview (2 s every 4 s, images on): the keeper cuts clips from the live
    stream while it runs, and an image is taken on request; both download through their links."""
    clips = wait_until(
        lambda: [p for p in _previews(server, token, conference_id) if p["type"] == "clip"], 20, "a clip"
    )
    clip = clips[0]
    assert clip["offset"] == 0 and 1.5 <= clip["duration"] <= 3, clip
    played = httpx.get(clip["download_link"])
    assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"
    assert played.content[4:8] == b"ftyp" and len(played.content) == clip["size"]
    taken = server.iotum("conference/stream_preview_image", token, conference_id=conference_id)
    assert taken.status_code == 200, taken.text
    image = taken.json()["preview"]
    assert image["type"] == "image" and image["expires_at"] > image["created_at"]
    picture = httpx.get(image["download_link"])
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"  # a JPEG
    assert image["id"] in [p["id"] for p in _previews(server, token, conference_id)]
    assert httpx.get(image["download_link"].replace("token=", "token=x")).status_code in (401, 403, 404)


def test_a_meeting_streams_to_its_page(
    server: Server, app_client: TestClient, chromium: Any, stack: ExitStack
) -> None:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    host = world.new_host(
        world.company_id,
        plan_slug="large_plan",
        native_streaming=True,
        auto_stream="video",
        stream_preview=StreamPreview(duration=2, interval=4, image_preview=True),
    )
    token = world.home.ra
    hooks = stack.enter_context(receiver())
    registered = server.iotum(
        "webhook/create",
        token,
        company_id=world.company_id,
        url=hooks.url,
        events=["start_streaming", "stop_streaming"],
    )
    assert registered.status_code == 200, registered.text
    created = server.iotum("conference/create/reservationless", token, host_id=host, subject="Webinar")
    assert created.status_code == 200, created.text
    conference = created.json()
    conference_id, page_url = conference["conference_id"], conference["streaming_url"]
    assert page_url.startswith(f"{server.base}/stream/") and conference["is_streaming"] is False
    # The page exists before the stream (it can be announced), and says it has not started.
    before = httpx.get(page_url)
    assert before.status_code == 200 and "has not started" in before.text
    assert httpx.get(page_url + "0").status_code == 404  # a key Podium did not make
    assert _viewers(server, token, conference_id) == 0

    contexts = [chromium.new_context() for _ in range(3)]
    try:
        moderator = contexts[0].new_page()
        moderator.goto(f"{conference['room_url']}?moderator_token={conference['moderator_token']}")
        moderator.fill("#display-name", "Mona")
        moderator.click("#join")
        # auto_stream: the first visitor starts it; the compositor publishes within seconds.
        try:
            wait_until(lambda: _fetch(server, token, conference_id)["is_streaming"], 20, "is_streaming")
        except AssertionError:
            print("DEBUG PAGE", moderator.url, moderator.locator("body").inner_text()[:2000])
            raise
        wait_until(
            lambda: moderator.locator("#streaming-indicator").is_visible(), 20, "the room's Live indicator"
        )
        assert moderator.locator("#streaming-link").get_attribute("href") == page_url

        viewers = [context.new_page() for context in contexts[1:]]
        for viewer in viewers:
            viewer.goto(page_url)
        for viewer in viewers:
            wait_until(lambda v=viewer: _playing(v) > 2.0, 60, "the stream playing on the streaming page")
        wait_until(lambda: _viewers(server, token, conference_id) == 2, 15, "two viewers counted")

        # A viewer's question reaches the moderator in the room.
        first = viewers[0]
        first.fill("#ask-name", "Vera")
        first.fill("#ask-text", "Will the slides be shared?")
        first.click("#ask button[type=submit]")
        wait_until(
            lambda: "Will the slides be shared?" in moderator.locator("#chat-log").inner_text(),
            10,
            "the question in the moderator's chat",
        )

        _previews_are_cut_and_taken(server, token, conference_id)

        for viewer in viewers:
            viewer.close()
        wait_until(lambda: _viewers(server, token, conference_id) == 0, 15, "no viewers after both left")

        # stop_streaming: is_streaming turns false, the compositor stops, the page stops playing.
        stopped = server.iotum("conference/stop_streaming", token, conference_id=conference_id)
        assert stopped.json() == {"message": "OK"}
        assert _fetch(server, token, conference_id)["is_streaming"] is False
        keeper = server.app.state.stream_keeper
        wait_until(lambda: not keeper.running, 15, "the compositor stopped")
        state = httpx.get(page_url + "/state").json()
        assert state["streaming"] is False, json.dumps(state)
        wait_until(lambda: moderator.locator("#streaming-indicator").is_hidden(), 10, "the indicator gone")
        # Iotum webhooks for the start and the stop (docs/webhooks.md).
        server.app.state.outbox_worker.deliver_due()
        events = [(r.body["event"], json.loads(r.body["payload"])["conference_id"]) for r in hooks.requests]
        assert events == [("start_streaming", conference_id), ("stop_streaming", conference_id)], events
    finally:
        for context in contexts:
            context.close()


def test_only_moderators_start_a_stream_and_only_for_a_host_who_streams(
    server: Server, app_client: TestClient
) -> None:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    host = world.new_host(world.company_id, plan_slug="large_plan")  # native_streaming off
    token = world.home.ra
    conference = server.iotum(
        "conference/create/reservationless", token, host_id=host, subject="No stream"
    ).json()
    moderator_link = f"{conference['room_url']}?moderator_token={conference['moderator_token']}"
    with in_room(server.base, moderator_link, "Mo") as (moderator, welcome):
        assert welcome["streaming"] is None
        with in_room(server.base, conference["room_url"], "Pat") as (participant, _):
            participant.send(json.dumps({"type": "stream", "on": True}))
            assert wait_for(participant, "error")["message"] == "Only moderators can stream"
        moderator.send(json.dumps({"type": "stream", "on": True}))
        refused = wait_for(moderator, "error")["message"]
        assert refused == "Live streaming is not enabled for this host (native_streaming)"
    assert (
        server.iotum("conference/fetch", token, conference_id=conference["conference_id"]).json()[
            "is_streaming"
        ]
        is False
    )


# The private runs' rules (one running row per conference, their start and end) are tested on both
# databases in tests/domain/conferences/test_stream_previews.py.
@pytest.mark.once
def test_a_meeting_that_records_without_streaming_gets_previews(
    server: Server, app_client: TestClient, chromium: Any
) -> None:
    """The reference's "when recording or streaming": a host who records (``auto_record``) and does
    not stream gets clips and images from a private run of the compositor (ADR 0013), which never
    shows as a stream (no ``is_streaming``, no streaming page, no viewers) and stops with the
    recording."""
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    host = world.new_host(
        world.company_id,
        plan_slug="large_plan",
        auto_record="video",
        stream_preview=StreamPreview(duration=2, interval=4, image_preview=True),
    )
    token = world.home.ra
    created = server.iotum("conference/create/reservationless", token, host_id=host, subject="Recorded")
    assert created.status_code == 200, created.text
    conference = created.json()
    conference_id, page_url = conference["conference_id"], conference["streaming_url"]
    keeper = server.app.state.stream_keeper
    context = chromium.new_context()
    try:
        moderator = context.new_page()
        moderator.goto(f"{conference['room_url']}?moderator_token={conference['moderator_token']}")
        moderator.fill("#display-name", "Rita")
        moderator.click("#join")
        wait_until(lambda: moderator.locator("#recording-indicator").is_visible(), 20, "recording")

        _previews_are_cut_and_taken(server, token, conference_id)
        runs = [run for run in keeper.running.values() if run.conference_id == conference_id]
        assert len(runs) == 1 and runs[0].scratch is not None and runs[0].scratch.is_dir()
        scratch = runs[0].scratch
        # Nothing of it shows as a stream.
        assert _fetch(server, token, conference_id)["is_streaming"] is False
        assert httpx.get(page_url + "/state").json()["streaming"] is False
        assert _viewers(server, token, conference_id) == 0
        assert moderator.locator("#streaming-indicator").is_hidden()

        # The recording stops with the meeting: so does the private run, and its folder goes.
        ended = server.iotum("conference/end", token, conference_id=conference_id)
        assert ended.status_code == 200, ended.text
        wait_until(lambda: not keeper.running and not scratch.exists(), 15, "the private run gone")
        assert [p for p in _previews(server, token, conference_id) if p["type"] == "clip"]
        refused = server.iotum("conference/stream_preview_image", token, conference_id=conference_id)
        assert refused.status_code == 409, refused.text
    finally:
        context.close()
