"""Benchmark: room join time and room capacity, with real Chromiums (fake cameras) and Janus.

Starts `podium serve` (SQLite in a temporary data directory, a local Janus) on 127.0.0.1 and
- join time: for each round, one participant waits in a room, a second opens its link; the time from
  opening the link to the first decoded remote video frame (p50 / p95);
- capacity: participants join one room one by one; after each join, the first participant's received
  frame rates are measured; it stops when any remote feed falls below --min-fps (frames drop) or at
  --max-participants, and prints how many the room held.

    .venv/bin/python bench/room_join.py [--rounds 10] [--max-participants 8] [--min-fps 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_latency import podium, serve  # noqa: E402

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
FIRST_FRAME = """() => new Promise((resolve) => {
  const check = () => {
    const video = document.querySelector('.tile.remote video');
    if (video && video.videoWidth > 0) { resolve(performance.now()); return; }
    requestAnimationFrame(check);
  };
  check();
})"""
FPS = """async () => {
  const rates = [];
  for (const feed of Object.values(window.podium.state.feeds)) {
    const pc = feed.handle && feed.handle.webrtcStuff && feed.handle.webrtcStuff.pc;
    if (!pc) continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') rates.push(s.framesPerSecond || 0);
    });
  }
  return rates;
}"""


class Meetings:
    def __init__(self, base: str, tenant: dict[str, Any]) -> None:
        self.base = base
        self.auth = (tenant["liveminutes_account_sid"], tenant["liveminutes_auth_token"])
        self.serial = 0

    def call(self, method: str, **data: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.post(
            f"{self.base}/liveminutes/{method}", data=data, auth=self.auth
        ).json()
        return body

    def meeting(self, people: int) -> list[str]:
        self.serial += 1
        key = f"bench-{self.serial}-{time.time_ns()}"
        self.call("createMeeting", meetingKey=key, hostid="bench")
        return [
            self.call("addParticipant", meetingKey=key, puid=f"p{i}", nickname=f"Person {i}")[
                "participantUrl"
            ]
            for i in range(people)
        ]


def join(page: Any, url: str) -> float:
    """Open a link and join; returns the time (ms, page clock) the link was opened."""
    page.goto(url)
    opened = float(page.evaluate("performance.timeOrigin"))
    page.click("#join")
    return opened


def join_times(browser: Any, meetings: Meetings, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        first_url, second_url = meetings.meeting(2)
        first, second = browser.new_page(), browser.new_page()
        try:
            join(first, first_url)
            first.locator("#people li").first.wait_for(timeout=30000)
            started = time.perf_counter()
            second.goto(second_url)
            second.click("#join")
            second.evaluate(FIRST_FRAME)
            times.append((time.perf_counter() - started) * 1000)
        finally:
            first.close()
            second.close()
    return times


def capacity(
    browser: Any, meetings: Meetings, most: int, min_fps: float
) -> tuple[int, list[list[float]], str]:
    urls = meetings.meeting(most)
    pages: list[Any] = []
    history: list[list[float]] = []
    held = 0
    reason = "reached the --max-participants bound"
    try:
        for count, url in enumerate(urls, start=1):
            page = browser.new_page()
            pages.append(page)
            join(page, url)
            if count == 1:
                continue
            deadline = time.monotonic() + 30
            while (
                time.monotonic() < deadline and pages[0].evaluate("window.podium.remoteCount()") < count - 1
            ):
                time.sleep(0.25)
            time.sleep(4)  # let rates settle
            rates = pages[0].evaluate(FPS)
            history.append(rates)
            if len(rates) < count - 1:
                reason = f"with {count}, the first participant did not receive every feed within 30 s"
                break
            if min(rates, default=0) < min_fps:
                reason = f"with {count}, a feed fell below {min_fps:.0f} fps"
                break
            held = count
    finally:
        for page in pages:
            page.close()
    return held, history, reason


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--max-participants", type=int, default=8)
    parser.add_argument("--min-fps", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as profile:
        env = {**os.environ, "PODIUM_DATA_DIR": data_dir}
        server, base = serve(env, public_url=True)
        try:
            meetings = Meetings(base, podium(env, "admin", "bootstrap"))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch_persistent_context(
                    profile, executable_path="/usr/bin/chromium", headless=True, args=FLAGS
                )
                times = join_times(browser, meetings, args.rounds)
                print(
                    f"join time (link opened -> first remote video frame), {len(times)} rounds: "
                    f"p50 {percentile(times, 50):.0f} ms, p95 {percentile(times, 95):.0f} ms"
                )
                held, history, reason = capacity(browser, meetings, args.max_participants, args.min_fps)
                for index, rates in enumerate(history, start=2):
                    shown = ", ".join(f"{r:.0f}" for r in rates)
                    print(f"  {index} participants: first participant receives fps [{shown}]")
                print(
                    f"room capacity on this machine ({os.cpu_count()} cores, all browsers and Janus on it): "
                    f"{held} participants ({reason})"
                )
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
