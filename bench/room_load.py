"""Benchmark: rooms without browsers — synthetic WebRTC clients (aiortc) against the server's Janus.

Starts `podium serve` (SQLite in a temporary data directory, its local Janus) on 127.0.0.1, provisions
a tenant with `podium admin bootstrap`, and joins rooms with synthetic clients that do what the room
page (web/static/room.js) does: fetch a real join link (a LiveMinutes participant URL), read the
lobby's ticket, `POST /rooms/enter`, open the signaling WebSocket (`hello` with the socket key, pings,
`media` once publishing), and talk to Janus over its HTTP API with the visitor's own token (a session,
long polls, a VideoRoom publisher handle that joins and publishes, one subscriber handle per other
publisher, a `listparticipants` resync every 3 s). Publishers send a generated 400 Hz tone (Opus) and
a moving bar (VP8, as Janus negotiates); subscribers count the frames aiortc reassembles from the RTP
it receives (complete encoded frames out of its jitter buffer; not decoded unless --decode, because
decoding n·(n−1) streams in one Python process would make the tool the bottleneck).

- capacity: participants join one room one by one (each subscribes to every other publisher, so
  forwarded subscriptions = n·(n−1), each an audio and a video stream; with --publishers P the
  participants after the first P subscribe only); after each join, every subscription's received
  video frames are compared with what its publisher sent over --seconds, beside the CPU of the Janus
  process, of the server, of this tool and of the whole machine (/proc). It stops when fewer than 95%
  of the frames arrive, and reports the most forwarded subscriptions at which ≥95% arrived divided by
  the cores Janus used then (and a least-squares fit of Janus CPU against subscriptions). The bare
  lines are Janus idle and one publisher alone. A step where this tool (one Python process, so about
  one core at most) or the machine was saturated is named as such: on a small machine the tool's
  encoding and packet handling run out before Janus does.
- join time: one publisher waits in a room; first one subscribe-only client joins alone (bare,
  --bare-rounds times), then --concurrent-joins subscribe-only clients at once; each time is from
  fetching the link to the first reassembled video frame of the publisher's feed (p50 / p95 / max,
  and the median time at which each step of the join was done).

Not the page exactly: aiortc cannot trickle ICE, so offers and answers carry every candidate
(`"trickle": false`); subscribe-only clients join as publishers that never publish (as the page does
in presentation mode).

    .venv/bin/python bench/room_load.py [--max-participants 12] [--concurrent-joins 50] [--seconds 5]
        [--publishers N] [--bare-rounds 3] [--width 320 --height 240 --fps 15] [--decode]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import os
import re
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import av
import httpx
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from websockets.asyncio.client import connect as ws_connect

from podium.rooms.janus_async import JanusSession, Subscription, local_jsep, plugin_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_latency import podium, serve  # noqa: E402

AUDIO_RATE = 48000
AUDIO_PTIME = 0.02
TICKS = os.sysconf("SC_CLK_TCK")
DELIVERED = 0.95


# --- generated media ------------------------------------------------------------------------------


class PatternTrack(MediaStreamTrack):
    """A bar sliding across a grey field, at a steady frame rate (what a camera would send)."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: int) -> None:
        super().__init__()
        self.fps = fps
        self.sent = 0
        self._start: float | None = None
        probe = av.VideoFrame(width, height, "yuv420p")
        luma, chroma = probe.planes[0], probe.planes[1]
        bar = max(width // 8, 8)
        positions = fps * 2  # one sweep every two seconds
        self._frames: list[tuple[bytes, bytes]] = []
        for step in range(positions):
            left = (width - bar) * step // max(positions - 1, 1)
            row = bytes([60] * left + [230] * bar + [60] * (width - left - bar))
            row += bytes(luma.line_size - width)
            self._frames.append((row * height, bytes([128]) * chroma.buffer_size))
        self._width, self._height = width, height

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent / self.fps
        if due > now:
            await asyncio.sleep(due - now)
        luma, chroma = self._frames[self.sent % len(self._frames)]
        frame = av.VideoFrame(self._width, self._height, "yuv420p")
        frame.planes[0].update(luma)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = self.sent * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A 400 Hz sine tone, mono 48 kHz, in 20 ms frames (eight whole periods each)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._pcm = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 400 * i / AUDIO_RATE)))
            for i in range(samples)
        )
        self._samples = samples
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent * AUDIO_PTIME
        if due > now:
            await asyncio.sleep(due - now)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.sent * self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.sent += 1
        return frame


class CountingBuffer:
    """Stands in for an aiortc receiver's jitter buffer: counts each complete encoded frame it
    reassembles and, unless decoding, keeps it from the decoder (aiortc 1.16 internals)."""

    def __init__(self, inner: Any, on_frame: Callable[[], None], decode: bool) -> None:
        self.inner = inner
        self.on_frame = on_frame
        self.decode = decode

    def add(self, packet: Any) -> tuple[bool, Any]:
        pli, frame = self.inner.add(packet)
        if frame is not None:
            self.on_frame()
            if not self.decode:
                return pli, None
        return pli, frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# --- one synthetic participant ------------------------------------------------------------------


@dataclass
class Feed:
    """One subscription: another participant's publisher, received on a handle of our own."""

    publisher: int
    subscription: Subscription | None = None
    video_frames: int = 0
    audio_frames: int = 0
    first_frame_at: float | None = None


@dataclass
class Client:
    """One synthetic visitor: its lobby, its seat, its signaling socket and its Janus session."""

    base: str
    link: str
    publish: bool
    width: int
    height: int
    fps: int
    decode: bool
    started: float = 0.0
    first_remote_frame_at: float | None = None
    webrtcup_at: float | None = None
    publisher_id: int | None = None
    video: PatternTrack | None = None
    audio: ToneTrack | None = None
    feeds: dict[int, Feed] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    publisher_pc: RTCPeerConnection | None = None
    leaving: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def _spawn(self, work: Awaitable[None]) -> None:
        """A background task, held until it ends (the event loop keeps only weak references)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def join(self) -> None:
        """From fetching the link to a publisher seat in Janus (media then flows on its own)."""
        self.started = time.monotonic()
        self.http = httpx.AsyncClient(
            follow_redirects=True,
            timeout=60,  # a browser waits as long for a page or /rooms/enter
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
        )
        lobby = await self.http.get(self.link)
        lobby.raise_for_status()
        self.marks["lobby"] = time.monotonic()
        found = re.search(r'data-ticket="([^"]*)"', lobby.text)
        if found is None or 'data-media="yes"' not in lobby.text:
            raise RuntimeError(f"{self.link}: the lobby offers no media room")
        entered = await self.http.post(f"{self.base}/rooms/enter", json={"ticket": unescape(found[1])})
        if entered.status_code != 200:
            raise RuntimeError(f"/rooms/enter answered {entered.status_code}: {entered.text[:200]}")
        self.entry: dict[str, Any] = entered.json()
        if self.entry.get("waiting"):
            raise RuntimeError("the room has a waiting room: a moderator must admit (not simulated)")
        self.marks["entered"] = time.monotonic()
        self.room = int(self.entry["room"])
        # As the page: the socket and the media start together.
        self.socket_task = asyncio.create_task(self._signaling())
        self.janus = JanusSession(self.http, self.entry["janus_url"], self.entry["token"], self.errors)
        await self.janus.create()
        self.marks["session"] = time.monotonic()
        self.joined = asyncio.Event()
        self.publisher_handle = await self.janus.attach(self._on_publisher_event)
        await self.janus.message(
            self.publisher_handle,
            {"request": "join", "ptype": "publisher", "room": self.room, "display": self.entry["display"]},
        )
        await asyncio.wait_for(self.joined.wait(), 30)
        self.marks["joined"] = time.monotonic()

    # signaling ------------------------------------------------------------------------------------
    async def _signaling(self) -> None:
        url = self.base.replace("http", "ws", 1) + "/rooms/ws"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        headers = {"Cookie": cookies} if cookies else None
        try:
            async with ws_connect(url, origin=self.base, additional_headers=headers) as ws:  # type: ignore[arg-type]
                self.ws = ws
                await ws.send(json.dumps({"type": "hello", "version": 1, "key": self.entry["socket_key"]}))
                pinger = asyncio.create_task(self._ping(ws))
                try:
                    async for raw in ws:
                        message = json.loads(raw)
                        if message.get("type") in ("ended", "removed"):
                            self.errors.append(f"signaling: {message['type']}")
                finally:
                    pinger.cancel()
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the run goes on
            if not self.leaving:
                self.errors.append(f"signaling: {exc!r}")

    async def _ping(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(10)
            await ws.send(json.dumps({"type": "ping"}))

    async def _tell(self, message: dict[str, Any]) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.send(json.dumps(message))

    # publisher handle -----------------------------------------------------------------------------
    async def _on_publisher_event(self, event: dict[str, Any]) -> None:
        if event.get("janus") == "webrtcup":
            self.webrtcup_at = self.webrtcup_at or time.monotonic()
            return
        data = plugin_data(event)
        kind = data.get("videoroom")
        if kind == "joined":
            self.publisher_id = int(data["id"])
            self.resync_task = asyncio.create_task(self._resync())
            if self.publish and self.entry.get("may_publish"):
                await self._publish()
            self.joined.set()
            for publisher in data.get("publishers", []):
                self._spawn(self._subscribe(int(publisher["id"])))
        elif kind == "event":
            for publisher in data.get("publishers", []):
                self._spawn(self._subscribe(int(publisher["id"])))
            gone = data.get("leaving") or data.get("unpublished")
            if gone and gone != "ok":
                await self._drop(int(gone))
        jsep = event.get("jsep")
        if jsep and self.publisher_pc is not None:
            await self.publisher_pc.setRemoteDescription(RTCSessionDescription(jsep["sdp"], jsep["type"]))

    async def _publish(self) -> None:
        pc = RTCPeerConnection()
        self.publisher_pc = pc
        self.audio, self.video = ToneTrack(), PatternTrack(self.width, self.height, self.fps)
        pc.addTransceiver(self.audio, direction="sendonly")
        pc.addTransceiver(self.video, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await self.janus.message(
            self.publisher_handle,
            {"request": "configure", "audio": True, "video": True},
            local_jsep(pc.localDescription),
        )
        await self._tell({"type": "media", "publisher": self.publisher_id})

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(3)
            with contextlib.suppress(Exception):
                answer = await self.janus.message(
                    self.publisher_handle, {"request": "listparticipants", "room": self.room}
                )
                for person in plugin_data(answer).get("participants", []):
                    if person.get("publisher") and person.get("id") != self.publisher_id:
                        self._spawn(self._subscribe(int(person["id"])))

    # subscriber handles ---------------------------------------------------------------------------
    async def _subscribe(self, publisher: int) -> None:
        if publisher in self.feeds or publisher == self.publisher_id:
            return
        feed = Feed(publisher)
        self.feeds[publisher] = feed

        async def failed(reason: str) -> None:  # not published yet: the next resync tries again
            await self._drop(publisher)

        feed.subscription = Subscription(
            self.janus, self.room, publisher, prepare=lambda pc: self._count(feed, pc), on_failed=failed
        )
        try:
            await feed.subscription.start()
        except Exception:  # noqa: BLE001 - the next resync tries again
            self.feeds.pop(publisher, None)

    def _count(self, feed: Feed, pc: RTCPeerConnection) -> None:
        """Count the frames each receiver reassembles (and drain them when decoding)."""
        for transceiver in pc.getTransceivers():
            receiver = transceiver.receiver
            kind = transceiver.kind
            inner = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
            if inner is None:
                raise RuntimeError("aiortc's receiver changed: no jitter buffer to count frames at")
            receiver._RTCRtpReceiver__jitter_buffer = CountingBuffer(  # type: ignore[attr-defined]
                inner, self._counter(feed, kind), self.decode
            )
            if self.decode:
                self._spawn(_drain(receiver.track))

    def _counter(self, feed: Feed, kind: str) -> Callable[[], None]:
        def count() -> None:
            if kind == "video":
                feed.video_frames += 1
                if feed.first_frame_at is None:
                    feed.first_frame_at = time.monotonic()
                    self.first_remote_frame_at = self.first_remote_frame_at or feed.first_frame_at
            else:
                feed.audio_frames += 1

        return count

    async def _drop(self, publisher: int) -> None:
        feed = self.feeds.pop(publisher, None)
        if feed is not None and feed.subscription is not None:
            await feed.subscription.close()

    async def leave(self) -> None:
        self.leaving = True
        await self._tell({"type": "leave"})
        for task in (getattr(self, "resync_task", None), getattr(self, "socket_task", None), *self.tasks):
            if task is not None:
                task.cancel()
        if hasattr(self, "janus"):
            await self.janus.destroy()
        for feed in list(self.feeds.values()):
            if feed.subscription is not None and feed.subscription.pc is not None:
                await feed.subscription.pc.close()
        if self.publisher_pc is not None:
            await self.publisher_pc.close()
        if hasattr(self, "http"):
            await self.http.aclose()


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


# --- the server, links and CPU --------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def janus_pid(server_pid: int) -> int:
    for _ in range(100):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                name, rest = stat.split("(", 1)[1].rsplit(")", 1)
                if name == "janus" and int(rest.split()[1]) == server_pid:
                    return int(entry.name)
        time.sleep(0.1)
    raise SystemExit("the server started no Janus (is Debian's janus installed?)")


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (all cores, not idle), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


class Meter:
    """CPU (in cores) of Janus, the server, this tool, and the whole machine between start() and stop()."""

    def __init__(self, janus: int, server: int) -> None:
        self.janus, self.server = janus, server

    def _now(self) -> tuple[float, float, float, float, float]:
        times = os.times()
        return (
            time.monotonic(),
            cpu_seconds(self.janus),
            cpu_seconds(self.server),
            times.user + times.system,
            machine_busy_seconds(),
        )

    def start(self) -> None:
        self.begin = self._now()

    def stop(self) -> dict[str, float]:
        end = self._now()
        wall = end[0] - self.begin[0]
        return {
            "janus": (end[1] - self.begin[1]) / wall,
            "server": (end[2] - self.begin[2]) / wall,
            "tool": (end[3] - self.begin[3]) / wall,
            "machine": (end[4] - self.begin[4]) / wall,
        }


class Meetings:
    def __init__(self, base: str, tenant: dict[str, Any]) -> None:
        self.base = base
        self.auth = (tenant["liveminutes_account_sid"], tenant["liveminutes_auth_token"])
        self.serial = 0

    def links(self, people: int) -> list[str]:
        """A LiveMinutes meeting and a participant URL per person."""
        self.serial += 1
        key = f"load-{self.serial}-{time.time_ns()}"
        with httpx.Client(auth=self.auth, timeout=30) as http:
            http.post(f"{self.base}/liveminutes/createMeeting", data={"meetingKey": key, "hostid": "load"})
            return [
                http.post(
                    f"{self.base}/liveminutes/addParticipant",
                    data={"meetingKey": key, "puid": f"p{i}", "nickname": f"Load {i}"},
                ).json()["participantUrl"]
                for i in range(people)
            ]


# --- the two measurements -------------------------------------------------------------------------


@dataclass
class Step:
    participants: int
    publishers: int
    subscriptions: int
    sent_fps: float
    received_fps: float
    delivered: float
    worst: float
    audio_delivered: float
    cpu: dict[str, float]


async def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.2)
    return check()


async def measure(clients: list[Client], meter: Meter, seconds: float) -> Step:
    by_id = {c.publisher_id: c for c in clients if c.video is not None}

    def snapshot() -> tuple[dict[int, int], dict[int, int], dict[tuple[int, int], tuple[int, int]]]:
        sent = {pid: c.video.sent for pid, c in by_id.items() if pid is not None and c.video}
        sent_audio = {pid: c.audio.sent for pid, c in by_id.items() if pid is not None and c.audio}
        got = {
            (index, feed.publisher): (feed.video_frames, feed.audio_frames)
            for index, c in enumerate(clients)
            for feed in c.feeds.values()
        }
        return sent, sent_audio, got

    meter.start()
    began = time.monotonic()
    before = snapshot()
    await asyncio.sleep(seconds)
    after = snapshot()
    wall = time.monotonic() - began
    cpu = meter.stop()
    ratios, received, expected, audio_received, audio_expected = [], 0, 0, 0, 0
    for key, (video_after, audio_after) in after[2].items():
        publisher = key[1]
        if publisher not in before[0] or key not in before[2]:
            continue
        sent = after[0][publisher] - before[0][publisher]
        got = video_after - before[2][key][0]
        ratios.append(got / sent if sent else 0.0)
        received, expected = received + got, expected + sent
        audio_received += audio_after - before[2][key][1]
        audio_expected += after[1][publisher] - before[1][publisher]
    # A subscription the room should have but does not (yet): it receives nothing.
    publishers = set(by_id)
    missing = sum(len(publishers - {c.publisher_id} - set(c.feeds)) for c in clients)
    ratios += [0.0] * missing
    per_publisher = [after[0][p] - before[0][p] for p in before[0] if p in after[0]]
    return Step(
        participants=len(clients),
        publishers=len(publishers),
        subscriptions=len(ratios),
        sent_fps=statistics.fmean(per_publisher) / wall if per_publisher else 0.0,
        received_fps=received / wall / max(len(ratios), 1),
        delivered=received / expected if expected else 0.0,
        worst=min(ratios, default=0.0),
        audio_delivered=audio_received / audio_expected if audio_expected else 0.0,
        cpu=cpu,
    )


def make_client(args: argparse.Namespace, base: str, link: str, publish: bool) -> Client:
    return Client(base, link, publish, args.width, args.height, args.fps, args.decode)


def everyone_receives(clients: list[Client]) -> bool:
    """Every client receives video from every publisher but itself."""
    publishers = {c.publisher_id for c in clients if c.publish}
    return all(
        all(p in c.feeds and c.feeds[p].video_frames > 0 for p in publishers if p != c.publisher_id)
        for c in clients
    )


async def capacity(
    args: argparse.Namespace, base: str, meetings: Meetings, meter: Meter
) -> tuple[list[Step], str]:
    links = meetings.links(args.max_participants)
    clients: list[Client] = []
    steps: list[Step] = []
    reason = "reached --max-participants"
    try:
        for index, link in enumerate(links):
            client = make_client(args, base, link, publish=index < args.publishers)
            clients.append(client)
            try:
                await client.join()
            except Exception as exc:  # noqa: BLE001 - the ramp ends, with the reason
                reason = f"participant {len(clients)} could not join: {exc!r}"[:300]
                break
            if not await wait_for(lambda: everyone_receives(clients), 30):
                reason = f"with {len(clients)}, not every subscription received video within 30 s"
            await asyncio.sleep(2)  # let rates settle
            step = await measure(clients, meter, args.seconds)
            steps.append(step)
            print(row(step), flush=True)
            if step.subscriptions and step.delivered < DELIVERED:
                reason = f"with {len(clients)}, {step.delivered:.0%} of frames arrived"
                break
    finally:
        await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)
    return steps, reason


async def timed_join(client: Client, timeout: float) -> float | None:
    try:
        await client.join()
        await wait_for(lambda: client.first_remote_frame_at is not None, timeout)
    except Exception as exc:  # noqa: BLE001 - counted as a failed join
        client.errors.append(repr(exc))
        return None
    if client.first_remote_frame_at is None:
        client.errors.append("no remote frame")
        return None
    client.marks["frame"] = client.first_remote_frame_at
    return (client.first_remote_frame_at - client.started) * 1000


@dataclass
class Joins:
    label: str
    clients: list[Client]
    times: list[float]
    cpu: dict[str, float] | None = None

    @property
    def failed(self) -> int:
        return len(self.clients) - len(self.times)


async def join_times(args: argparse.Namespace, base: str, meetings: Meetings, meter: Meter) -> list[Joins]:
    links = meetings.links(1 + args.bare_rounds + args.concurrent_joins)
    speaker = make_client(args, base, links[0], publish=True)
    everyone = [speaker]
    try:
        await speaker.join()
        await wait_for(lambda: speaker.webrtcup_at is not None, 30)
        bare = Joins(f"bare: 1 alone, {args.bare_rounds} rounds", [], [])
        meter.start()
        for link in links[1 : 1 + args.bare_rounds]:
            lone = make_client(args, base, link, publish=False)
            bare.clients.append(lone)
            took = await timed_join(lone, 30)
            if took is not None:
                bare.times.append(took)
            await lone.leave()
        bare.cpu = meter.stop()
        crowd = Joins(
            f"{args.concurrent_joins} at once",
            [make_client(args, base, link, publish=False) for link in links[1 + args.bare_rounds :]],
            [],
        )
        everyone += crowd.clients
        meter.start()
        results = await asyncio.gather(*(timed_join(c, 60) for c in crowd.clients))
        crowd.cpu = meter.stop()
        crowd.times = [t for t in results if t is not None]
        return [bare, crowd]
    finally:
        await asyncio.gather(*(c.leave() for c in everyone), return_exceptions=True)


# --- output ---------------------------------------------------------------------------------------

CORES = "Janus cores | server cores | tool cores | machine busy cores"
HEADER = (
    "| participants | publishers | forwarded subscriptions (streams) | sent fps | received fps "
    f"| frames delivered | worst subscription | audio delivered | {CORES} |\n" + "|---" * 12 + "|"
)


def cores(cpu: dict[str, float] | None) -> str:
    if cpu is None:
        return "– | – | – | –"
    return f"{cpu['janus']:.2f} | {cpu['server']:.2f} | {cpu['tool']:.2f} | {cpu['machine']:.2f}"


def row(step: Step) -> str:
    if not step.subscriptions:
        return (
            f"| bare: {step.participants} alone | {step.publishers} | 0 | {step.sent_fps:.1f} "
            f"| – | – | – | – | {cores(step.cpu)} |"
        )
    return (
        f"| {step.participants} | {step.publishers} | {step.subscriptions} ({2 * step.subscriptions}) "
        f"| {step.sent_fps:.1f} | {step.received_fps:.1f} | {step.delivered:.1%} | {step.worst:.0%} "
        f"| {step.audio_delivered:.1%} | {cores(step.cpu)} |"
    )


def saturation(cpu: dict[str, float]) -> str:
    """Why frames may have dropped other than Janus: the machine or this tool at their limit."""
    total = os.cpu_count() or 1
    notes = []
    if cpu["machine"] >= 0.9 * total:
        notes.append(f"the machine was saturated ({cpu['machine']:.2f} of {total} cores busy)")
    if cpu["tool"] >= 0.85:
        notes.append(f"this tool (one Python process) was near one core ({cpu['tool']:.2f})")
    return "; ".join(notes)


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run(args: argparse.Namespace, base: str, meetings: Meetings, meter: Meter) -> None:
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores (Janus, the server and this tool "
        f"share them); video {args.width}x{args.height} at {args.fps} fps (VP8 as negotiated), audio 400 Hz "
        f"tone (Opus); frames counted as aiortc reassembles them "
        f"({'and decoded' if args.decode else 'not decoded'})"
    )
    meter.start()
    await asyncio.sleep(3)
    idle = meter.stop()
    print(
        f"\ncapacity: one room, participants join one by one, each subscribes to every other publisher "
        f"({args.publishers} publish, the rest subscribe only); {args.seconds:g} s per step"
    )
    print(HEADER)
    print(f"| bare: Janus idle | 0 | 0 | – | – | – | – | – | {cores(idle)} |")
    steps, reason = await capacity(args, base, meetings, meter)
    passing = [s for s in steps if s.subscriptions and s.delivered >= DELIVERED]
    if steps and steps[-1].delivered < DELIVERED and saturation(steps[-1].cpu):
        reason += f", when {saturation(steps[-1].cpu)}: a limit of this machine, not of Janus alone"
    if passing:
        best = max(passing, key=lambda s: s.subscriptions)
        per_core = best.subscriptions / best.cpu["janus"] if best.cpu["janus"] > 0 else float("inf")
        print(
            f"most forwarded subscriptions with ≥{DELIVERED:.0%} of frames delivered: {best.subscriptions} "
            f"({2 * best.subscriptions} streams), Janus using {best.cpu['janus']:.2f} cores: "
            f"{per_core:,.0f} forwarded subscriptions per Janus core ({reason})"
        )
    else:
        print(f"no step delivered ≥{DELIVERED:.0%} of frames ({reason})")
    fitted = [s for s in steps if not s.subscriptions or s.delivered >= DELIVERED]
    if len(fitted) >= 3:
        slope = statistics.linear_regression(
            [float(s.subscriptions) for s in fitted], [s.cpu["janus"] for s in fitted]
        ).slope
        if slope > 0:
            print(
                f"Janus CPU against forwarded subscriptions over those steps (least squares): "
                f"{slope * 1000:.1f} millicores per subscription, {1 / slope:,.0f} subscriptions per core"
            )

    print(
        "\njoin time: from fetching the link to the first reassembled video frame of the room's one "
        "publisher (the joiners subscribe only; the phases are medians of the time since fetching the link)"
    )
    print(
        "| joins | p50 ms | p95 ms | max ms | failed | lobby page | /rooms/enter | Janus session "
        f"| publisher joined | first frame | {CORES} |"
    )
    print("|---" * 14 + "|")
    results = await join_times(args, base, meetings, meter)
    for joins in results:
        phases = []
        for mark in ("lobby", "entered", "session", "joined", "frame"):
            spans = [(c.marks[mark] - c.started) * 1000 for c in joins.clients if mark in c.marks]
            phases.append(f"{statistics.median(spans):.0f}" if spans else "–")
        totals = (
            f"{percentile(joins.times, 50):.0f} | {percentile(joins.times, 95):.0f} | {max(joins.times):.0f}"
            if joins.times
            else "– | – | –"
        )
        print(f"| {joins.label} | {totals} | {joins.failed} | {' | '.join(phases)} | {cores(joins.cpu)} |")
        reasons = sorted({error[:100] for c in joins.clients for error in c.errors})
        if reasons:
            print(f"  ({joins.label}: {'; '.join(reasons)})")
    bare, crowd = results
    if bare.times and crowd.times:
        print(
            f"p50 with {args.concurrent_joins} at once vs alone: "
            f"{percentile(crowd.times, 50) / percentile(bare.times, 50):.1f}×"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-participants", type=int, default=12)
    parser.add_argument(
        "--publishers", type=int, default=None, help="how many of them publish (default: all)"
    )
    parser.add_argument("--concurrent-joins", type=int, default=50)
    parser.add_argument("--bare-rounds", type=int, default=3, help="lone joins before the crowd")
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement per capacity step")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--decode", action="store_true", help="also decode every received frame")
    args = parser.parse_args()
    if args.publishers is None:
        args.publishers = args.max_participants
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "PODIUM_DATA_DIR": data_dir,
            "PODIUM_RUN_OUTBOX_WORKER": "false",
            "PODIUM_RUN_MEDIA_WORKER": "false",
            "PODIUM_QUOTA_USERS": "100000000",
            "PODIUM_ROOM_PUBLISHERS": str(max(12, args.publishers + 1)),
        }
        server, base = serve(env, public_url=True)
        try:
            meter = Meter(janus_pid(server.pid), server.pid)
            meetings = Meetings(base, podium(env, "admin", "bootstrap"))
            asyncio.run(run(args, base, meetings, meter))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
