"""The playout process (``python -m podium.rooms.broadcast.playout_process``): a file published into a
room as a participant (rooms/broadcast/playout.py says what it tells and takes).

- **In the room.** A Janus session with the spec's token; one handle joins the VideoRoom as a
  publisher named after the spec (``display``) and publishes with aiortc (``rooms/janus_async``):
  every participant's page subscribes to it like to a camera, and so does the compositor.
- **Black, then the file.** Each track is a gate: black pictures (15 fps) and silence until the
  server says ``play``, then the file's decoded frames (aiortc's ``MediaPlayer``, in real time),
  scaled to the spec's size and re-timed to follow on, so receivers see one continuous stream.
- **The end.** When every track of the file has ended it says ``ended``, leaves the room and exits
  with status 0. A media server that fails (10 s without an answer, the session lost, the room
  gone) or a connection that fails is ``failed`` with the reason (status 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import signal
import threading
import time
from typing import Any

import av
import httpx
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

from podium.rooms.broadcast.compositor import BLACK, Failure, Lines, Status, serve_process
from podium.rooms.broadcast.playout import PlayoutSpec
from podium.rooms.janus_async import JanusError, JanusSession, local_jsep, plugin_data

log = logging.getLogger("podium.rooms.broadcast.playout")

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_PTIME = 0.02
FILLER_FPS = 15
JANUS_PATIENCE = 10.0  # seconds the media server may fail to answer before the playout fails
CONNECT_TIMEOUT = 20.0  # seconds from the offer to media flowing to the media server


class Gate(MediaStreamTrack):
    """One of the file's tracks behind a gate: black (or silence) until ``opened``, then the file.

    Time stamps follow the wall clock from the first frame sent, before and after the gate opens,
    so the switch is seamless for the encoder and for every receiver.
    """

    def __init__(
        self,
        kind: str,
        source: MediaStreamTrack,
        opened: asyncio.Event,
        size: tuple[int, int],
        ended: asyncio.Event,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.source, self.opened, self.size, self.done = source, opened, size, ended
        self._start: float | None = None
        self._sent = 0  # filler frames so far
        self._offset: int | None = None  # the output clock where the file's first frame went
        self._first: int | None = None  # the file's first time stamp (its own clock)
        if kind == "video":
            layout = av.VideoFrame(*size, "yuv420p")
            self._black = [
                bytes([value]) * plane.buffer_size for value, plane in zip(BLACK, layout.planes, strict=True)
            ]

    def _clock(self) -> int:
        rate = VIDEO_CLOCK if self.kind == "video" else AUDIO_RATE
        assert self._start is not None
        return int((time.monotonic() - self._start) * rate)

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        if not self.opened.is_set():
            return await self._filler()
        try:
            frame = await self.source.recv()
        except MediaStreamError:
            self.done.set()
            raise
        assert isinstance(frame, av.VideoFrame | av.AudioFrame) and frame.pts is not None
        if self._offset is None:
            self._offset, self._first = self._clock(), frame.pts
        assert self._first is not None and frame.time_base is not None
        elapsed = (frame.pts - self._first) * frame.time_base  # seconds into the file
        if isinstance(frame, av.VideoFrame):
            width, height = self.size
            if (frame.width, frame.height, frame.format.name) != (width, height, "yuv420p"):
                frame = frame.reformat(width=width, height=height, format="yuv420p")
            frame.pts = self._offset + int(elapsed * VIDEO_CLOCK)
            frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        else:
            frame.pts = self._offset + int(elapsed * AUDIO_RATE)
            frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame

    async def _filler(self) -> av.VideoFrame | av.AudioFrame:
        assert self._start is not None
        interval = 1 / FILLER_FPS if self.kind == "video" else AUDIO_PTIME
        due = self._start + self._sent * interval
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        self._sent += 1
        frame: av.VideoFrame | av.AudioFrame
        if self.kind == "video":
            frame = av.VideoFrame(*self.size, "yuv420p")
            for plane, black in zip(frame.planes, self._black, strict=True):
                plane.update(black)
            frame.pts = self._clock()
            frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        else:
            samples = int(AUDIO_RATE * AUDIO_PTIME)
            frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
            frame.planes[0].update(bytes(samples * 4))
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._clock()
            frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


class Playout:
    """The room side: the Janus session, the publisher handle and its peer connection."""

    def __init__(self, spec: PlayoutSpec, status: Status, commands: Lines) -> None:
        self.spec, self.status, self.commands = spec, status, commands
        self.errors: list[str] = []
        self.stopping = asyncio.Event()
        self.opened = asyncio.Event()
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pc: RTCPeerConnection | None = None
        self.player: MediaPlayer | None = None
        self.handle: int | None = None
        self.gates: list[tuple[Gate, asyncio.Event]] = []

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        threading.Thread(
            target=self._read_commands, args=(loop,), name="playout-commands", daemon=True
        ).start()
        self.http = httpx.AsyncClient(timeout=30)
        self.session = JanusSession(self.http, self.spec.janus_api_url, self.spec.janus_token, self.errors)
        reason: str | None = None
        ended = False
        try:
            self._open_file()
            await self._publish()
            ended = await self._play()
        except Failure as exc:
            reason = str(exc)
        finally:
            await self._leave()
        if reason is not None:
            self.status("failed", reason=reason)
            return 1
        self.status("ended" if ended else "stopped")
        return 0

    def _read_commands(self, loop: asyncio.AbstractEventLoop) -> None:
        """Commands from the parent; the end of its pipe means the parent has gone: stop."""
        for line in self.commands:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                command = json.loads(line)
                if isinstance(command, dict) and command.get("play"):
                    loop.call_soon_threadsafe(self.opened.set)
        with contextlib.suppress(RuntimeError):  # the loop may have finished already
            loop.call_soon_threadsafe(self.stopping.set)

    def _open_file(self) -> None:
        try:
            self.player = MediaPlayer(self.spec.path)
        except (OSError, av.FFmpegError) as exc:
            raise Failure(f"the file cannot be read: {exc}") from exc
        size = (self.spec.width, self.spec.height)
        for kind, source in (("video", self.player.video), ("audio", self.player.audio)):
            if (
                source is None
                or (kind == "video" and not self.spec.video)
                or (kind == "audio" and not self.spec.audio)
            ):
                continue
            done = asyncio.Event()
            self.gates.append((Gate(kind, source, self.opened, size, done), done))
        if not self.gates:
            raise Failure("the file has neither picture nor sound")

    async def _on_event(self, event: dict[str, Any]) -> None:
        await self.events.put(event)

    async def _next_event(self, wanted: str, timeout: float) -> dict[str, Any]:
        """The next event of the publisher handle that is ``wanted`` ("joined", "answer",
        "webrtcup"); a VideoRoom error fails."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.stopping.is_set():
                raise Failure(f"the media server did not answer ({wanted})")
            try:
                event = await asyncio.wait_for(self.events.get(), min(left, 0.5))
            except TimeoutError:
                if self.session.lost:
                    raise Failure(f"the media server ended the session: {self.session.lost}") from None
                continue
            data = plugin_data(event)
            if data.get("error"):
                raise Failure(f"the media server refused: {data['error']}")
            if wanted == "joined" and data.get("videoroom") == "joined":
                return data
            if wanted == "answer" and (event.get("jsep") or {}).get("type") == "answer":
                return dict(event["jsep"])
            if wanted == "webrtcup" and event.get("janus") == "webrtcup":
                return event

    async def _publish(self) -> None:
        try:
            await self.session.create()
            self.handle = await self.session.attach(self._on_event)
            await self.session.message(
                self.handle,
                {
                    "request": "join",
                    "ptype": "publisher",
                    "room": self.spec.room,
                    "display": self.spec.display,
                },
            )
            joined = await self._next_event("joined", JANUS_PATIENCE)
            self.pc = pc = RTCPeerConnection()
            for gate, _ in self.gates:
                pc.addTransceiver(gate, direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            kinds = {gate.kind for gate, _ in self.gates}
            await self.session.message(
                self.handle,
                {"request": "configure", "audio": "audio" in kinds, "video": "video" in kinds},
                local_jsep(pc.localDescription),
            )
            answer = await self._next_event("answer", JANUS_PATIENCE)
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            await self._next_event("webrtcup", CONNECT_TIMEOUT)
        except (JanusError, httpx.HTTPError, KeyError, ValueError) as exc:
            raise Failure(f"could not publish in the room at the media server: {exc}") from exc
        self.status("publishing", publisher=int(joined.get("id") or 0))

    async def _play(self) -> bool:
        """Until every track of the file has ended (True) or a stop (False)."""
        played = False
        while not self.stopping.is_set():
            if self.opened.is_set() and not played:
                played = True
                self.status("playing")
            if all(done.is_set() for _, done in self.gates):
                return True
            assert self.pc is not None
            if self.pc.connectionState in ("failed", "closed"):
                raise Failure("the connection to the media server failed")
            if self.session.lost:
                raise Failure(f"the media server ended the session: {self.session.lost}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.2)
        return False

    async def _leave(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.session.message(self.handle, {"request": "leave"}), JANUS_PATIENCE
                )
        for gate, _ in self.gates:
            gate.stop()
            gate.source.stop()  # the player's decoding thread ends with its last track
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await self.pc.close()
        with contextlib.suppress(Exception):
            await self.session.destroy()
        await self.http.aclose()


def main() -> None:
    serve_process(PlayoutSpec.from_json, lambda spec, status, commands: Playout(spec, status, commands).run())


if __name__ == "__main__":
    main()
