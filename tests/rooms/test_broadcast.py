"""The live compositor (rooms/broadcast, ADR 0011) on a real room: synthetic participants (aiortc, as
bench/room_load.py) join through real join links and publish a solid colour and a tone each; the
compositor joins the room's Janus as a hidden subscriber and writes FLV to a file, which ffprobe and
ffmpeg read back: the layout follows who is there (live, without a restart), a screen share takes the
stage, a stalled camera never holds the output up, the audio is everyone's mix, and SIGTERM leaves
a finished file."""

from __future__ import annotations

import asyncio
import fractions
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from bench.room_load import Client, Meetings, wait_for

from podium.domain.recordings import composer
from podium.domain.recordings.layout import CANVAS, arrange, grid
from podium.rooms.broadcast import Broadcast, BroadcastSpec
from podium.rooms.janus import JanusClient
from podium.rooms.janus_async import local_jsep
from tests.fixtures.browser import LiveServer
from tests.fixtures.event_loop import run_async
from tests.fixtures.tenants import TenantFactory

# Real WebRTC and Janus on two loaded cores: one retry absorbs a scheduling hiccup.
pytestmark = pytest.mark.flaky(reruns=1, reruns_delay=2)

WIDTH, HEIGHT = 960, 540
RED, GREEN = (81, 90, 240), (145, 54, 34)  # Y, U, V (BT.601, limited range)
LOW, HIGH = 500, 1300  # Hz: A's tone and B's


class Solid(MediaStreamTrack):
    """A camera that films one colour; ``stalled`` stops it sending anything (a frozen camera)."""

    kind = "video"

    def __init__(self, yuv: tuple[int, int, int], fps: int = 15) -> None:
        super().__init__()
        self.yuv, self.fps, self.sent, self.stalled = yuv, fps, 0, False
        self.start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        while self.stalled:
            await asyncio.sleep(0.05)
        self.start = self.start or time.monotonic()
        due = self.start + self.sent / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.VideoFrame(320, 240, "yuv420p")
        for plane, value in zip(frame.planes, self.yuv, strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = self.sent * (90000 // self.fps), fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


class Tone(MediaStreamTrack):
    """A microphone hearing one sine tone (mono 48 kHz, 20 ms frames)."""

    kind = "audio"

    def __init__(self, pitch: int) -> None:
        super().__init__()
        t = np.arange(960 * 50) / 48000  # one second, a whole number of periods for these pitches
        self.pcm = (6000 * np.sin(2 * np.pi * pitch * t)).astype(np.int16)
        self.sent, self.start = 0, None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self.start = self.start or time.monotonic()
        await asyncio.sleep(max(0.0, self.start + self.sent * 0.02 - time.monotonic()))
        at = (self.sent % 50) * 960
        frame = av.AudioFrame.from_ndarray(
            self.pcm[at : at + 960].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48000, self.sent * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self.sent += 1
        return frame


class Painted(Client):
    """A room_load participant whose camera is one colour and whose microphone one tone."""

    colour: tuple[int, int, int] = RED
    pitch: int = LOW

    async def _publish(self) -> None:
        pc = RTCPeerConnection()
        self.publisher_pc = pc
        self.audio, self.video = Tone(self.pitch), Solid(self.colour)  # type: ignore[assignment]
        pc.addTransceiver(self.audio, direction="sendonly")
        pc.addTransceiver(self.video, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await self.janus.message(
            self.publisher_handle,
            {"request": "configure", "audio": True, "video": True},
            local_jsep(pc.localDescription),
        )
        await self._tell({"type": "media", "publisher": self.publisher_id})


def painted(base: str, link: str, colour: tuple[int, int, int], pitch: int) -> Painted:
    client = Painted(base, link, True, 320, 240, 15, False)
    client.colour, client.pitch = colour, pitch
    return client


# --- reading the file back ------------------------------------------------------------------------


def _probe(path: Path) -> dict[str, Any]:
    found = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(found.stdout)  # type: ignore[no-any-return]


def _rgb(path: Path, at: float, x: int, y: int) -> tuple[int, ...]:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ss", f"{at:.3f}", "-frames:v", "1", "-f", "rawvideo"]
        + ["-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    offset = (y * WIDTH + x) * 3
    return tuple(raw[offset : offset + 3])


def _is(colour: tuple[int, int, int], rgb: tuple[int, ...]) -> bool:
    index = 0 if colour == RED else 1
    return len(rgb) == 3 and rgb[index] > 150 and all(v < 100 for i, v in enumerate(rgb) if i != index)


def _sound(path: Path, at: float, seconds: float = 0.8) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ss", f"{at:.3f}", "-t", str(seconds), "-vn"]
        + ["-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.int16).astype(np.float64)


def _pitches(samples: np.ndarray) -> set[int]:
    """Which of the two tones are in the sound (a spectral peak well above the floor)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 48000)
    floor = np.median(spectrum) + 1e-9
    return {p for p in (LOW, HIGH) if spectrum[np.abs(freqs - p) < 15].max() > 50 * floor}


def _video_times(path: Path) -> list[float]:
    found = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ]
        + [str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return sorted(float(line.strip(",")) for line in found.stdout.split())


# --- the tests ------------------------------------------------------------------------------------


def _janus(live_server: LiveServer, api_url: str | None = None) -> JanusClient:
    media = live_server.app.state.media  # type: ignore[attr-defined]
    if media is None:
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    janus = media.by_url(api_url) if api_url else media.clients[0]
    assert janus is not None
    return janus  # type: ignore[no-any-return]


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie, not reaped yet, has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_stream_is_the_room_composed_live(
    live_server: LiveServer, tenants: TenantFactory, tmp_path: Path
) -> None:
    tenant = tenants()
    base = live_server.base_url
    meetings = Meetings(
        base,
        {
            "liveminutes_account_sid": tenant.liveminutes_account_sid,
            "liveminutes_auth_token": tenant.liveminutes_auth_token,
        },
    )
    links = meetings.links(2)
    a, b = painted(base, links[0], RED, LOW), painted(base, links[1], GREEN, HIGH)
    target, sound_only = tmp_path / "live.flv", tmp_path / "audio.flv"
    marks: dict[str, Any] = {}
    token = secrets.token_hex(16)
    streams: list[Broadcast] = []

    async def wait(broadcast: Broadcast, label: str, check: Any, timeout: float = 15) -> dict[str, Any]:
        event = await asyncio.to_thread(broadcast.wait_event, check, timeout)
        assert event is not None, (label, broadcast.events, broadcast.failure, a.errors, b.errors)
        marks[label] = event
        return event

    async def scenario() -> Broadcast:
        try:
            await a.join()
            assert await wait_for(lambda: a.webrtcup_at is not None, 15), a.errors
        except BaseException:
            await a.leave()
            raise
        janus = _janus(live_server, a.entry["janus_url"])
        janus.add_token(token)
        broadcast = Broadcast(
            BroadcastSpec(a.entry["janus_url"], token, a.room, str(target), width=WIDTH, height=HEIGHT)
        )
        # Beside it, an audio-only stream of the same room (auto_stream: audio).
        listener = Broadcast(BroadcastSpec(a.entry["janus_url"], token, a.room, str(sound_only), video=False))
        streams.append(listener)
        try:
            broadcast.start()
            listener.start()
            assert await asyncio.to_thread(broadcast.wait_publishing, 15), (
                broadcast.events,
                broadcast.failure,
            )
            published = time.monotonic()
            # A alone, then B arrives: the grid re-flows without a restart.
            await wait(
                broadcast, "one", lambda e: e["event"] == "feeds" and e["video"] == 1 and e["audio"] == 1
            )
            await asyncio.sleep(1.2)
            await b.join()
            await wait(
                broadcast, "two", lambda e: e["event"] == "feeds" and e["video"] == 2 and e["audio"] == 2
            )
            await wait(listener, "heard two", lambda e: e["event"] == "feeds" and e["audio"] == 2)
            await asyncio.sleep(1.2)
            # A's camera freezes (nothing sent): the output goes on, A's last picture stays.
            a.video.stalled = True  # type: ignore[union-attr]
            marks["stalled"] = time.monotonic() - published
            await asyncio.sleep(1.5)
            a.video.stalled = False  # type: ignore[union-attr]
            # B shares a screen: it takes the stage, A sits in the strip below.
            broadcast.screen(b.publisher_id or 0, True)
            await wait(
                broadcast, "stage", lambda e: e["event"] == "stage" and e["publisher"] == b.publisher_id
            )
            await asyncio.sleep(1.2)
            broadcast.screen(b.publisher_id or 0, False)
            await wait(
                broadcast,
                "unstaged",
                lambda e: e["event"] == "stage" and e["publisher"] is None and e["at"] > marks["stage"]["at"],
            )
            # A leaves: B alone fills the frame.
            await a.leave()
            await wait(
                broadcast,
                "left",
                lambda e: e["event"] == "feeds" and e["video"] == 1 and e["at"] > marks["two"]["at"],
            )
            await asyncio.sleep(1.2)
        finally:
            await asyncio.gather(asyncio.to_thread(broadcast.stop), asyncio.to_thread(listener.stop))
            await asyncio.gather(a.leave(), b.leave(), return_exceptions=True)
            janus.remove_token(token)
        return broadcast

    broadcast = run_async(scenario(), timeout=90)
    events = broadcast.events
    assert broadcast.failure is None and not broadcast.alive, (broadcast.failure, events)
    assert events[-1] == {"event": "stopped"}, events  # a clean stop: encoders flushed, file closed

    info = _probe(target)
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac", info
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (WIDTH, HEIGHT)
    assert kinds["video"]["pix_fmt"] == "yuv420p" and int(kinds["audio"]["sample_rate"]) == 48000
    # The FLV trailer (written on a clean stop) carries the duration.
    times = _video_times(target)
    assert abs(float(info["format"]["duration"]) - times[-1]) < 0.5, (info["format"], times[-1])
    # The clock never waited for anyone: frames all along, and through A's 1.5 s stall as before it.
    # (A compositor starved of CPU skips the ticks it is late for, so on a loaded machine the counts
    # are below 20 a second; one that waited for A would have next to none in the stall.)
    stall = [t for t in times if marks["stalled"] + 0.2 <= t < marks["stalled"] + 1.3]
    assert len(stall) >= 11 and len(times) >= 0.7 * times[-1] * 20, (len(stall), len(times), times[-1])

    one, two, stage, left = (marks[k]["at"] for k in ("one", "two", "stage", "left"))
    centre, left_tile, right_tile = (
        (WIDTH // 2, HEIGHT // 2),
        (WIDTH // 4, HEIGHT // 2),
        (3 * WIDTH // 4, HEIGHT // 2),
    )
    # A alone: the whole frame (grid of one).
    assert _is(RED, _rgb(target, one + 0.6, *centre)) and _is(RED, _rgb(target, one + 0.6, *left_tile))
    # A and B: A on the left (arrived first), B on the right.
    assert _is(RED, _rgb(target, two + 0.6, *left_tile)), _rgb(target, two + 0.6, *left_tile)
    assert _is(GREEN, _rgb(target, two + 0.6, *right_tile)), _rgb(target, two + 0.6, *right_tile)
    # A's camera frozen: its tile keeps the last picture.
    assert _is(RED, _rgb(target, marks["stalled"] + 1.2, *left_tile))
    # B's screen on the stage (the top three quarters), A in the strip under it.
    assert _is(GREEN, _rgb(target, stage + 0.6, WIDTH // 2, HEIGHT * 3 // 8))
    assert _is(RED, _rgb(target, stage + 0.6, WIDTH // 2, HEIGHT * 7 // 8))
    assert not _is(GREEN, _rgb(target, stage + 0.6, WIDTH // 4, HEIGHT * 7 // 8))
    # A left: B alone fills the frame.
    assert _is(GREEN, _rgb(target, left + 0.6, *left_tile)) and _is(
        GREEN, _rgb(target, left + 0.6, *right_tile)
    )

    # The sound is everyone's: both tones while both are there, only B's once A left.
    both, alone = _sound(target, two + 0.3), _sound(target, left + 0.3)
    assert np.sqrt(np.mean(both**2)) > 1000, np.sqrt(np.mean(both**2))
    assert _pitches(both) == {LOW, HIGH}, _pitches(both)
    assert _pitches(alone) == {HIGH}, _pitches(alone)

    # The audio-only stream: AAC alone, the same mix, nobody's video.
    (listener,) = streams
    assert listener.failure is None and listener.events[-1] == {"event": "stopped"}, listener.events
    assert [s["codec_name"] for s in _probe(sound_only)["streams"]] == ["aac"]
    assert all(e.get("video", 0) == 0 for e in listener.events), listener.events
    assert _pitches(_sound(sound_only, marks["heard two"]["at"] + 0.3)) == {LOW, HIGH}


@pytest.mark.once  # reads no database: the PostgreSQL pass skips it
def test_the_live_layout_is_the_recordings_at_its_size() -> None:
    """One layout module for both: the stream's canvas (960x540) is the recording's (1280x720) at
    three quarters, tile for tile (within the 2 px that even sizes round to)."""
    scale = WIDTH / CANVAS[0]
    for count in range(1, 7):
        for sharing in (None, count - 1):
            live = arrange(list(range(count)), sharing, (WIDTH, HEIGHT))
            recorded = arrange(list(range(count)), sharing)
            assert [who for who, _ in live] == [who for who, _ in recorded]
            for (_, tile), (_, model) in zip(live, recorded, strict=True):
                assert all(abs(a - b * scale) <= 2 for a, b in zip(tile, model, strict=True)), (tile, model)
    # And the recordings' own layout is the same function (composer.layout goes through arrange).
    assert composer.grid is grid and composer.STAGE == (0, 0, 1280, 540)


@pytest.mark.once  # reads no database: the PostgreSQL pass skips it
def test_a_refused_token_fails_with_a_reason(live_server: LiveServer) -> None:
    janus = _janus(live_server)
    broadcast = Broadcast(BroadcastSpec(janus.endpoint.api_url, "not-a-token", 1, "/dev/null"))
    broadcast.start()
    try:
        assert not broadcast.wait_publishing(15)
        assert broadcast.failure is not None and "Unauthorized" in broadcast.failure, broadcast.failure
    finally:
        broadcast.stop()
    assert not broadcast.alive


@pytest.mark.once  # reads no database: the PostgreSQL pass skips it
def test_the_room_going_away_fails_the_stream_with_a_reason(live_server: LiveServer, tmp_path: Path) -> None:
    janus = _janus(live_server)
    room, secret, token = secrets.randbelow(2**50) + 1, secrets.token_hex(8), secrets.token_hex(16)
    janus.create_room(room, secret=secret, publishers=4, description="broadcast test")
    janus.add_token(token)
    broadcast = Broadcast(BroadcastSpec(janus.endpoint.api_url, token, room, str(tmp_path / "gone.flv")))
    try:
        broadcast.start()
        assert broadcast.wait_publishing(15), (broadcast.events, broadcast.failure)
        janus.destroy_room(room, secret=secret)
        assert broadcast.wait_for(lambda: broadcast.failure is not None, 10), broadcast.events
        assert broadcast.failure == "the room is gone"
        assert broadcast.wait_for(lambda: not broadcast.alive, 10)
    finally:
        broadcast.stop()
        janus.remove_token(token)
    # What it had published is a finished file.
    assert float(_probe(tmp_path / "gone.flv")["format"]["duration"]) > 0


@pytest.mark.once  # reads no database: the PostgreSQL pass skips it
def test_it_dies_with_its_parent(live_server: LiveServer, tmp_path: Path) -> None:
    """Its parent killed outright (SIGKILL, no chance to stop it): the compositor notices its
    standard input closing and stops on its own, finishing the file."""
    janus = _janus(live_server)
    room, secret, token = secrets.randbelow(2**50) + 1, secrets.token_hex(8), secrets.token_hex(16)
    janus.create_room(room, secret=secret, publishers=4, description="broadcast test")
    janus.add_token(token)
    target = tmp_path / "orphan.flv"
    spec = BroadcastSpec(janus.endpoint.api_url, token, room, str(target))
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from podium.rooms.broadcast import Broadcast, BroadcastSpec\n"
            "b = Broadcast(BroadcastSpec.from_json(sys.argv[1]))\n"
            "b.start()\n"
            "print(b.pid if b.wait_publishing(15) else 0, flush=True)\n"
            "time.sleep(60)\n",
            spec.to_json(),  # a test token for a throwaway room: fine on a command line here
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline() or 0)
        assert child, "the compositor did not publish"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = _running(child)
        if alive:
            os.kill(child, signal.SIGKILL)
        assert not alive, "the compositor outlived its parent"
        info = _probe(target)
        assert float(info["format"]["duration"]) > 0, info["format"]
    finally:
        if parent.poll() is None:
            parent.kill()
        janus.remove_token(token)
        janus.destroy_room(room, secret=secret)
