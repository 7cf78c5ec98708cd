"""Benchmark: two versions of Podium side by side, in the same minutes, under the same load.

This machine's speed moves by half within minutes, more than most changes gain, so two runs one after
the other compare the minutes more than the code. This starts two `podium serve` (the tree given by
``--before``, e.g. a `git worktree` of an older commit, and this one), each with its own PostgreSQL
database on the same server (PODIUM_TEST_DATABASE_URL; the "before" one is created beside it) or its
own SQLite file, and drives them in turns: wrk for a few seconds against one, then the other (which
goes first alternates), for every endpoint chosen. Each prints its requests a second over all its
turns, the turns one by one, and the bare `/livez` of both servers the same way.

    git worktree add /tmp/before <commit>
    scripts/with-postgres.sh .venv/bin/python bench/interleaved.py --before /tmp/before/src --only write
    scripts/with-redis.sh scripts/with-postgres.sh .venv/bin/python bench/interleaved.py \
        --before /tmp/before/src --only write --workers 2   # each side two processes

With ``--workers`` above one, both sides share the Redis of PODIUM_TEST_REDIS_URL (or
PODIUM_REDIS_URL), each in a database of its own (the "before" one in the next).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api_latency import api_env, cases, check, run_wrk, serve  # noqa: E402


def database_beside(url: str, name: str) -> str:
    """A new empty database named ``name`` on the PostgreSQL server of ``url``; its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def redis_beside(url: str) -> str:
    """The next Redis database after the one ``url`` names (0 when it names none)."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + 1
    return urlunsplit(parts._replace(path=f"/{number}"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="the `src` folder of the version to compare")
    parser.add_argument("--only", action="append", default=[], help="labels containing this (repeatable)")
    parser.add_argument("--turns", type=int, default=8, help="turns of each server per endpoint")
    parser.add_argument("--seconds", type=int, default=3, help="seconds of one turn")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="server processes of each side")
    args = parser.parse_args()
    redis = os.environ.get("PODIUM_TEST_REDIS_URL") or os.environ.get("PODIUM_REDIS_URL", "")
    if args.workers > 1 and not redis:
        raise SystemExit("--workers above 1 needs a Redis: scripts/with-redis.sh, or PODIUM_REDIS_URL")
    postgres = os.environ.get("PODIUM_TEST_DATABASE_URL") or os.environ.get("PODIUM_DATABASE_URL")
    sides = {}
    for side, source in (("before", args.before), ("after", "")):
        extra = {"PYTHONPATH": source}
        if postgres:
            own = database_beside(postgres, "podium_before") if side == "before" else postgres
            extra["PODIUM_DATABASE_URL"] = own
        if args.workers > 1:
            extra["PODIUM_REDIS_URL"] = redis_beside(redis) if side == "before" else redis
        env = api_env(tempfile.mkdtemp(), **extra)
        server, base = serve(env, workers=args.workers)
        chosen = [
            c for c in cases(base, env) if c.label == "bare /livez" or any(o in c.label for o in args.only)
        ]
        for case in chosen:
            check(base, case)
        sides[side] = (server, base, chosen)
    print(
        f"wrk -t2 -c{args.connections}, {args.workers} process(es) a side, "
        f"{args.turns} turns of {args.seconds} s each per server and endpoint, "
        f"before = {args.before}, database {'PostgreSQL' if postgres else 'SQLite'}, {os.cpu_count()} cores"
    )
    print("| endpoint | before req/s | after req/s | after / before | before's turns | after's turns |")
    print("|---|---|---|---|---|---|")
    scratch = Path(tempfile.mkdtemp())
    try:
        for index in range(len(sides["after"][2])):
            done: dict[str, list[int]] = {"before": [], "after": []}
            seconds: dict[str, float] = {"before": 0.0, "after": 0.0}
            turns: dict[str, list[float]] = {"before": [], "after": []}
            for turn in range(args.turns):
                for side in ("before", "after") if turn % 2 == 0 else ("after", "before"):
                    _, base, chosen = sides[side]
                    result = run_wrk(base, chosen[index], args.seconds, args.connections, scratch)
                    done[side].append(result.requests)
                    seconds[side] += result.requests / result.rps if result.rps else args.seconds
                    turns[side].append(result.rps)
            before, after = (sum(done[s]) / seconds[s] for s in ("before", "after"))
            label = sides["after"][2][index].label
            listed = {side: ", ".join(f"{rps:,.0f}" for rps in rates) for side, rates in turns.items()}
            print(
                f"| {label} | {before:,.0f} | {after:,.0f} | {after / before:.2f} | "
                f"{listed['before']} | {listed['after']} |"
            )
    finally:
        for server, _, _ in sides.values():
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
