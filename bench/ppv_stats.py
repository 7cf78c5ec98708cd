"""Benchmark: heartbeat ingest rate, and statistics query latency at 10 thousand and 10 million events.

Starts `podium serve` (SQLite in a temporary data directory, or PODIUM_DATABASE_URL) on 127.0.0.1,
uploads a small generated video and waits for the server to transcode it, then:

1. ingest: opens view sessions on the watch API and drives POST /watch/heartbeat from concurrent
   clients (the full path: session checks, watched-time cap, two rollup upserts, a fresh token);
2. scale: gives two projects 10k and 10M heartbeat events spread over 90 days and 20 media. So as
   not to take hours over HTTP, these events go straight through the rollup upsert every heartbeat
   runs (StatsRepository.add_watched), in batches;
3. queries: drives GET /api/stats for each project (by day over 90 days) and for one media (by hour
   over 7 days), and prints p50/p99 latency: the rollups make both scales cost the same.

    .venv/bin/python bench/ppv_stats.py [--heartbeats 3000] [--concurrency 16] [--events 10000,10000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_latency import peak_memory_mib, percentile, podium, serve  # noqa: E402

MEDIA_PER_PROJECT = 20
DAYS = 90


def api(base: str, key: str, method: str, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(
        f"{base}/api/{method}", params={"apikey": key, "format": "json", **params}, timeout=30
    ).json()
    if body.get("Status") != "Success":
        raise SystemExit(f"{method} failed: {body}")
    return body


def ready_video(base: str, key: str, folder: Path) -> str:
    video = folder / "bench.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=25:duration=4", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    answer = api(base, key, "media/upload", title="Bench")
    upload_url = answer["UploadUrl"].replace("http://127.0.0.1:8000", base)
    httpx.post(upload_url, files={"file": ("bench.mp4", video.read_bytes())}, timeout=60).raise_for_status()
    for _ in range(600):
        if api(base, key, "media/info", code=answer["Code"])["MediaStatus"] == "Done":
            return str(answer["Code"])
        time.sleep(0.2)
    raise SystemExit("the video was not transcoded")


async def heartbeats(base: str, media: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        sessions = []
        for i in range(concurrency):
            opened = await client.post(f"/watch/{media}/session", json={"device": f"{i:032x}"})
            opened.raise_for_status()
            sessions.append(opened.json())
        latencies: list[float] = []
        counter = iter(range(total))

        async def worker(session: dict[str, Any]) -> None:
            for _ in counter:
                started = time.perf_counter()
                response = await client.post(
                    "/watch/heartbeat",
                    json={"session": session["session"], "key": session["key"], "watched": 50},
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"heartbeat failed: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(s) for s in sessions))
        return time.perf_counter() - started, latencies


async def queries(base: str, params: dict[str, Any], total: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(total))
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def worker() -> None:
            for _ in counter:
                started = time.perf_counter()
                response = await client.get("/api/stats", params=params)
                latencies.append(time.perf_counter() - started)
                if '"Success"' not in response.text:
                    raise RuntimeError(response.text[:300])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def fill(database_url: str, company_id: int, media_ids: list[int], events: int, end: datetime) -> float:
    """Add ``events`` heartbeats (random media, hour and 1-10 s each) through the rollup upsert."""
    from podium.domain.stats.repository import PROJECT, StatsRepository
    from podium.kit.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    rng = random.Random(company_id)
    hours = DAYS * 24
    started = time.perf_counter()
    batch = 20_000
    with sessions() as session:
        repo = StatsRepository(session)
        for offset in range(0, events, batch):
            rows = []
            for _ in range(min(batch, events - offset)):
                hour = end - timedelta(hours=rng.randrange(hours))
                watched = rng.randrange(1_000, 10_000)
                media = rng.choice(media_ids)
                rows += [(company_id, media, hour, watched), (company_id, PROJECT, hour, watched)]
            repo.add_watched(rows)
            session.commit()
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--heartbeats", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--events", default="10000,10000000", help="comma-separated event counts")
    args = parser.parse_args()
    scales = [int(n) for n in args.events.split(",")]

    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "PODIUM_DATA_DIR": data_dir, "PODIUM_JANUS": "off"}
        database_url = env.get("PODIUM_DATABASE_URL") or f"sqlite:///{data_dir}/podium.sqlite3"
        server, base = serve(env)
        try:
            print(f"database {os.environ.get('PODIUM_DATABASE_URL', 'SQLite')}")
            key = str(podium(env, "admin", "bootstrap")["boomstream_apikey"])
            media = ready_video(base, key, Path(data_dir))

            asyncio.run(heartbeats(base, media, min(200, args.heartbeats), args.concurrency))  # warm up
            elapsed, latencies = asyncio.run(heartbeats(base, media, args.heartbeats, args.concurrency))
            print(
                f"heartbeat ingest over HTTP: {len(latencies) / elapsed:.0f} heartbeats/s, "
                f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 99) * 1000:.1f} ms "
                f"({args.concurrency} concurrent players)"
            )

            end = datetime.utcnow().replace(minute=0, second=0, microsecond=0)
            start_day = (end - timedelta(days=DAYS)).date().isoformat()
            print(f"{'events':>12}{'fill s':>9}{'query':>26}{'p50 ms':>9}{'p99 ms':>9}")
            for events in scales:
                reseller = podium(env, "admin", "create-reseller", "--name", f"Scale {events}")
                company = podium(
                    env, "admin", "create-company", "--reseller-id", str(reseller["reseller_id"]),
                    "--name", f"Scale {events}", "--subdomain", f"scale-{events}",
                )  # fmt: skip
                project_key = str(company["boomstream_apikey"])
                codes = [
                    api(base, project_key, "media/upload", title=f"M{i}")["Code"]
                    for i in range(MEDIA_PER_PROJECT)
                ]
                media_ids = media_ids_of(database_url, codes)
                filled = fill(database_url, int(str(company["company_id"])), media_ids, events, end)
                cases = [
                    ("project, by day, 90 days", {"start": start_day}),
                    ("media, by hour, 7 days", {"code": codes[0], "group": "hour"}),
                ]
                for label, params in cases:
                    query = {"apikey": project_key, "format": "json", "end": end.date().isoformat(), **params}
                    asyncio.run(queries(base, query, 20, 2))
                    latencies = asyncio.run(queries(base, query, args.queries, 4))
                    print(
                        f"{events:>12,}{filled:>9.1f}{label:>26}"
                        f"{percentile(latencies, 50) * 1000:>9.1f}{percentile(latencies, 99) * 1000:>9.1f}"
                    )
                    filled = 0.0
            print(f"server peak memory (VmHWM): {peak_memory_mib(server.pid):.1f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=30)


def media_ids_of(database_url: str, codes: list[str]) -> list[int]:
    from sqlalchemy import select

    from podium.kit.db import make_engine, make_sessionmaker
    from podium.models.media import Media

    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        ids = list(session.scalars(select(Media.id).where(Media.code.in_(codes))))
    engine.dispose()
    return ids


if __name__ == "__main__":
    main()
