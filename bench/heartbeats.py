"""Benchmark: heartbeat ingest from many open view sessions, against the bare endpoint of the same server.

Starts `podium serve` (SQLite in a temporary data directory, or PODIUM_DATABASE_URL; no media server),
uploads a small generated video and waits for the server to transcode it, opens `--sessions` view
sessions on its watch page API (1,000 by default) and beats each once (a playing page has), then
drives POST /watch/heartbeat with **wrk**
(Debian's C load generator; `-t2 -c50`), each request naming the next of the sessions in turn with
100 ms watched — so every session beats several times a second, faster than a page would: the
server accepts that and caps what it counts by the time that really passed. Between two runs of the
same server's bare `/livez`, so the ratio can be read on a noisy machine.

It then prints what was counted: after the flush (at most a second), the statistics of the video
hold 100 ms per acknowledged heartbeat while each session claims less than its life (1,000 sessions
for 10 s do); with few sessions the cap by the time that really passed shows instead.

    .venv/bin/python bench/heartbeats.py [--sessions 1000] [--seconds 10] [--connections 50]
    scripts/with-redis.sh .venv/bin/python bench/heartbeats.py --workers 2   # two processes
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_latency import (  # noqa: E402
    LUA_DONE,
    Case,
    api_env,
    boomstream_api,
    peak_memory_mib,
    podium,
    run_wrk,
    serve,
    wrk,
)

WATCHED_MS = 100

# Each request names the next session of the list (wrk's Lua, one list per thread); each thread
# starts at its own place (every thread's Lua state draws the same random numbers).
HEARTBEAT_LUA = """
local sessions = {SESSIONS}
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local i = nil
request = function()
  i = i or (tid * 7919) % #sessions
  i = i % #sessions + 1
  local s = sessions[i]
  return wrk.format("POST", "/watch/heartbeat", {["Content-Type"] = "application/json"},
    string.format('{"session": %d, "key": "%s", "watched": %d}', s[1], s[2], WATCHED))
end
"""


def ready_video(base: str, key: str, folder: Path) -> str:
    video = folder / "bench.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=25:duration=4", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    answer = boomstream_api(base, key, "media/upload", title="Bench")
    upload_url = answer["UploadUrl"].replace("http://127.0.0.1:8000", base)
    httpx.post(upload_url, files={"file": ("bench.mp4", video.read_bytes())}, timeout=60).raise_for_status()
    for _ in range(600):
        if boomstream_api(base, key, "media/info", code=answer["Code"])["MediaStatus"] == "Done":
            return str(answer["Code"])
        time.sleep(0.2)
    raise SystemExit("the video was not transcoded")


def open_sessions(base: str, media: str, count: int) -> list[tuple[int, str]]:
    with httpx.Client(base_url=base, timeout=30) as client:
        opened = []
        for i in range(count):
            answer = client.post(f"/watch/{media}/session", json={"device": f"{i:032x}"})
            answer.raise_for_status()
            opened.append((int(answer.json()["session"]), str(answer.json()["key"])))
        return opened


def warm_up(base: str, sessions: list[tuple[int, str]]) -> None:
    """One beat each, as every playing page has sent one: the run measures the steady state."""
    with httpx.Client(base_url=base, timeout=30) as client:
        for sid, key in sessions:
            beat = {"session": sid, "key": key, "watched": 0}
            client.post("/watch/heartbeat", json=beat).raise_for_status()


def counted_ms(base: str, key: str, media: str) -> int:
    return sum(item["time"] for item in boomstream_api(base, key, "stats", code=media, group="hour")["Items"])


def heartbeat_script(sessions: list[tuple[int, str]], scratch: Path) -> Path:
    listed = "{" + ",".join(f'{{{sid}, "{key}"}}' for sid, key in sessions) + "}"
    script = scratch / "heartbeat.lua"
    script.write_text(
        HEARTBEAT_LUA.replace("{SESSIONS}", listed).replace("WATCHED", str(WATCHED_MS)) + LUA_DONE
    )
    return script


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (more than one needs a Redis)"
    )
    args = parser.parse_args()
    redis = os.environ.get("PODIUM_REDIS_URL") or os.environ.get("PODIUM_TEST_REDIS_URL")
    if args.workers > 1 and not redis:
        raise SystemExit("--workers needs a Redis: PODIUM_REDIS_URL (or run under scripts/with-redis.sh)")
    with tempfile.TemporaryDirectory() as data_dir:
        # The media worker transcodes the bench's video; a page that opens a session does not count
        # against the guard: lift it for 1,000 opens.
        extra = {"PODIUM_REDIS_URL": redis} if args.workers > 1 and redis else {}
        env = api_env(data_dir, PODIUM_RUN_MEDIA_WORKER="true", PODIUM_GUARD_ENABLED="false", **extra)
        server, base = serve(env, workers=args.workers)
        try:
            key = str(podium(env, "admin", "bootstrap")["boomstream_apikey"])
            media = ready_video(base, key, Path(data_dir))
            sessions = open_sessions(base, media, args.sessions)
            warm_up(base, sessions)
            print(
                f"wrk -t2 -c{args.connections} -d{args.seconds}s against "
                f"`podium serve --workers {args.workers}` on 127.0.0.1, "
                f"database {os.environ.get('PODIUM_DATABASE_URL', 'SQLite')}, {os.cpu_count()} cores, "
                f"{len(sessions)} open view sessions, {time.strftime('%Y-%m-%d')}"
            )
            print("| endpoint | req/s | p50 ms | p99 ms | req/s vs /livez | p99 vs /livez | errors |")
            print("|---|---|---|---|---|---|---|")
            with tempfile.TemporaryDirectory() as scratch:
                bare = run_wrk(
                    base, Case("bare /livez", "/livez"), args.seconds, args.connections, Path(scratch)
                )
                script = heartbeat_script(sessions, Path(scratch))
                beats = wrk(
                    "POST /watch/heartbeat", base + "/watch/heartbeat", script, args.seconds, args.connections
                )
                again = run_wrk(
                    base, Case("bare /livez (again)", "/livez"), args.seconds, args.connections, Path(scratch)
                )
            for result in (bare, beats, again):
                print(
                    f"| {result.label} | {result.rps:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} | "
                    f"{result.rps / bare.rps:.2f} | {result.p99_ms / bare.p99_ms:.1f} | {result.errors} |"
                )
            acknowledged = beats.requests - beats.errors
            time.sleep(2)  # the flush: at most a second
            counted = counted_ms(base, key, media)
            print(
                f"acknowledged heartbeats: {acknowledged:,} × {WATCHED_MS} ms = "
                f"{acknowledged * WATCHED_MS:,} ms; counted in the statistics: {counted:,} ms"
            )
            print(f"server peak memory (VmHWM): {peak_memory_mib(server.pid):.1f} MiB")
            print(json.dumps({"heartbeats_per_s": round(beats.rps), "p99_ms": beats.p99_ms}))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
