"""The compositor process: a hidden subscriber in the room, a fixed clock, one encoder (ADR 0011).

- **In the room.** A Janus session with the token of the spec; every second ``listparticipants``
  says who publishes, and each publisher gets a subscriber handle of its own, answered by aiortc
  (``rooms/janus_async``), which decodes their streams. Nobody in the room sees the compositor: it
  never joins as a publisher.
- **What it keeps.** The latest decoded picture of each camera, and a short buffer (at most
  ``AUDIO_BUFFER`` seconds) of each person's audio.
- **The clock.** An output thread ticks at the frame rate for video and every 20 ms for audio,
  whatever the inputs do: a camera that stalls keeps its last picture, a microphone that stalls is
  silence, one that left is gone at the next look at the room (the layout re-flows live). Each video
  tick lays out the cameras present with the recordings' layout (``domain/recordings/layout``:
  a grid in order of arrival, or a screen share on the stage and the others in a strip); each audio
  tick mixes 20 ms of everyone.
- **The output.** H.264 (libx264, veryfast, zerolatency, a keyframe every ``LIVE_KEYFRAME_SECONDS``,
  yuv420p) and AAC 48 kHz stereo, in FLV, to the output URL (``rtmp://…``; a file path in tests), with
  PyAV. An output path ending in ``.m3u8`` is HLS written beside it instead (one-second segments, a
  sliding playlist, as the RTMP server writes them): a private preview run's (ADR 0013).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import itertools
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from podium.domain.recordings.layout import AUDIO_KBPS, LIVE_KEYFRAME_SECONDS, VIDEO_KBPS, Tile, arrange
from podium.rooms.broadcast import BroadcastSpec
from podium.rooms.janus_async import JanusError, JanusSession, Subscription, plugin_data

log = logging.getLogger("podium.rooms.broadcast")
T = TypeVar("T")

SAMPLE_RATE = 48000
CHANNELS = 2
AUDIO_TICK = 0.02
TICK_SAMPLES = int(SAMPLE_RATE * AUDIO_TICK)
AUDIO_BUFFER = 0.2  # seconds of someone's audio kept at most (older samples are dropped)
AUDIO_PREBUFFER = 0.04  # a stalled microphone plays again once this much has arrived
LOOK_EVERY = 1.0  # seconds between two looks at who publishes
JANUS_PATIENCE = 10.0  # seconds the media server may fail to answer before the stream fails
LATE = 0.5  # a video tick later than this is skipped (the next one shows the present)
BLACK = (16, 128, 128)  # Y, U, V of black (limited range), as ffmpeg's color=black
HLS_LIST_SIZE = 10  # segments a private run's playlist lists (about ten seconds, as nginx-rtmp's)


def hls_options(segments: str) -> dict[str, str]:
    """ffmpeg's HLS muxer as nginx-rtmp writes lives: a segment per key frame interval, a sliding
    playlist, old segments deleted, each segment renamed into place once whole."""
    return {
        "hls_time": str(LIVE_KEYFRAME_SECONDS),
        "hls_list_size": str(HLS_LIST_SIZE),
        "hls_flags": "delete_segments+temp_file",
        "hls_segment_filename": segments,
    }


class Failure(Exception):
    """The stream cannot go on; the message is the reason given on the status line."""


class Status:
    """JSON lines on standard output; a parent that has gone is not an error."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields})
        with self.lock, contextlib.suppress(OSError, ValueError):
            self.stream.write(line + "\n")
            self.stream.flush()


class AudioBuffer:
    """Someone's decoded audio (s16, interleaved stereo, 48 kHz) waiting for the next mix."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples = np.zeros(0, dtype=np.int16)
        self.playing = False
        self.heard = False

    def push(self, samples: np.ndarray) -> None:
        keep = int(AUDIO_BUFFER * SAMPLE_RATE) * CHANNELS
        with self.lock:
            self.samples = np.concatenate((self.samples, samples))[-keep:]
            self.heard = True

    def take(self, count: int) -> np.ndarray | None:
        """``count`` samples per channel, padded with silence; None while (re)filling."""
        wanted = count * CHANNELS
        with self.lock:
            if not self.playing:
                if len(self.samples) < int(AUDIO_PREBUFFER * SAMPLE_RATE) * CHANNELS:
                    return None
                self.playing = True
            chunk, self.samples = self.samples[:wanted], self.samples[wanted:]
        if len(chunk) < wanted:
            self.playing = False  # ran dry: wait for a little again rather than crackle
            chunk = np.concatenate((chunk, np.zeros(wanted - len(chunk), dtype=np.int16)))
        return chunk


async def hear(track: MediaStreamTrack, buffer: AudioBuffer) -> None:
    """Someone's received audio, decoded and brought to s16 stereo 48 kHz, into ``buffer`` until the
    track ends (the compositor's mix, and a phone gateway's)."""
    resampler: av.AudioResampler | None = None
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            frames = [frame]
            if (frame.format.name, frame.layout.name, frame.sample_rate) != ("s16", "stereo", SAMPLE_RATE):
                resampler = resampler or av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
                frames = resampler.resample(frame)
            for each in frames:
                buffer.push(each.to_ndarray().reshape(-1).astype(np.int16, copy=False))


class Feed:
    """One publisher as the compositor receives it."""

    def __init__(self, publisher: int, order: int) -> None:
        self.publisher = publisher
        self.order = order
        self.has_video = False
        self.frame: av.VideoFrame | None = None  # the latest picture (replaced, never queued)
        self.audio = AudioBuffer()
        self.subscription: Subscription | None = None
        self.tracks: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []


class Board:
    """What the output thread reads: who is present (in order of arrival) and who shares a screen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.feeds: dict[int, Feed] = {}
        self.sharing: set[int] = set()

    def snapshot(self) -> tuple[list[Feed], int | None]:
        with self.lock:
            feeds = sorted(self.feeds.values(), key=lambda feed: feed.order)
            staged = next((f.publisher for f in feeds if f.has_video and f.publisher in self.sharing), None)
        return feeds, staged


class Output(threading.Thread):
    """The fixed clock, the canvas, the mix and the encoders, in a thread of their own."""

    def __init__(self, spec: BroadcastSpec, board: Board, status: Status) -> None:
        super().__init__(name="broadcast-output", daemon=True)
        self.spec, self.board, self.status = spec, board, status
        self.halt = threading.Event()
        self.failure: str | None = None
        self.ticks = 0
        width, height = spec.width, spec.height
        self.canvas = np.empty((height * 3 // 2, width), dtype=np.uint8)
        quarter = height // 4
        self.y = self.canvas[:height]
        self.u = self.canvas[height : height + quarter].reshape(height // 2, width // 2)
        self.v = self.canvas[height + quarter :].reshape(height // 2, width // 2)
        self.layout: list[tuple[int, Tile]] | None = None
        self.painted: dict[int, tuple[av.VideoFrame, int, int]] = {}
        self.told: dict[str, Any] = {}

    # --- the clock ---------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - the reason goes on the status line
            log.exception("the output failed")
            self.failure = f"the output failed: {exc}"

    def _run(self) -> None:
        fps = self.spec.fps
        video_ticks = audio_ticks = 0
        try:
            self._open()
            start = time.monotonic()
            while not self.halt.is_set():
                now = time.monotonic()
                next_audio = start + audio_ticks * AUDIO_TICK
                next_video = start + video_ticks / fps if self.spec.video else math.inf
                due = min(next_video, next_audio)
                if due > now:
                    self.halt.wait(due - now)
                    continue
                if next_audio <= next_video:
                    if now - next_audio > 1.0:  # starved of CPU for a while: skip, do not rush
                        audio_ticks = int((now - start) / AUDIO_TICK)
                        continue
                    self._audio(audio_ticks)
                    audio_ticks += 1
                    self.ticks = max(self.ticks, 1)
                else:
                    if now - next_video > LATE:
                        video_ticks = int((now - start) * fps)
                        continue
                    self._video(video_ticks)
                    video_ticks += 1
                    self.ticks = video_ticks
        finally:
            self._close()

    # --- the output --------------------------------------------------------------------------------
    def _open(self) -> None:
        spec = self.spec
        url = spec.output_url
        remote = "://" in url
        if not remote and url.endswith(".m3u8"):
            segments = os.path.join(os.path.dirname(url), "seg-%06d.ts")
            self.container = av.open(url, mode="w", format="hls", container_options=hls_options(segments))
        else:
            options = {"flvflags": "no_duration_filesize"} if remote else {}
            self.container = av.open(
                url, mode="w", format="flv", container_options=options, timeout=10 if remote else None
            )
        self.video_stream: av.VideoStream | None = None
        if spec.video:
            gop = LIVE_KEYFRAME_SECONDS * spec.fps
            video = self.container.add_stream("libx264", rate=spec.fps)
            video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
            video.bit_rate = VIDEO_KBPS * 1000
            video.codec_context.gop_size = gop
            video.codec_context.options = {
                "preset": "veryfast",
                "tune": "zerolatency",
                "x264-params": (
                    f"keyint={gop}:min-keyint={gop}:scenecut=0:"
                    f"vbv-maxrate={VIDEO_KBPS}:vbv-bufsize={VIDEO_KBPS}"
                ),
            }
            self.video_stream = video
        audio = self.container.add_stream("aac", rate=SAMPLE_RATE)
        audio.codec_context.layout = "stereo"
        audio.bit_rate = AUDIO_KBPS * 1000
        self.audio_stream = audio
        self.video_base = fractions.Fraction(1, spec.fps)
        self.audio_base = fractions.Fraction(1, SAMPLE_RATE)
        self._clear()
        self.published = False

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self.container.mux(packet)

    def _close(self) -> None:
        """Flush both encoders and close the output (the FLV trailer, or the end of the RTMP stream)."""
        container = getattr(self, "container", None)
        if container is None:
            return
        try:
            for stream in (getattr(self, "video_stream", None), getattr(self, "audio_stream", None)):
                if self.ticks and stream is not None:
                    self._mux(stream.encode(None))
        finally:
            container.close()

    # --- video -------------------------------------------------------------------------------------
    def _clear(self) -> None:
        self.y[:] = BLACK[0]
        self.u[:] = BLACK[1]
        self.v[:] = BLACK[2]

    def _video(self, tick: int) -> None:
        feeds, staged = self.board.snapshot()
        cameras = {f.publisher: f for f in feeds if f.has_video}
        layout = arrange(list(cameras), staged, (self.spec.width, self.spec.height))
        if layout != self.layout:
            self._clear()
            self.layout, self.painted = layout, {}
        for publisher, tile in layout:
            frame = cameras[publisher].frame
            if frame is not None and self.painted.get(publisher, (None,))[0] is not frame:
                self._paint(publisher, frame, tile)
        at = round(tick / self.spec.fps, 3)
        pictures = sum(f.frame is not None for f in cameras.values())
        self._tell("feeds", at, video=pictures, audio=sum(f.audio.heard for f in feeds))
        self._tell("stage", at, publisher=staged)
        frame = av.VideoFrame.from_ndarray(self.canvas, format="yuv420p")
        frame.pts, frame.time_base = tick, self.video_base
        assert self.video_stream is not None
        self._mux(self.video_stream.encode(frame))
        self._published()

    def _published(self) -> None:
        if not self.published:
            self.published = True
            self.status("publishing")

    def _paint(self, publisher: int, frame: av.VideoFrame, tile: Tile) -> None:
        """The picture scaled into its tile (aspect kept, centred, black around)."""
        x, y, width, height = tile
        scale = min(width / frame.width, height / frame.height)
        scaled_w, scaled_h = (
            max(2, int(frame.width * scale) // 2 * 2),
            max(2, int(frame.height * scale) // 2 * 2),
        )
        before = self.painted.get(publisher)
        if before is not None and before[1:] != (scaled_w, scaled_h):
            self.y[y : y + height, x : x + width] = BLACK[0]
            self.u[y // 2 : (y + height) // 2, x // 2 : (x + width) // 2] = BLACK[1]
            self.v[y // 2 : (y + height) // 2, x // 2 : (x + width) // 2] = BLACK[2]
        left = (x + (width - scaled_w) // 2) // 2 * 2
        top = (y + (height - scaled_h) // 2) // 2 * 2
        scaled = frame.reformat(width=scaled_w, height=scaled_h, format="yuv420p")
        for plane, target, shift in ((0, self.y, 0), (1, self.u, 1), (2, self.v, 1)):
            data = scaled.planes[plane]
            rows, columns = scaled_h >> shift, scaled_w >> shift
            pixels = np.frombuffer(memoryview(data), dtype=np.uint8).reshape(-1, data.line_size)[
                :rows, :columns
            ]
            target[top >> shift : (top >> shift) + rows, left >> shift : (left >> shift) + columns] = pixels
        self.painted[publisher] = (frame, scaled_w, scaled_h)

    def _tell(self, event: str, at: float, **fields: Any) -> None:
        """A status line when what the stream shows changed."""
        if self.told.get(event) != fields:
            self.told[event] = fields
            self.status(event, **fields, at=at)

    # --- audio -------------------------------------------------------------------------------------
    def _audio(self, tick: int) -> None:
        feeds, _ = self.board.snapshot()
        mixed = np.zeros(TICK_SAMPLES * CHANNELS, dtype=np.int32)
        for feed in feeds:
            chunk = feed.audio.take(TICK_SAMPLES)
            if chunk is not None:
                mixed += chunk
        pcm = np.clip(mixed, -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = tick * TICK_SAMPLES, self.audio_base
        self._mux(self.audio_stream.encode(frame))
        if not self.spec.video:
            self._tell("feeds", round(tick * AUDIO_TICK, 3), video=0, audio=sum(f.audio.heard for f in feeds))
            self._published()


class Compositor:
    """The room side: the Janus session, who publishes, their decoded streams."""

    def __init__(self, spec: BroadcastSpec, status: Status, commands: Lines) -> None:
        self.spec, self.status, self.commands = spec, status, commands
        self.board = Board()
        self.order = itertools.count()
        self.errors: list[str] = []
        self.stopping = asyncio.Event()
        self.output: Output | None = None

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        threading.Thread(
            target=self._read_commands, args=(loop,), name="broadcast-commands", daemon=True
        ).start()
        self.http = httpx.AsyncClient(timeout=30)
        self.session = JanusSession(self.http, self.spec.janus_api_url, self.spec.janus_token, self.errors)
        reason: str | None = None
        try:
            await self._join()
            self.output = Output(self.spec, self.board, self.status)
            self.output.start()
            await self._watch()
        except Failure as exc:
            reason = str(exc)
        finally:
            await self._leave()
        if reason is None and self.output is not None and self.output.failure:
            reason = self.output.failure
        if reason is not None:
            self.status("failed", reason=reason)
            return 1
        self.status("stopped")
        return 0

    def _read_commands(self, loop: asyncio.AbstractEventLoop) -> None:
        """Commands from the parent; the end of its pipe means the parent has gone: stop."""
        for line in self.commands:
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                command = json.loads(line)
                if "screen" in command:
                    share = command["screen"]
                    loop.call_soon_threadsafe(self._screen, int(share["publisher"]), bool(share["on"]))
        with contextlib.suppress(RuntimeError):  # the loop may have finished already
            loop.call_soon_threadsafe(self.stopping.set)

    def _screen(self, publisher: int, on: bool) -> None:
        with self.board.lock:
            if on:
                self.board.sharing.add(publisher)
            else:
                self.board.sharing.discard(publisher)

    # --- the room ----------------------------------------------------------------------------------
    async def _join(self) -> None:
        try:
            await self.session.create()
            self.watcher = await self.session.attach(self._ignore)
            await self._look()
        except (JanusError, httpx.HTTPError, KeyError, ValueError) as exc:
            raise Failure(f"could not join the room at the media server: {exc}") from exc

    async def _ignore(self, event: dict[str, Any]) -> None:
        return None

    async def _watch(self) -> None:
        """Look at who publishes every second until stopped; the output or the room may fail."""
        answered = time.monotonic()
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), LOOK_EVERY)
            if self.stopping.is_set():
                return
            assert self.output is not None
            if not self.output.is_alive():
                raise Failure(self.output.failure or "the output stopped")
            if self.session.lost:
                raise Failure(f"the media server ended the session: {self.session.lost}")
            try:
                await self._look()
                answered = time.monotonic()
            except (JanusError, httpx.HTTPError, KeyError, ValueError) as exc:
                if time.monotonic() - answered > JANUS_PATIENCE:
                    raise Failure(f"the media server does not answer: {exc}") from exc

    async def _look(self) -> None:
        answer = await self.session.message(
            self.watcher, {"request": "listparticipants", "room": self.spec.room}
        )
        data = plugin_data(answer)
        if data.get("error_code") == 426:
            raise Failure("the room is gone")
        if data.get("error"):
            raise JanusError(str(data["error"]))
        publishing = [int(p["id"]) for p in data.get("participants", []) if p.get("publisher")]
        for publisher in publishing:
            if publisher not in self.board.feeds:
                await self._subscribe(publisher)
        for publisher in list(self.board.feeds):
            if publisher not in publishing:
                await self._drop(publisher)

    async def _subscribe(self, publisher: int) -> None:
        feed = Feed(publisher, next(self.order))

        async def failed(reason: str) -> None:  # e.g. unpublished meanwhile: the next look decides
            await self._drop(publisher)

        feed.subscription = Subscription(
            self.session,
            self.spec.room,
            publisher,
            prepare=lambda pc: self._receive(feed, pc),
            on_failed=failed,
        )
        with self.board.lock:
            self.board.feeds[publisher] = feed
        try:
            await feed.subscription.start()
        except (JanusError, httpx.HTTPError, KeyError, ValueError) as exc:
            log.info("could not subscribe to %s: %s", publisher, exc)
            await self._drop(publisher)

    def _receive(self, feed: Feed, pc: RTCPeerConnection) -> None:
        """Read every track of the subscription (and any a later offer adds); for a stream without
        video, ask Janus not to send the video at all."""
        for receiver in pc.getReceivers():
            self._read(feed, receiver.track)
        pc.on("track", lambda track: self._read(feed, track))
        if not self.spec.video and feed.subscription is not None:
            mids = [t.mid for t in pc.getTransceivers() if t.kind == "video" and t.mid is not None]
            if mids:
                feed.tasks.append(asyncio.create_task(self._mute(feed.subscription, mids)))

    async def _mute(self, subscription: Subscription, mids: list[str]) -> None:
        assert subscription.handle is not None
        with contextlib.suppress(JanusError, httpx.HTTPError):
            await self.session.message(
                subscription.handle,
                {"request": "configure", "streams": [{"mid": mid, "send": False} for mid in mids]},
            )

    def _read(self, feed: Feed, track: MediaStreamTrack) -> None:
        if track is None or track.id in feed.tracks:
            return
        feed.tracks.add(track.id)
        if track.kind == "video" and self.spec.video:
            feed.has_video = True
            feed.tasks.append(asyncio.create_task(self._pictures(feed, track)))
        elif track.kind == "audio":
            feed.tasks.append(asyncio.create_task(self._sound(feed, track)))

    async def _pictures(self, feed: Feed, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                feed.frame = await track.recv()  # type: ignore[assignment]

    async def _sound(self, feed: Feed, track: MediaStreamTrack) -> None:
        await hear(track, feed.audio)

    async def _drop(self, publisher: int) -> None:
        with self.board.lock:
            feed = self.board.feeds.pop(publisher, None)
            self.board.sharing.discard(publisher)
        if feed is None:
            return
        for task in feed.tasks:
            task.cancel()
        if feed.subscription is not None:
            await feed.subscription.close()

    async def _leave(self) -> None:
        if self.output is not None:
            self.output.halt.set()
            await asyncio.to_thread(self.output.join, 15)
        for publisher in list(self.board.feeds):
            with contextlib.suppress(Exception):
                await self._drop(publisher)
        with contextlib.suppress(Exception):
            await self.session.destroy()
        await self.http.aclose()


class Lines:
    """Lines from a file descriptor, read unbuffered: a thread blocked here holds no lock of
    ``sys.stdin`` that the interpreter would wait for at exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def __iter__(self) -> Iterator[str]:
        while True:
            line = self.readline()
            if line is None:
                return
            yield line

    def readline(self) -> str | None:
        """The next line, or None at the end of the input."""
        while b"\n" not in self.pending:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode("utf-8", "replace")


def serve_process(
    read_spec: Callable[[str], T], run: Callable[[T, Status, Lines], Coroutine[Any, Any, int]]
) -> None:
    """A broadcast process's life (the compositor's, a playout's): the spec on the first line of
    standard input, status lines on standard output, the exit status ``run``'s."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    status = Status(sys.stdout)
    commands = Lines(sys.stdin.fileno())
    try:
        spec = read_spec(commands.readline() or "")
    except ValueError as exc:
        status("failed", reason=str(exc))
        sys.exit(2)
    sys.exit(asyncio.run(run(spec, status, commands)))


def main() -> None:
    serve_process(
        BroadcastSpec.from_json, lambda spec, status, commands: Compositor(spec, status, commands).run()
    )
