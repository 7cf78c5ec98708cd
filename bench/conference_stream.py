"""Benchmark: glass-to-glass latency of a conference stream (issue #14: target ≤ 6 s), and the
compositor's CPU.

Starts `podium serve` with its own Janus and nginx-rtmp (SQLite in a temporary data directory, or
PODIUM_DATABASE_URL). A LiveMinutes meeting's host joins through its real link as a synthetic
participant (bench/room_load.py's client, aiortc): its camera sends 640x360 at 20 fps in VP8, and
every frame carries the wall-clock millisecond it was made as 28 black or white boxes of 16 pixels
(tests/fixtures/live_clock.py, the lives' scheme), with a tone. It starts the stream from the room as
a moderator does (``{"type": "stream", "on": true}``); the server's keeper runs the compositor (the
one camera fills its 960x540 canvas, boxes of 24 pixels), which encodes H.264 (a key frame every second) and
publishes into the conference's live on the server's nginx-rtmp (HLS fragments of 1 s, cut at key
frames).

Two viewers read the clock back from what they would show, over the same --seconds:

1. **HLS at the live edge** — as a player does: a view session on the live's watch API (its signed
   playlist), the playlist polled every 100 ms; each new segment is fetched when first listed and its
   last frame decoded (ffmpeg): how old that frame is then. The least any player can show.
2. **Chromium on the watch page** — the streaming page's player (hls.js, which the watch page keeps
   two segments behind the edge): the frame on screen drawn to a canvas every half second, its boxes
   read.

A player that fails (the page shows an error) is reloaded, as a viewer would, and counted. Publisher,
server and viewers share this machine's clock. CPU (from /proc, user + system over the
measured span): the compositor process, Janus, the server, the whole machine.

    .venv/bin/python bench/conference_stream.py [--seconds 30] [--series]
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api_latency import api_env, boomstream_api, free_port, podium, serve  # noqa: E402
from room_load import Client, ToneTrack, cpu_seconds, janus_pid, machine_busy_seconds  # noqa: E402
from tests.fixtures import live_clock  # noqa: E402

from podium.domain.recordings.layout import LIVE_KEYFRAME_SECONDS  # noqa: E402
from podium.rooms.janus_async import local_jsep  # noqa: E402

# The camera: 640x360 (what a webcam sends in a room; a larger one only costs this tool CPU that
# the server's processes need), its boxes 16 pixels. The compositor's 960x540 canvas shows the one
# camera scaled 1.5 times, filling it: the boxes are 24 pixels there, where the viewers read them.
CAMERA, CAMERA_BOX, FPS = (640, 360), 16, 20
WIDTH, HEIGHT, BOX = 960, 540, 24


class ClockTrack(MediaStreamTrack):
    """A camera whose every frame shows the wall-clock millisecond it was made (live_clock boxes)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self._start: float | None = None
        layout = av.VideoFrame(*CAMERA, "yuv420p")
        self._luma = np.full((CAMERA[1], layout.planes[0].line_size), 90, dtype=np.uint8)
        self._chroma = bytes([128]) * layout.planes[1].buffer_size

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent / FPS
        if due > now:
            await asyncio.sleep(due - now)
        live_clock.paint(self._luma, int(time.time() * 1000) % live_clock.MODULO, CAMERA_BOX)
        frame = av.VideoFrame(*CAMERA, "yuv420p")
        frame.planes[0].update(self._luma.tobytes())
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = self.sent * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


class Presenter(Client):
    """A room_load participant whose camera is the clock; as the meeting's host, a moderator."""

    async def _publish(self) -> None:
        pc = RTCPeerConnection()
        self.publisher_pc = pc
        self.audio, self.video = ToneTrack(), ClockTrack()  # type: ignore[assignment]
        pc.addTransceiver(self.audio, direction="sendonly")
        pc.addTransceiver(self.video, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await self.janus.message(
            self.publisher_handle,
            {"request": "configure", "audio": True, "video": True},
            local_jsep(pc.localDescription),
        )
        await self._tell({"type": "media", "publisher": self.publisher_id})


def summary(values: list[int]) -> tuple[float, float, float]:
    ordered = sorted(values)
    return (
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        ordered[-1],
    )


def host_link(base: str, tenant: dict[str, Any]) -> str:
    """A LiveMinutes meeting and its host's link (the host is a moderator: it may stream)."""
    auth = (tenant["liveminutes_account_sid"], tenant["liveminutes_auth_token"])
    key = f"stream-{time.time_ns()}"
    answer = httpx.post(
        f"{base}/liveminutes/createMeeting", data={"meetingKey": key, "hostid": "bench"}, auth=auth
    )
    answer.raise_for_status()
    return str(answer.json()["hostUrl"])


def on_air(base: str, apikey: str) -> tuple[str, dict[str, Any]]:
    """The conference's live (the company's only one) once it plays: its code and a view session."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lives = boomstream_api(base, apikey, "live/list").get("Lives") or []
        if lives:
            code = str(lives[0]["Code"])
            answer = httpx.post(f"{base}/watch/{code}/session", json={}, timeout=10)
            if answer.status_code == 200:
                return code, dict(answer.json())
        time.sleep(0.2)
    raise SystemExit("the conference's stream did not go on air")


def compositor_pid(server_pid: int) -> int:
    for _ in range(100):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == server_pid and b"podium.rooms.broadcast" in command:
                return int(entry.name)
        time.sleep(0.1)
    raise SystemExit("the server started no compositor")


def at_the_edge(base: str, playlist: str, seconds: float, ages: list[int]) -> None:
    """How old each new segment's last frame is when the playlist first names it."""
    seen: set[str] = set()
    first = True
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < deadline:
            listed = [line for line in client.get(playlist).text.splitlines() if line.startswith("/live/")]
            newest = listed[-1] if listed else None
            if newest and newest.rsplit("/", 1)[1] not in seen:
                seen.add(newest.rsplit("/", 1)[1])
                at = int(time.time() * 1000)
                stamp = live_clock.decode_last_frame(client.get(newest).content, WIDTH, HEIGHT, BOX)
                if not first:  # the first was listed before polling began
                    ages.append(live_clock.latency_ms(stamp, at % live_clock.MODULO))
                first = False
            time.sleep(0.1)


# The watch page's player: the error it shows (empty while it plays).
PLAYER_ERROR_JS = """(() => {
  const error = document.getElementById('watch-error');
  return error && !error.hidden ? error.textContent : '';
})()"""


def in_chromium(
    base: str, code: str, seconds: float, delays: list[int], ready: threading.Event, failures: list[str]
) -> None:
    """The watch page's player, as the streaming page embeds it: the frame on screen every 0.5 s. A
    player that fails is reloaded, as a viewer would (each failure is counted, with its message)."""
    from playwright.sync_api import sync_playwright
    from tests.fixtures.browser import CHROMIUM_FLAGS

    chromium = os.environ.get("PODIUM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    script = live_clock.read_stamp_js(BOX)

    def playing(page: Any) -> None:
        page.goto(f"{base}/watch/{code}")
        deadline = time.monotonic() + 60
        while page.evaluate("document.getElementById('player').currentTime") < 2:
            if time.monotonic() > deadline:
                raise SystemExit("the watch page did not play the stream")
            time.sleep(0.2)

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        playing(page)
        ready.set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            failed = page.evaluate(PLAYER_ERROR_JS)
            if failed:
                failures.append(f"{time.strftime('%T')} {failed}")
                playing(page)
                continue
            frame = page.evaluate(script)
            if frame is not None:
                delays.append(live_clock.latency_ms(*frame))
            time.sleep(0.5)
        browser.close()


async def run(args: argparse.Namespace, base: str, env: dict[str, str], server_pid: int) -> None:
    tenant = podium(env, "admin", "bootstrap")
    presenter = Presenter(base, host_link(base, tenant), True, *CAMERA, FPS, False)
    await presenter.join()
    deadline = time.monotonic() + 30
    while presenter.webrtcup_at is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await presenter._tell({"type": "stream", "on": True})
    code, session = await asyncio.to_thread(on_air, base, str(tenant["boomstream_apikey"]))
    playlist = str(session["src"]).replace("master.m3u8", "live.m3u8").removeprefix(base)
    compositor, janus = compositor_pid(server_pid), janus_pid(server_pid)

    delays: list[int] = []
    ages: list[int] = []
    ready = threading.Event()
    failures: list[str] = []
    browser = asyncio.create_task(
        asyncio.to_thread(in_chromium, base, code, args.seconds, delays, ready, failures)
    )
    while not ready.is_set() and not browser.done():
        await asyncio.sleep(0.2)
    begin = (time.monotonic(), cpu_seconds(compositor), cpu_seconds(janus), cpu_seconds(server_pid))
    busy = machine_busy_seconds()
    await asyncio.to_thread(at_the_edge, base, playlist, args.seconds, ages)
    end = (time.monotonic(), cpu_seconds(compositor), cpu_seconds(janus), cpu_seconds(server_pid))
    machine = (machine_busy_seconds() - busy) / (end[0] - begin[0])
    await browser
    if args.series:  # a player that stalls shows as a delay growing by 500 ms a sample
        print("edge ms:", ages)
        print("chromium ms:", delays)
        print(httpx.get(base + playlist).text)
    share = [(end[i] - begin[i]) / (end[0] - begin[0]) * 100 for i in (1, 2, 3)]
    await presenter._tell({"type": "stream", "on": False})

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    print(
        f"conference_stream, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({model}): one "
        f"`podium serve` with its Janus and nginx-rtmp on 127.0.0.1, database "
        f"{os.environ.get('PODIUM_DATABASE_URL', 'SQLite')}; one {CAMERA[0]}x{CAMERA[1]} {FPS} fps VP8 "
        f"camera (aiortc) → compositor {WIDTH}x{HEIGHT} H.264, key frame every {LIVE_KEYFRAME_SECONDS} s "
        f"→ RTMP → 1-s HLS fragments; {args.seconds:.0f} s"
    )
    print()
    print("| glass to glass | p50 ms | p95 ms | max ms | samples |")
    print("|---|---:|---:|---:|---:|")
    for label, values in (
        ("HLS, newest segment's last frame when first listed (ffmpeg decode)", ages),
        ("Chromium, the watch page's player (hls.js, 2 segments behind the edge)", delays),
    ):
        if values:
            p50, p95, top = summary(values)
            print(f"| {label} | {p50:,.0f} | {p95:,.0f} | {top:,.0f} | {len(values)} |")
        else:
            print(f"| {label} | no samples | | | 0 |")
    print()
    print(
        f"CPU over the span, % of one core: compositor {share[0]:.0f}, Janus {share[1]:.0f}, "
        f"server {share[2]:.0f}; the machine {machine:.2f} of {os.cpu_count()} cores busy "
        "(the camera, Chromium and this tool share it)."
    )
    if failures:
        print(
            f"The player failed {len(failures)} time(s) and was reloaded (samples resume once it "
            "plays again): " + "; ".join(failures)
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--series", action="store_true", help="also print every sample and the playlist")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = api_env(
            data_dir,
            PODIUM_JANUS="local",
            PODIUM_RTMP="local",
            PODIUM_RTMP_LISTEN=f"127.0.0.1:{free_port()}",
            PODIUM_GUARD_ENABLED="false",
        )
        server, base = serve(env, public_url=True)
        try:
            asyncio.run(run(args, base, env, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
