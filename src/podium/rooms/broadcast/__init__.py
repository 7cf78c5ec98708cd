"""The live compositor: a running meeting composed into one live stream (ADR 0011).

A process of its own (``python -m podium.rooms.broadcast``, see ``compositor.py``) joins the room's
VideoRoom as a hidden subscriber, lays the cameras out like a recording (``domain/recordings/layout``),
mixes everyone's audio, and publishes H.264 + AAC in FLV to an output URL (``rtmp://…``, or a file).
Its own process keeps its CPU off the server's event loop and a crash of either from taking the other
down.

``Broadcast`` is the server's side: it starts the process with the spec on its standard input (the
Janus token never appears on a command line), reads its status lines, tells it who shares a screen,
and stops it. The process stops when its standard input closes, so it ends with the server even when
the server is killed.

Status lines (JSON, one per line, on the process's standard output):

- ``{"event": "publishing"}``: the output is open and the first frame is written.
- ``{"event": "feeds", "video": N, "audio": M, "at": s}``: how many cameras are on the canvas with
  a picture and how many people are heard, from stream time ``s`` (seconds) on.
- ``{"event": "stage", "publisher": id | null, "at": s}``: whose screen share has the stage.
- ``{"event": "failed", "reason": "…"}``: it stopped on its own (the media server, the room, or the
  output failed); the process then exits with status 1.
- ``{"event": "stopped"}``: a clean stop (SIGTERM, or the standard input closed): the encoders are
  flushed and the output closed.

Commands (JSON lines on its standard input, after the spec): ``{"screen": {"publisher": id, "on":
bool}}``, as the room page reports a screen share.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import IO, Any, Protocol

from podium.domain.recordings.layout import FRAME_RATE

log = logging.getLogger(__name__)
# What this 2-core machine composes at FRAME_RATE with room to spare (docs/adr/0011).
DEFAULT_SIZE = (960, 540)


@dataclass(frozen=True)
class BroadcastSpec:
    """What one compositor does: which room of which Janus (and the token it joins with), where the
    stream goes (``rtmp://…`` or a file path), its frame size and rate, and whether it has video."""

    janus_api_url: str
    janus_token: str
    room: int
    output_url: str
    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]
    fps: int = FRAME_RATE
    video: bool = True  # False: the mixed audio alone (AAC in FLV); nobody's video is even received

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BroadcastSpec:
        """Read a spec, refusing what would not make a stream (ValueError)."""
        try:
            raw = json.loads(text)
            spec = cls(
                janus_api_url=str(raw["janus_api_url"]),
                janus_token=str(raw["janus_token"]),
                room=int(raw["room"]),
                output_url=str(raw["output_url"]),
                width=int(raw.get("width", DEFAULT_SIZE[0])),
                height=int(raw.get("height", DEFAULT_SIZE[1])),
                fps=int(raw.get("fps", FRAME_RATE)),
                video=bool(raw.get("video", True)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a broadcast spec: {exc!r}") from exc
        if not (16 <= spec.width <= 3840 and 16 <= spec.height <= 2160) or spec.width % 4 or spec.height % 4:
            raise ValueError("width and height must be multiples of 4, from 16x16 to 3840x2160")
        if not 1 <= spec.fps <= 60:
            raise ValueError("fps must be from 1 to 60")
        return spec


class ProcessSpec(Protocol):
    def to_json(self) -> str: ...


class Broadcast:
    """One compositor process, seen from the server.

    ``start()`` launches it; ``wait_publishing(timeout)`` is true once it publishes (false if it
    failed or is not publishing yet); ``screen()`` passes on a screen share; ``stop()`` asks for a
    clean stop (SIGTERM) and waits for it. ``alive`` says whether the process runs; ``failure`` why it
    stopped on its own (None while it runs, and after a clean stop).

    The playout of a conference's ``broadcast_stream_url`` (``playout.Playout``) is supervised the
    same way: another ``module``, the same spec-on-stdin and status lines.
    """

    module = "podium.rooms.broadcast"
    what = "the compositor"

    def __init__(
        self, spec: ProcessSpec, *, on_event: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.spec = spec
        self.on_event = on_event
        self.events: list[dict[str, Any]] = []
        self.publishing = False
        self.feeds = (0, 0)
        self._failure: str | None = None
        self._stopping = False
        self._process: subprocess.Popen[str] | None = None
        self._changed = threading.Condition()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._readers: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def failure(self) -> str | None:
        """Why the compositor stopped on its own: its own reason, or how it exited."""
        if self._failure is not None:
            return self._failure
        process = self._process
        if process is None or process.poll() is None or self._stopping or process.returncode == 0:
            return None
        last = self._stderr[-1] if self._stderr else ""
        return f"{self.what} exited with status {process.returncode}" + (f": {last}" if last else "")

    @property
    def log_tail(self) -> list[str]:
        """The last lines the process wrote to its standard error (its warnings), newest last."""
        return list(self._stderr)

    def start(self) -> None:
        """Launch the process and hand it the spec (on its standard input, never on a command line)."""
        if self._process is not None:
            raise RuntimeError("this broadcast was started already")
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self._process.stdin is not None and self._process.stdout and self._process.stderr
        self._send(self.spec.to_json())
        for stream, read in (
            (self._process.stdout, self._read_status),
            (self._process.stderr, self._read_log),
        ):
            reader = threading.Thread(target=read, args=(stream,), name="broadcast-reader", daemon=True)
            reader.start()
            self._readers.append(reader)

    def _send(self, line: str) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.closed:
            return
        try:
            process.stdin.write(line + "\n")
            process.stdin.flush()
        except (OSError, ValueError):
            pass  # it has gone: its status says why

    def screen(self, publisher: int, on: bool) -> None:
        """A participant started or stopped sharing their screen: the share takes the stage."""
        self._send(json.dumps({"screen": {"publisher": publisher, "on": on}}))

    def _read_status(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            with self._changed:
                self.events.append(event)
                kind = event.get("event")
                if kind == "publishing":
                    self.publishing = True
                elif kind == "feeds":
                    self.feeds = (int(event.get("video", 0)), int(event.get("audio", 0)))
                elif kind == "failed":
                    self._failure = str(event.get("reason") or f"{self.what} failed")
                    self.publishing = False
                elif kind == "stopped":
                    self.publishing = False
                self._changed.notify_all()
            if self.on_event is not None:
                self.on_event(event)
        with self._changed:
            self._changed.notify_all()

    def _read_log(self, stream: IO[str]) -> None:
        for line in stream:
            line = line.rstrip()
            if line:
                self._stderr.append(line)
                log.info("broadcast %s: %s", self.pid, line)

    def wait_for(self, check: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``check()`` holds (it is evaluated whenever a status line arrives)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0 or (not self.alive and not any(r.is_alive() for r in self._readers[:1])):
                    return check()
                self._changed.wait(min(left, 0.5))
            return True

    def wait_event(self, check: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any] | None:
        """The first status line (since start) that ``check`` accepts, waiting up to ``timeout``."""
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [event for event in self.events if check(event)][:1]
            return bool(found)

        self.wait_for(seen, timeout)
        return found[0] if found else None

    def wait_publishing(self, timeout: float) -> bool:
        """True once the stream is published; False when it failed or ``timeout`` passed first."""
        self.wait_for(lambda: self.publishing or self._failure is not None, timeout)
        return self.publishing

    def stop(self, timeout: float = 10.0) -> None:
        """A clean stop: SIGTERM, the encoders flushed and the output closed; killed after ``timeout``."""
        process = self._process
        if process is None:
            return
        self._stopping = True
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("broadcast %s did not stop in %.0f s: killed", process.pid, timeout)
                process.kill()
                process.wait()
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        for reader in self._readers:
            reader.join(timeout=5)
