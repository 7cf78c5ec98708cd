"""Benchmark: `GET /api/stats` at 10 thousand and 10 million heartbeat events, against /livez.

Starts `podium serve` (SQLite in a temporary data directory, or PODIUM_DATABASE_URL; no media
server, no background workers) on 127.0.0.1 with the helpers of bench/api_latency.py, provisions a
tenant with `podium admin bootstrap`, and gives two projects of its owner 20 media each (created with
`api/media/upload`: no video is needed for statistics) and 10 thousand and 10 million heartbeat events
spread over 90 days. The events are drawn one by one (random media, hour and 1-10 s watched each),
summed per media and hour in chunks of a million, and added through the rollup upsert every heartbeat
runs (`StatsRepository.add_watched`, which batched heartbeats also call with summed rows): over HTTP
they would take hours, and the rollups come out the same.

Then wrk (Debian's `wrk`) drives `GET /api/stats` for each scale: a project by day over 90 days, one
media by hour over 7 days and one media by day over 90 days, and, for reference, the same project's
`api/media/info` (an authenticated call that does no statistics: the floor every API call pays).
Each case runs twice: `-t1 -c1` (the latency of one query), then `-t2 -c50` (throughput; at 50
connections on two cores the latency is mostly queueing), then waits for the server to drain. Beside
wrk's latencies, the server's CPU time per request (from /proc; on SQLite it includes the database's
work, on PostgreSQL not the database server's): on a shared machine it moves much less than the
latency does. The table starts and ends with the bare `/livez` of the same server in the same run.

    .venv/bin/python bench/stats_query.py [--seconds 10] [--connections 50] [--events 10000,10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_latency import Case, api_env, boomstream_api, check, peak_memory_mib, podium, serve  # noqa: E402

MEDIA_PER_PROJECT = 20
DAYS = 90
CHUNK = 1_000_000
DRAIN_SECONDS = 3

# GET only; the `done` callback adds p95 to what api_latency's script reports.
LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Measured:
    label: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_ms: float = float("nan")  # the server's CPU time per request (all its threads)


def run_wrk(base: str, case: Case, seconds: int, connections: int, scratch: Path) -> Measured:
    script = scratch / "stats.lua"
    script.write_text(LUA)
    threads = min(2, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "-s",
        str(script),
        base + case.path,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if match is None:
        raise SystemExit(f"wrk said: {out}")
    requests, duration_us, p50, p95, p99, errors = (int(g) for g in match.groups())
    rps = requests / (duration_us / 1e6)
    return Measured(case.label, rps, p50 / 1000, p95 / 1000, p99 / 1000, errors, requests)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_measured(pid: int, base: str, case: Case, seconds: int, connections: int, scratch: Path) -> Measured:
    """run_wrk, and the server's CPU time per answered request over the run."""
    before = cpu_seconds(pid)
    result = run_wrk(base, case, seconds, connections, scratch)
    result.cpu_ms = (cpu_seconds(pid) - before) * 1000 / max(1, result.requests)
    return result


def media_ids_of(database_url: str, codes: list[str]) -> list[int]:
    from sqlalchemy import select

    from podium.kit.db import make_engine, make_sessionmaker
    from podium.models.media import Media

    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        ids = {
            code: mid
            for mid, code in session.execute(select(Media.id, Media.code).where(Media.code.in_(codes)))
        }
    engine.dispose()
    return [ids[code] for code in codes]


def fill(database_url: str, company_id: int, media_ids: list[int], events: int, end: datetime) -> float:
    """Draw ``events`` heartbeats (random media, hour, 1-10 s) and add them through the rollup upsert."""
    from podium.domain.stats.repository import PROJECT, StatsRepository
    from podium.kit.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    rng = random.Random(company_id)
    hours = [end - timedelta(hours=h) for h in range(DAYS * 24)]
    started = time.perf_counter()
    with make_sessionmaker(engine)() as session:
        repo = StatsRepository(session)
        for offset in range(0, events, CHUNK):
            n = min(CHUNK, events - offset)
            summed: Counter[tuple[int, datetime]] = Counter()
            media_of, hour_of = rng.choices(media_ids, k=n), rng.choices(hours, k=n)
            watched_of = rng.choices(range(1_000, 10_000), k=n)
            for media, hour, watched in zip(media_of, hour_of, watched_of, strict=True):
                summed[media, hour] += watched
            project: Counter[datetime] = Counter()
            for (_, hour), watched in summed.items():
                project[hour] += watched
            rows = [(company_id, media, hour, ms) for (media, hour), ms in summed.items()]
            rows += [(company_id, PROJECT, hour, ms) for hour, ms in project.items()]
            repo.add_watched(rows)
            session.commit()
    engine.dispose()
    return time.perf_counter() - started


def rollup_rows(database_url: str, company_id: int) -> dict[str, int]:
    from sqlalchemy import text

    from podium.kit.db import make_engine

    engine = make_engine(database_url)
    found = {}
    with engine.connect() as connection:
        tables = ["view_rollups", "view_daily_rollups"]
        for table in tables:
            try:
                found[table] = int(
                    connection.execute(
                        text(f"SELECT count(*) FROM {table} WHERE company_id = :c"), {"c": company_id}
                    ).scalar()
                    or 0
                )
            except Exception:  # noqa: BLE001 - the daily table exists only from migration 0012 on
                connection.rollback()
    engine.dispose()
    return found


def project_cases(base: str, env: dict[str, str], database_url: str, reseller_id: int, events: int,
                  end: datetime) -> list[Case]:  # fmt: skip
    company = podium(
        env, "admin", "create-company", "--reseller-id", str(reseller_id),
        "--name", f"Scale {events}", "--subdomain", f"scale-{events}",
    )  # fmt: skip
    key = str(company["boomstream_apikey"])
    company_id = int(str(company["company_id"]))
    codes = [
        str(boomstream_api(base, key, "media/upload", title=f"M{i}")["Code"])
        for i in range(MEDIA_PER_PROJECT)
    ]
    filled = fill(database_url, company_id, media_ids_of(database_url, codes), events, end)
    rows = ", ".join(f"{n:,} in {t}" for t, n in rollup_rows(database_url, company_id).items())
    print(f"{events:,} events: filled in {filled:.1f} s; rollup rows {rows}", flush=True)
    last = end.date()
    day90 = f"start={(last - timedelta(days=DAYS)).isoformat()}&end={last.isoformat()}"
    day7 = f"start={(last - timedelta(days=7)).isoformat()}&end={last.isoformat()}"
    scale = f"{events:,} events"
    stats = f"/api/stats?apikey={key}&format=json"
    return [
        Case(f"{scale}: project, by day, 90 days", f"{stats}&{day90}"),
        Case(f"{scale}: media, by hour, 7 days", f"{stats}&code={codes[0]}&group=hour&{day7}"),
        Case(f"{scale}: media, by day, 90 days", f"{stats}&code={codes[0]}&{day90}"),
        Case(
            f"{scale}: media/info (no statistics)",
            f"/api/media/info?apikey={key}&code={codes[0]}&format=json",
        ),
    ]


def expect_items(base: str, case: Case) -> int:
    body = httpx.get(base + case.path, timeout=30).json()
    return int(body.get("ItemCount", 0))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--low", type=int, default=1, help="connections of the low-concurrency run")
    parser.add_argument("--events", default="10000,10000000", help="comma-separated event counts")
    parser.add_argument("--keep", action="store_true", help="wait for Enter before stopping (to profile)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs Debian's wrk")
    scales = [int(n) for n in args.events.split(",")]

    with tempfile.TemporaryDirectory() as data_dir:
        env = api_env(data_dir)
        database_url = env.get("PODIUM_DATABASE_URL") or f"sqlite:///{data_dir}/podium.sqlite3"
        server, base = serve(env)
        try:
            boot = podium(env, "admin", "bootstrap")
            reseller_id = int(str(boot["reseller_id"]))
            end = datetime.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
            chosen = [Case("bare /livez", "/livez")]
            for events in scales:
                chosen += project_cases(base, env, database_url, reseller_id, events, end)
            chosen.append(Case("bare /livez (again)", "/livez"))
            items = {}
            for case in chosen:
                check(base, case)
                if "/api/stats" in case.path:
                    items[case.label] = expect_items(base, case)
            print(
                f"wrk -t2 -c{args.connections} and -t1 -c{args.low}, {args.seconds} s each, against one "
                f"`podium serve` (pid {server.pid}) on 127.0.0.1, database "
                f"{'PostgreSQL' if database_url.startswith('postgresql') else 'SQLite'}, "
                f"{os.cpu_count()} cores, {datetime.now():%Y-%m-%d %H:%M}",
                flush=True,
            )
            c, low = args.connections, args.low
            print(
                f"| request | items | c{c} req/s | c{c} p50 ms | c{c} p95 ms | c{c} p99 ms "
                f"| c{low} req/s | c{low} p50 ms | c{low} p95 ms | c{low} p99 ms | server CPU ms/req "
                f"c{low} / c{c} | errors |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|---|")
            with tempfile.TemporaryDirectory() as scratch:
                for case in chosen:
                    run_wrk(base, case, 1, args.low, Path(scratch))  # warm up
                    one = run_measured(server.pid, base, case, args.seconds, args.low, Path(scratch))
                    busy = run_measured(server.pid, base, case, args.seconds, args.connections, Path(scratch))
                    # The server still answers the requests wrk left queued: let it drain.
                    time.sleep(DRAIN_SECONDS)
                    print(
                        f"| {case.label} | {items.get(case.label, '')} | {busy.rps:,.0f} | {busy.p50_ms:.1f} "
                        f"| {busy.p95_ms:.1f} | {busy.p99_ms:.1f} | {one.rps:,.0f} | {one.p50_ms:.1f} "
                        f"| {one.p95_ms:.1f} | {one.p99_ms:.1f} | {one.cpu_ms:.2f} / {busy.cpu_ms:.2f} "
                        f"| {busy.errors + one.errors} |",
                        flush=True,
                    )
            print(f"server peak memory (VmHWM): {peak_memory_mib(server.pid):.1f} MiB")
            if args.keep:
                print(json.dumps({"base": base, "pid": server.pid, "cases": [c.path for c in chosen]}))
                input("Enter to stop the server: ")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
