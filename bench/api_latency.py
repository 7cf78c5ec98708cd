"""Benchmark: conference/info and conference/invite against a bare endpoint of the same server.

Starts `podium serve` (SQLite in a temporary data directory, or PODIUM_DATABASE_URL) on
127.0.0.1, provisions a tenant, then drives each endpoint with a bounded number of
requests from concurrent clients and prints requests/s, p50/p99 latency, the ratio to
the bare endpoint, and the server's peak memory.

    .venv/bin/python bench/api_latency.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def podium(env: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "podium.cli", *args], env=env, check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


async def drive(
    base: str, path: str, params_for: object, total: int, concurrency: int, deadline_s: float
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))
    stop_at = time.perf_counter() + deadline_s

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            if time.perf_counter() > stop_at:
                return
            params = params_for(i) if callable(params_for) else params_for
            started = time.perf_counter()
            response = await client.get(path, params=params)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or (path != "/livez" and '"Success"' not in response.text):
                raise RuntimeError(f"{path} failed: {response.status_code} {response.text[:200]}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`podium serve` on a free loopback port, once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per endpoint")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        # Each invite adds a user: lift the account quota so the run measures the API, not the limit.
        env = {**os.environ, "PODIUM_DATA_DIR": data_dir, "PODIUM_QUOTA_USERS": "10000000"}
        server, base = serve(env)
        try:
            tenant = podium(env, "admin", "bootstrap")
            key = str(tenant["boomstream_apikey"])
            code = httpx.get(
                f"{base}/api/conference/create", params={"apikey": key, "title": "Bench", "format": "json"}
            ).json()["Code"]
            cases = [
                ("bare /livez", "/livez", {}),
                ("conference/info", "/api/conference/info", {"apikey": key, "code": code, "format": "json"}),
                # Distinct emails: every call creates a participant and signs a JWT (a write per request).
                (
                    "conference/invite",
                    "/api/conference/invite",
                    lambda run, i: {
                        "apikey": key,
                        "code": code,
                        "email": f"user{run}-{i}@example.com",
                        "format": "json",
                    },
                ),
            ]
            print(
                f"{args.requests} requests per endpoint, {args.concurrency} concurrent clients, "
                f"database {os.environ.get('PODIUM_DATABASE_URL', 'SQLite')}"
            )
            print(f"{'endpoint':<20}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs bare':>10}")
            bare_rps = None
            for label, path, params in cases:
                for run in ("warm", "measure"):
                    elapsed, latencies = asyncio.run(
                        drive(
                            base,
                            path,
                            (lambda i, p=params, r=run: p(r, i)) if callable(params) else params,
                            min(100, args.requests) if run == "warm" else args.requests,
                            args.concurrency,
                            args.max_seconds,
                        )
                    )
                rps = len(latencies) / elapsed
                bare_rps = bare_rps or rps
                print(
                    f"{label:<20}{rps:>10.0f}{percentile(latencies, 50) * 1000:>10.1f}"
                    f"{percentile(latencies, 99) * 1000:>10.1f}{rps / bare_rps:>10.2f}"
                )
            print(f"server peak memory (VmHWM): {peak_memory_mib(server.pid):.1f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
