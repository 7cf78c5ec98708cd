"""Benchmark: a Boomstream live — glass-to-glass latency, and its HLS served to 2,000 simulated viewers.

Starts `podium serve` with its own RTMP server (nginx-rtmp; SQLite in a temporary data directory, or
PODIUM_DATABASE_URL), creates a live and publishes to it with ffmpeg: a 320x180 test pattern at
25 fps with a key frame every second, and a tone. Every frame carries the wall-clock millisecond it
was made as 28 black or white boxes (tests/fixtures/live_clock.py: ``setpts=RTCTIME`` then
``drawbox`` per bit), so latency is read back from pixels, without OCR:

1. **Glass to glass** — headless Chromium plays the live on its watch page (hls.js, the player
   viewers get); the page's frame on screen is drawn to a canvas, its boxes read and subtracted from
   the page's clock, every half second (``--samples``). Publisher and player share this machine's
   clock. This includes encoding, RTMP, packaging into 1-s segments, the playlist reload, and the
   player's buffer (hls.js starts three segments behind the live edge).
2. **Segment availability** — an HTTP viewer polls the playlist every 100 ms; when a segment
   appears, it is fetched and its last frame decoded: how old that frame is when it can first be
   downloaded (the server's share of the latency).
3. **Throughput** — ``--viewers`` view sessions are opened on the live's watch API (2,000 by
   default); wrk (``-t2 -c<viewers>``, one connection per viewer) then does what a player does, as
   fast as the server answers: the live's playlist and the newest segment it names, in turn (both at
   the signed addresses every viewer of the half-minute window shares, cacheable by a CDN; the
   watch page gets its window's token with each heartbeat), and each session's heartbeat every 10 s
   as its page sends it (the session check: paywall, password, window). A player needs
   one playlist and one segment a second, so 2,000 viewers need 4,000 requests/s (and 200 beats/s).
   The same load then goes through an nginx in front, configured as README's "A CDN or nginx in
   front" (segments cached by URL, playlists and beats passed through). The bare ``/livez`` of the
   same server runs before and after at the same concurrency.

    .venv/bin/python bench/live_hls.py [--viewers 2000] [--seconds 30] [--samples 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api_latency import (  # noqa: E402
    LUA_DONE,
    Case,
    Result,
    api_env,
    boomstream_api,
    free_port,
    peak_memory_mib,
    podium,
    run_wrk,
    serve,
    wrk,
)
from tests.fixtures import live_clock  # noqa: E402

VIEWER_LUA = """
local sessions = {SESSIONS}
local code = "{CODE}"
local window = "{WINDOW}"
local made = 0
setup = function(thread)
  thread:set("part", made)  -- thread k plays the sessions k+1, k+3, ... (two threads)
  made = made + 1
end
local i = nil
local beaten = {}
local segment = nil
local turn = 0
request = function()
  if i == nil then
    i = part + 1
    -- as pages that opened at different moments: each beats every 10 s, at its own second
    for k = 1, #sessions do beaten[k] = os.time() - (k % 10) end
  end
  turn = turn + 1
  if segment ~= nil and turn % 2 == 0 then
    return wrk.format("GET", segment)
  end
  i = i + 2
  if i > #sessions then i = part + 1 end
  local s = sessions[i]
  if os.time() - beaten[i] >= 10 then
    beaten[i] = os.time()
    return wrk.format("POST", "/watch/heartbeat", {["Content-Type"] = "application/json"},
      string.format('{"session": %d, "key": "%s", "watched": 1000, "live": true}', s[2], s[3]))
  end
  return wrk.format("GET", "/live/" .. window .. "/" .. code .. "/index.m3u8")
end
response = function(status, headers, body)
  if status ~= 200 then return end
  if string.sub(body, 1, 7) == "#EXTM3U" then
    local last = nil
    for line in string.gmatch(body, "[^\\n]+") do
      if string.sub(line, 1, 6) == "/live/" then last = line end
    end
    if last ~= nil then segment = last end
  else
    -- a heartbeat's answer: the shared address's token for the next half minute
    local fresh = string.match(body, '"live_token":%s*"([^"]+)"')
    if fresh ~= nil then window = fresh end
  end
end
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def wait_on_air(base: str, code: str) -> dict[str, Any]:
    for _ in range(300):
        answer = httpx.post(f"{base}/watch/{code}/session", json={}, timeout=10)
        if answer.status_code == 200:
            return dict(answer.json())
        time.sleep(0.1)
    raise SystemExit(f"the live did not go on air: {answer.text}")


def player_latency(base: str, code: str, samples: int) -> list[int]:
    """Glass to glass in Chromium on the watch page (see the module's docstring)."""
    from playwright.sync_api import sync_playwright
    from tests.fixtures.browser import CHROMIUM_FLAGS

    chromium = os.environ.get("PODIUM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    delays: list[int] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{base}/watch/{code}")
        deadline = time.monotonic() + 60
        while page.evaluate("document.getElementById('player').currentTime") < 3:
            if time.monotonic() > deadline:
                raise SystemExit("the watch page did not play the live")
            time.sleep(0.2)
        while len(delays) < samples:
            frame = page.evaluate(live_clock.READ_STAMP_JS)
            if frame is not None:
                delays.append(live_clock.latency_ms(*frame))
            time.sleep(0.5)
        browser.close()
    return delays


def availability_latency(base: str, playlist_url: str, segments: int) -> list[int]:
    """How old a segment's last frame is when the playlist first names it (polled every 100 ms)."""
    seen: set[str] = set()
    ages: list[int] = []
    first = True
    with httpx.Client(base_url=base, timeout=10) as client:
        while len(ages) < segments:
            listed = [
                line for line in client.get(playlist_url).text.splitlines() if line.startswith("/live/")
            ]
            newest = listed[-1] if listed else None
            if newest and newest.rsplit("/", 1)[1] not in seen:
                seen.add(newest.rsplit("/", 1)[1])
                at = int(time.time() * 1000)
                stamp = live_clock.decode_last_frame(client.get(newest).content)
                if not first:  # the first was there before polling began
                    ages.append(live_clock.latency_ms(stamp, at % live_clock.MODULO))
                first = False
            time.sleep(0.1)
    return ages


def open_sessions(base: str, code: str, count: int) -> list[tuple[str, int, str]]:
    """``count`` view sessions on the live's watch API: their playback tokens, ids and keys."""

    def one(index: int) -> tuple[str, int, str]:
        answer = client.post(f"/watch/{code}/session", json={"device": f"{index:032x}"})
        answer.raise_for_status()
        opened = answer.json()
        return str(opened["token"]), int(opened["session"]), str(opened["key"])

    with httpx.Client(base_url=base, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def beat_all(base: str, sessions: list[tuple[str, int, str]]) -> None:
    """One beat each, as every playing page has sent within its last 10 s."""

    def one(opened: tuple[str, int, str]) -> None:
        beat = {"session": opened[1], "key": opened[2], "watched": 0}
        answer = client.post("/watch/heartbeat", json=beat)
        if answer.status_code != 200:
            raise SystemExit(f"a heartbeat was refused: {answer.status_code} {answer.text}")

    with httpx.Client(base_url=base, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(one, sessions))


def viewer_script(sessions: list[tuple[str, int, str]], code: str, window: str, scratch: Path) -> Path:
    script = scratch / "viewers.lua"
    listed = "{" + ",".join(f'{{"{token}", {sid}, "{key}"}}' for token, sid, key in sessions) + "}"
    lua = VIEWER_LUA.replace("{SESSIONS}", listed).replace("{CODE}", code).replace("{WINDOW}", window)
    script.write_text(lua + LUA_DONE)
    return script


FRONT_CONF = """
daemon off;
master_process off;
{user}pid {folder}/front.pid;
error_log {folder}/front.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  proxy_cache_path {folder}/cache keys_zone=podium_live:10m max_size=256m inactive=2m;
  upstream podium {{ server 127.0.0.1:{port}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{front};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /live/ {{
      proxy_pass http://podium;
      proxy_cache podium_live;
      proxy_cache_lock on;
      proxy_cache_valid 200 60s;
    }}
    location / {{
      proxy_pass http://podium;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
}}
"""


def front(base: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """An nginx in front of the server, configured as README's "A CDN or nginx in front" (segments
    cached by URL, the rest passed through)."""
    port = free_port()
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = folder / "front.conf"
    conf.write_text(FRONT_CONF.format(user=user, folder=folder, port=base.rsplit(":", 1)[1], front=port))
    process = subprocess.Popen(["/usr/sbin/nginx", "-c", str(conf), "-p", str(folder)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/livez", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the nginx in front did not start")


def row(result: Result, bare: Result) -> str:
    return (
        f"| {result.label} | {result.rps:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} | "
        f"{result.rps / bare.rps:.2f} | {result.p99_ms / bare.p99_ms:.1f} | {result.errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--samples", type=int, default=30, help="glass-to-glass readings in Chromium")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: scripts/ensure-system-packages.sh --bench installs it")

    with tempfile.TemporaryDirectory() as data_dir:
        env = api_env(
            data_dir,
            PODIUM_RTMP="local",
            PODIUM_RTMP_LISTEN=f"127.0.0.1:{free_port()}",
            # 2,000 pages opening sessions from one address: no guessing guard; their tokens must
            # outlive the run (a page renews its own with every heartbeat).
            PODIUM_GUARD_ENABLED="false",
            PODIUM_PLAY_TOKEN_SECONDS="3600",
        )
        server, base = serve(env, public_url=True)
        encoder = None
        try:
            key = str(podium(env, "admin", "bootstrap")["boomstream_apikey"])
            live = boomstream_api(base, key, "live/create", title="Bench live")
            code = str(live["Code"])
            encoder = live_clock.publish(f"{live['IngestUrl']}/{live['StreamKey']}")
            session = wait_on_air(base, code)
            playlist = str(session["src"]).removeprefix(base)
            ages = availability_latency(base, playlist, 10)
            delays = player_latency(base, code, args.samples)
            sessions = open_sessions(base, code, args.viewers)
            with tempfile.TemporaryDirectory() as scratch:
                bare = run_wrk(base, Case("bare /livez", "/livez"), args.seconds, args.viewers, Path(scratch))
                window = str(wait_on_air(base, code)["live_token"])
                script = viewer_script(sessions, code, window, Path(scratch))
                beat_all(base, sessions)
                viewers = wrk(
                    f"viewers: playlist, newest segment, a beat each 10 s; {args.viewers} sessions",
                    base + "/livez",
                    script,
                    args.seconds,
                    args.viewers,
                )
                proxy, front_url = front(base, Path(scratch))
                try:
                    beat_all(base, sessions)
                    fronted = wrk(
                        "the same viewers through nginx in front (README: segments cached)",
                        front_url + "/livez",
                        script,
                        args.seconds,
                        args.viewers,
                    )
                finally:
                    proxy.terminate()
                    proxy.wait(timeout=10)
                again = run_wrk(
                    base, Case("bare /livez (again)", "/livez"), args.seconds, args.viewers, Path(scratch)
                )
            print(
                f"live_hls, {time.strftime('%Y-%m-%d')}: one `podium serve` and its nginx-rtmp on 127.0.0.1, "
                f"database {os.environ.get('PODIUM_DATABASE_URL', 'SQLite')}, {os.cpu_count()} cores; "
                "ffmpeg publishes 320x180 at 25 fps, key frame every 1 s, 1-s HLS fragments"
            )
            print()
            print("| latency | median ms | p95 ms | max ms | samples |")
            print("|---|---|---|---|---|")
            for label, values in (
                ("glass to glass, Chromium + hls.js on the watch page", delays),
                ("segment age when the playlist first names it", ages),
            ):
                print(
                    f"| {label} | {statistics.median(values):,.0f} | {percentile(values, 0.95):,.0f} | "
                    f"{max(values):,} | {len(values)} |"
                )
            print()
            print(f"wrk -t2 -c{args.viewers} -d{args.seconds}s")
            print("| endpoint | req/s | p50 ms | p99 ms | req/s vs /livez | p99 vs /livez | errors |")
            print("|---|---|---|---|---|---|---|")
            for result in (bare, viewers, fronted, again):
                print(row(result, bare))
            needed = 2 * args.viewers
            print(
                f"{args.viewers} players need {needed:,} requests/s (a playlist and a segment each second): "
                f"served {viewers.rps / needed:.0%} of that directly, "
                f"{fronted.rps / needed:.0%} through nginx"
            )
            print(f"server peak memory (VmHWM): {peak_memory_mib(server.pid):.1f} MiB")
            print(
                json.dumps(
                    {
                        "glass_to_glass_median_ms": statistics.median(delays),
                        "viewer_requests_per_s": round(viewers.rps),
                        "viewer_p99_ms": viewers.p99_ms,
                        "through_nginx_requests_per_s": round(fronted.rps),
                        "through_nginx_p99_ms": fronted.p99_ms,
                    }
                )
            )
        finally:
            if encoder is not None and encoder.poll() is None:
                encoder.terminate()
                encoder.wait(timeout=10)
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
