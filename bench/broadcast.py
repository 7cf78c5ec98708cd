"""Benchmark: the live compositor's CPU (rooms/broadcast, ADR 0011) with 2 and 4 publishers.

Starts `podium serve` (SQLite in a temporary data directory, its local Janus), joins synthetic
publishers through real join links (bench/room_load.py: a moving bar in VP8 and a tone in Opus, at
--width x --height and --fps, like a webcam), and for each publisher count and each output size runs
one compositor writing FLV to a file for --seconds: its CPU (user + system, all its threads, in % of
one core, from /proc), the frame rate it kept (video packets in the file over the measured span), and
the CPU of the whole machine and of this tool (its publishers, Janus and the compositor share the
machine: when it is saturated, the compositor may skip frames it would keep alone). The compositor
joins with the first publisher's own media token (the server would issue one of its own).

    .venv/bin/python bench/broadcast.py [--publishers 2,4] [--sizes 960x540,1280x720] [--seconds 8]
        [--width 640 --height 480 --fps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from room_load import Client, Meetings, cpu_seconds, machine_busy_seconds, wait_for

from podium.rooms.broadcast import Broadcast, BroadcastSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_latency import podium, serve  # noqa: E402


def tool_seconds() -> float:
    times = os.times()
    return times.user + times.system


def video_times(path: Path) -> list[float]:
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
        text=True,
        check=True,
    )
    return sorted(float(line.strip(",")) for line in found.stdout.split())


async def measure(
    client: Client, size: tuple[int, int], fps: int, seconds: float, folder: Path, publishers: int
) -> str:
    target = folder / f"{publishers}-{size[0]}x{size[1]}.flv"
    spec = BroadcastSpec(
        client.entry["janus_url"], client.entry["token"], client.room, str(target), size[0], size[1], fps
    )
    broadcast = Broadcast(spec)
    broadcast.start()
    try:
        if not await asyncio.to_thread(broadcast.wait_publishing, 20):
            return f"| {publishers} | {size[0]}x{size[1]} | failed: {broadcast.failure} | | | | |"
        published = time.monotonic()
        await asyncio.to_thread(broadcast.wait_for, lambda: broadcast.feeds[0] >= publishers, 20)
        await asyncio.sleep(3)  # settle: every decoder running, the encoder past its first frames
        assert broadcast.pid is not None
        begin = (time.monotonic(), cpu_seconds(broadcast.pid), machine_busy_seconds(), tool_seconds())
        await asyncio.sleep(seconds)
        end = (time.monotonic(), cpu_seconds(broadcast.pid), machine_busy_seconds(), tool_seconds())
        span = (begin[0] - published, end[0] - published)
    finally:
        await asyncio.to_thread(broadcast.stop)
    wall = end[0] - begin[0]
    times = [t for t in video_times(target) if span[0] <= t < span[1]]
    return (
        f"| {publishers} | {size[0]}x{size[1]} | {100 * (end[1] - begin[1]) / wall:.0f}% "
        f"| {len(times) / wall:.1f} of {fps} | {(end[2] - begin[2]) / wall:.2f} of {os.cpu_count()} "
        f"| {(end[3] - begin[3]) / wall:.2f} | {broadcast.feeds[0]} |"
    )


async def run(args: argparse.Namespace, base: str, meetings: Meetings) -> None:
    counts = sorted(int(n) for n in args.publishers.split(","))
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    links = meetings.links(max(counts))
    clients: list[Client] = []
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; publishers send "
        f"{args.width}x{args.height} at {args.fps} fps (VP8 as negotiated) and a tone (Opus); the "
        f"compositor outputs at {args.out_fps} fps, libx264 veryfast/zerolatency + AAC, to a file"
    )
    print(
        "| publishers | output | compositor CPU (one core) | output fps | machine busy cores "
        "| this tool's cores (the publishers) | cameras on the canvas |"
    )
    print("|---" * 7 + "|")
    with tempfile.TemporaryDirectory() as folder:
        try:
            for count in counts:
                while len(clients) < count:
                    client = Client(base, links[len(clients)], True, args.width, args.height, args.fps, False)
                    clients.append(client)
                    await client.join()
                await wait_for(lambda: all(c.webrtcup_at is not None for c in clients), 30)
                for size in sizes:
                    line = await measure(clients[0], size, args.out_fps, args.seconds, Path(folder), count)
                    print(line, flush=True)
        finally:
            await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--publishers", default="2,4")
    parser.add_argument("--sizes", default="960x540,1280x720")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=20, help="each publisher's frame rate")
    parser.add_argument("--out-fps", type=int, default=20, help="the compositor's frame rate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "PODIUM_DATA_DIR": data_dir,
            "PODIUM_RUN_OUTBOX_WORKER": "false",
            "PODIUM_RUN_MEDIA_WORKER": "false",
            "PODIUM_QUOTA_USERS": "100000000",
        }
        server, base = serve(env, public_url=True)
        try:
            meetings = Meetings(base, podium(env, "admin", "bootstrap"))
            asyncio.run(run(args, base, meetings))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
