"""``broadcast_stream_url`` end to end: a server with its own Janus and nginx-rtmp, a local file host
serving a short generated MP4 (a red picture and a tone), and a conference whose start is a few
seconds ahead. Nobody joins: at the start the broadcast is ``STARTED`` (the conference live, its stream
running, a publisher named "Broadcast" in the room), Chromium on the streaming page plays the file's
picture, and when the file has ended it is ``STOPPED`` (the stream it started stops with it) and the
URL can no longer change. A missing file, a file that is not an MP4, and an address the outbound
checks refuse end ``FAILED`` with the reason, before the start."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.models.audit import AuditEntry
from podium.models.conference import Conference
from podium.models.recording import Recording, RecordingState
from podium.rooms.broadcast.playout_keeper import TAIL
from podium.rooms.janus import LocalJanus
from podium.streaming.rtmp import LocalRtmp
from tests.e2e.test_conference_streams import Server, server  # noqa: F401 - the server fixture
from tests.fixtures.file_host import FileHost, file_host
from tests.fixtures.iotum import World, build_world
from tests.fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.skipif(not LocalRtmp.available(), reason="nginx with libnginx-mod-rtmp is missing"),
    pytest.mark.skipif(not LocalJanus.available(), reason="janus is missing"),
    # Real browsers, WebRTC, a compositor and nginx on two loaded cores: one retry absorbs a hiccup.
    pytest.mark.flaky(reruns=1, reruns_delay=2),
]

CLIP_SECONDS = 6
RED = "0xD02020"

# The centre pixel of the frame the streaming page's player (the watch page in its iframe) shows.
CENTRE_JS = """v => {
  if (v.readyState < 2 || !v.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = v.videoWidth; canvas.height = v.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(v, 0, 0);
  const d = context.getImageData(v.videoWidth >> 1, v.videoHeight >> 1, 1, 1).data;
  return [d[0], d[1], d[2]];
}"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileHost]:
    """A file host with a 6-second MP4 (red 320x240 H.264 at 25 fps, a 440 Hz AAC tone) and a text file."""
    folder = tmp_path_factory.mktemp("broadcast-files")
    clip = folder / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c={RED}:size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            str(CLIP_SECONDS),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-movflags",
            "+faststart",
            str(clip),
        ],  # fmt: skip
        check=True,
    )
    notes = folder / "notes.txt"
    notes.write_text("These are the speaker's notes, not a video.\n" * 50)
    with file_host({"clip.mp4": clip, "notes.mp4": notes}) as host:
        yield host


@pytest.fixture
def private_files(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The file host listens on loopback: the server may fetch from private addresses (an operator's
    PODIUM_MEDIA_IMPORT_PRIVATE_NETWORKS), as the media import tests do."""
    monkeypatch.setattr(server.app.state.settings, "media_import_private_networks", True)


@pytest.fixture(scope="module")
def organiser(app_client: TestClient) -> tuple[World, int]:
    """A company on a plan that streams, and a host with ``native_streaming``."""
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    return world, world.new_host(world.company_id, plan_slug="large_plan", native_streaming=True)


def _schedule(
    server: Server,  # noqa: F811
    token: str,
    host: int,
    url: str,
    start: datetime,
    **extra: Any,
) -> dict[str, Any]:
    created = server.iotum(
        "conference/create",
        token,
        host_id=host,
        subject="Premiere",
        start=start.strftime("%Y-%m-%d %H:%M:%S"),
        time_zone="UTC",
        duration=30,
        broadcast_stream_url=url,
        **extra,
    )
    assert created.status_code == 200, created.text
    body: dict[str, Any] = created.json()
    return body


def _fetch(server: Server, token: str, conference_id: int) -> dict[str, Any]:  # noqa: F811
    answer = server.iotum("conference/fetch", token, conference_id=conference_id)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _broadcast(server: Server, token: str, conference_id: int) -> dict[str, Any]:  # noqa: F811
    shown: dict[str, Any] = _fetch(server, token, conference_id)["broadcast_stream_url"]
    return shown


def _when(server: Server, conference_id: int, action: str) -> datetime:  # noqa: F811
    """When the server recorded ``action`` on the conference (its audit log, UTC)."""
    with server.app.state.sessions() as session:
        at = session.scalar(
            select(AuditEntry.created_at).where(
                AuditEntry.action == action, AuditEntry.ref == f"conference:{conference_id}"
            )
        )
    assert at is not None, action
    return at


def _centre(page: Any) -> list[int] | None:
    try:
        found: list[int] | None = (
            page.frame_locator("#player").locator("video").evaluate(CENTRE_JS, timeout=1000)
        )
    except Exception:  # noqa: BLE001 - the iframe or its video is not there yet
        return None
    return found


def _player_state(page: Any) -> str:
    """What the streaming page's player shows: its error, and how far it has played."""
    try:
        return str(
            page.frame_locator("#player")
            .locator("body")
            .evaluate(
                "b => [document.getElementById('watch-error')?.textContent,"
                " document.getElementById('player')?.currentTime].join(' / ')",
                timeout=1000,
            )
        )
    except Exception as error:  # noqa: BLE001
        return f"nothing ({error})"


def _red(colour: list[int] | None) -> bool:
    return colour is not None and colour[0] > 150 and colour[1] < 90 and colour[2] < 90


def test_the_file_plays_into_the_room_and_the_stream_at_the_start(
    server: Server,  # noqa: F811
    organiser: tuple[World, int],
    chromium: Any,
    files: FileHost,
    private_files: None,
) -> None:
    world, host = organiser
    token = world.home.ra
    # More than WARM_UP ahead, as a scheduled webinar is.
    start = (datetime.now(UTC) + timedelta(seconds=10)).replace(microsecond=0)
    source = f"{files.url}/files/clip.mp4"
    # auto_record: the broadcast opens the meeting, so it records as with a first visitor.
    conference = _schedule(server, token, host, source, start, auto_record="video")
    conference_id = conference["conference_id"]
    assert conference["broadcast_stream_url"] == {"source": source, "state": "NEW"}
    assert conference["is_streaming"] is False

    context = chromium.new_context()
    try:
        viewer = context.new_page()
        viewer.goto(conference["streaming_url"])
        wait_until(lambda: _broadcast(server, token, conference_id)["state"] != "NEW", 20, "the start")
        shown = _fetch(server, token, conference_id)
        assert shown["broadcast_stream_url"] == {"source": source, "state": "STARTED"}, shown
        late = _when(server, conference_id, "conference.broadcast_started") - start.replace(tzinfo=None)
        assert timedelta(0) <= late < timedelta(seconds=2), late  # at the start, within a second or two
        assert shown["is_streaming"] is True and shown["active"] is True
        assert files.requests == ["/files/clip.mp4"]  # fetched once, by one process
        with server.app.state.sessions() as session:
            of_it = select(Recording).where(Recording.conference_id == conference_id)
            recording = session.scalars(of_it).one()
            assert (recording.state, recording.started_by) == (RecordingState.RECORDING.value, "auto")

        # Everyone in the room would see it: it publishes there, as "Broadcast".
        with server.app.state.sessions() as session:
            row = session.get(Conference, conference_id)
            assert row is not None and row.started_at is not None and row.media_room is not None
            janus = server.app.state.media.by_url(row.media_server)
            room = row.media_room
        publishers = [p["display"] for p in janus.participants(room) if p.get("publisher")]
        assert publishers == ["Broadcast"], publishers

        # The streaming page plays the file's red picture (composed, packaged, played by hls.js).
        seen: list[str] = []

        def red() -> bool:
            colour, state = _centre(viewer), _player_state(viewer)
            seen.append(f"{colour} {state}")
            return _red(colour)

        try:
            wait_until(red, 20, "the file's picture on the streaming page")
        except AssertionError as error:
            raise AssertionError(f"{error}: the player showed {seen}") from None

        # The file ends: STOPPED, and the stream the broadcast started stops (nobody is in the room).
        wait_until(lambda: _broadcast(server, token, conference_id)["state"] == "STOPPED", 20, "the end")
        played = _when(server, conference_id, "conference.broadcast_stopped") - start.replace(tzinfo=None)
        # Once its last seconds reached the viewers (the keeper waits the stream's latency).
        assert timedelta(seconds=CLIP_SECONDS + TAIL) < played < timedelta(seconds=CLIP_SECONDS + TAIL + 5)
        assert _fetch(server, token, conference_id)["is_streaming"] is False
        keeper = server.app.state.stream_keeper
        wait_until(lambda: not keeper.running and not keeper.playouts.held, 15, "the processes stopped")
        assert not any(p.get("display") == "Broadcast" for p in janus.participants(room))
    finally:
        context.close()

    # From the start on, the URL stays what it was.
    changed = server.iotum(
        "conference/update",
        token,
        conference_id=conference_id,
        broadcast_stream_url=f"{files.url}/files/x.mp4",
    )
    assert changed.status_code == 409, changed.text
    assert "cannot be changed after the conference's start" in changed.json()["message"]


def test_a_missing_file_or_one_that_is_not_an_mp4_fails_with_the_reason(
    server: Server,  # noqa: F811
    organiser: tuple[World, int],
    files: FileHost,
    private_files: None,
) -> None:
    world, host = organiser
    token = world.home.ra
    start = datetime.now(UTC) + timedelta(seconds=30)  # fetched ahead of the start: it fails before it
    missing = _schedule(server, token, host, f"{files.url}/files/gone.mp4", start)["conference_id"]
    text = _schedule(server, token, host, f"{files.url}/files/notes.mp4", start)["conference_id"]
    for conference_id, reason in (
        (missing, "Could not fetch the file: the server answered 404"),
        (text, "Not a playable MP4 file: The file is not a video or audio file"),
    ):
        wait_until(lambda c=conference_id: _broadcast(server, token, c)["state"] == "FAILED", 15, "FAILED")
        shown = _broadcast(server, token, conference_id)
        assert shown["reason"].startswith(reason), shown
        assert _fetch(server, token, conference_id)["is_streaming"] is False


def test_an_address_the_outbound_checks_refuse_fails(
    server: Server,  # noqa: F811
    organiser: tuple[World, int],
    files: FileHost,
) -> None:
    # The default: public addresses only. "localhost" passes the URL check and is refused when the
    # name resolves to a loopback address, at connect time (kit/outbound).
    assert server.app.state.settings.media_import_private_networks is False
    world, host = organiser
    token = world.home.ra
    port = files.url.rsplit(":", 1)[1]
    url = f"http://localhost:{port}/files/clip.mp4"
    asked = list(files.requests)
    conference_id = _schedule(server, token, host, url, datetime.now(UTC) + timedelta(seconds=30))[
        "conference_id"
    ]
    wait_until(lambda: _broadcast(server, token, conference_id)["state"] == "FAILED", 15, "FAILED")
    shown = _broadcast(server, token, conference_id)
    assert shown == {
        "source": url,
        "state": "FAILED",
        "reason": "Could not fetch the file: localhost is not an address this server connects to",
    }
    assert files.requests == asked  # nothing was asked of it
