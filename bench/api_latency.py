"""Benchmark: API reads and writes of every dialect against the bare endpoint of the same server.

Starts `podium serve` (SQLite in a temporary data directory, or PODIUM_DATABASE_URL; no media
server, no background workers) on 127.0.0.1, provisions a tenant with `podium admin bootstrap`, and
drives each endpoint with wrk (Debian's `wrk`, a C load generator that is not the bottleneck):
`wrk -t2 -c50 -d10s --latency`. Every table starts and ends with the bare `/livez` of the same
server in the same run, so the ratios can be read on a noisy machine.

    .venv/bin/python bench/api_latency.py [--seconds 10] [--connections 50] [--only conference/info]
    scripts/with-redis.sh .venv/bin/python bench/api_latency.py --workers 2   # two processes
    .venv/bin/python bench/api_latency.py --only write --busy 1   # with a busy loop beside it
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class Case:
    label: str
    path: str
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # A write: each request gets a distinct value in place of this marker (wrk's Lua counter).
    unique: str = ""


@dataclass
class Result:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0


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


def boomstream_api(base: str, key: str, method: str, **params: Any) -> dict[str, Any]:
    """One Boomstream call in JSON; a failure ends the bench with its answer."""
    body: dict[str, Any] = httpx.get(
        f"{base}/api/{method}", params={"apikey": key, "format": "json", **params}, timeout=30
    ).json()
    if body.get("Status") != "Success":
        raise SystemExit(f"{method} failed: {body}")
    return body


def api_env(data_dir: str, **extra: str) -> dict[str, str]:
    """The environment of a bench's `podium serve`: its own data directory, no media server, no
    background workers, quotas lifted (every invite and buyer adds a user: the run measures the API,
    not them); ``extra`` on top."""
    return {
        **os.environ,
        "PODIUM_DATA_DIR": data_dir,
        "PODIUM_JANUS": "off",
        "PODIUM_RUN_OUTBOX_WORKER": "false",
        "PODIUM_RUN_MEDIA_WORKER": "false",
        "PODIUM_QUOTA_USERS": "100000000",
        "PODIUM_QUOTA_CONFERENCES": "100000000",
        **extra,
    }


def serve(
    env: dict[str, str], *, public_url: bool = False, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """`podium serve` on a free loopback port, once /healthz answers (with ``public_url``, the links
    it makes name that port: pages and rooms are followed by the bench)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if public_url:
        env = {**env, "PODIUM_PUBLIC_URL": base}
    server = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", str(port), "--log-level", "warning"]
        + (["--workers", str(workers)] if workers > 1 else []),
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


# Each wrk thread has its own Lua state: the thread's number keeps two threads' values apart.
LUA = """
counter = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local function unique(text)
  if UNIQUE == "" then return text end
  return (string.gsub(text, UNIQUE, tid .. "-" .. counter .. "-" .. math.random(1e9)))
end
request = function()
  counter = counter + 1
  return wrk.format(nil, unique(wrk.path), nil, unique(wrk.body))
end
"""
# wrk's summary as the one line ``wrk()`` reads: requests, duration, p50, p99, errors.
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk(base: str, case: Case, seconds: int, connections: int, scratch: Path) -> Result:
    script = scratch / "case.lua"
    script.write_text(
        f"UNIQUE = {json.dumps(case.unique)}\nwrk.method = {json.dumps(case.method)}\n"
        f"wrk.body = {json.dumps(case.body)}\n"
        + "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in case.headers.items())
        + LUA
        + LUA_DONE
    )
    return wrk(case.label, base + case.path, script, seconds, connections)


def wrk(label: str, url: str, script: Path, seconds: int, connections: int) -> Result:
    """Run wrk with a Lua script whose ``done`` prints the RESULT line (see ``LUA``)."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if match is None:
        raise SystemExit(f"wrk said: {out}")
    requests, duration_us, p50_us, p99_us, errors = (int(g) for g in match.groups())
    return Result(label, requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000, errors, requests)


def check(base: str, case: Case) -> None:
    """One request first: the case must answer 200 with a success in its dialect."""
    body = case.body.replace(case.unique, "check") if case.unique else case.body
    path = case.path.replace(case.unique, "check") if case.unique else case.path
    answer = httpx.request(case.method, base + path, content=body or None, headers=case.headers, timeout=30)
    text = answer.text
    ok = answer.status_code == 200 and '"Status": "Failed"' not in text and '"resultcode": 0' not in text
    if not ok:
        raise SystemExit(f"{case.label} does not answer as it should: {answer.status_code} {text[:300]}")


def cases(base: str, env: dict[str, str]) -> list[Case]:
    boot = podium(env, "admin", "bootstrap")
    key = str(boot["boomstream_apikey"])
    code = httpx.get(
        f"{base}/api/conference/create", params={"apikey": key, "title": "Bench", "format": "json"}
    ).json()["Code"]
    media = httpx.get(
        f"{base}/api/media/upload", params={"apikey": key, "title": "Bench", "format": "json"}
    ).json()
    media_code = media.get("Code") or media.get("code")
    ppv_code = httpx.get(
        f"{base}/api/ppv/create", params={"apikey": key, "name": "Bench", "period": "30", "format": "json"}
    ).json()["Items"][0]["Code"]
    httpx.get(
        f"{base}/api/ppv/addmedia",
        params={"apikey": key, "code": ppv_code, "media": media_code, "format": "json"},
    )
    token = httpx.post(
        f"{base}/enterprise_api/authenticate", json={"api_token": boot["iotum_api_token"]}
    ).json()["auth_token"]
    conference = httpx.post(
        f"{base}/enterprise_api/conference/create/reservationless",
        json={"auth_token": token, "host_id": boot["host_id"], "subject": "Bench"},
    ).json()
    basic = base64.b64encode(
        f"{boot['liveminutes_account_sid']}:{boot['liveminutes_auth_token']}".encode()
    ).decode()
    lm_headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
    httpx.post(
        f"{base}/liveminutes/createMeeting",
        content="meetingKey=bench&hostid=h1&title=Bench",
        headers=lm_headers,
    )
    json_headers = {"Content-Type": "application/json"}
    found = [
        Case("bare /livez", "/livez"),
        Case("Boomstream conference/info", f"/api/conference/info?apikey={key}&code={code}&format=json"),
        Case("Boomstream media/info", f"/api/media/info?apikey={key}&code={media_code}&format=json"),
        Case(
            "Iotum conference/fetch",
            "/enterprise_api/conference/fetch",
            "POST",
            json.dumps({"auth_token": token, "conference_id": conference["conference_id"]}),
            json_headers,
        ),
        Case(
            "Iotum company/fetch_all",
            "/enterprise_api/company/fetch_all",
            "POST",
            json.dumps({"auth_token": token}),
            json_headers,
        ),
        Case(
            "LiveMinutes getMeetingStatus",
            "/liveminutes/getMeetingStatus",
            "POST",
            "meetingKey=bench",
            lm_headers,
        ),
        # Every request a different question (an ignored parameter differs): no answer is kept, each
        # is read from the database — what a first read costs.
        Case(
            "first read: Boomstream conference/info",
            f"/api/conference/info?apikey={key}&code={code}&format=json&n=UNIQ",
            unique="UNIQ",
        ),
        Case(
            "first read: Iotum conference/fetch",
            "/enterprise_api/conference/fetch",
            "POST",
            json.dumps({"auth_token": token, "conference_id": conference["conference_id"], "n": "UNIQ"}),
            json_headers,
            unique="UNIQ",
        ),
        Case(
            "write: Boomstream conference/create",
            f"/api/conference/create?apikey={key}&title=B-UNIQ&format=json",
            unique="UNIQ",
        ),
        Case(
            "write: Boomstream conference/invite",
            f"/api/conference/invite?apikey={key}&code={code}&email=u-UNIQ@example.com&format=json",
            unique="UNIQ",
        ),
        Case(
            "write: Boomstream ppv/addbuyer",
            f"/api/ppv/addbuyer?apikey={key}&code={ppv_code}&media={media_code}&email=b-UNIQ@example.com"
            "&format=json",
            unique="UNIQ",
        ),
        Case("bare /livez (again)", "/livez"),
    ]
    return found


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def answer_sources(base: str) -> str:
    """``podium_api_answers_total`` from the server's /metrics: kept, shared and read answers."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    found = re.findall(r'^podium_api_answers_total\{source="(\w+)"\} ([0-9.e+]+)$', text, re.M)
    return ", ".join(f"{source} {float(count):,.0f}" for source, count in found) or "none"


def group_commits(base: str) -> str:
    """Writes made by the group commit (kit/group_commit): items per transaction of each kind."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    transactions: dict[str, float] = {}
    for kind, outcome, count in re.findall(
        r'^podium_group_commits_total\{kind="([^"]+)",outcome="(\w+)"\} (\S+)$', text, re.M
    ):
        if outcome in ("together", "alone"):
            transactions[kind] = transactions.get(kind, 0.0) + float(count)
    items = dict(re.findall(r'^podium_group_commit_items_total\{kind="([^"]+)"\} (\S+)$', text, re.M))
    return (
        ", ".join(
            f"{kind} {float(items.get(kind, 0)):,.0f} in {count:,.0f} transactions "
            f"({float(items.get(kind, 0)) / count:.1f} each)"
            for kind, count in sorted(transactions.items())
            if count
        )
        or "none"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--only", action="append", default=[], help="labels containing this (repeatable)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (above 1: PODIUM_REDIS_URL must name a Redis)",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="busy loops run beside the server all along: this machine at its slowest, on purpose",
    )
    args = parser.parse_args()
    redis = os.environ.get("PODIUM_REDIS_URL") or os.environ.get("PODIUM_TEST_REDIS_URL")
    if args.workers > 1 and not redis:
        raise SystemExit("--workers needs a Redis: PODIUM_REDIS_URL (or run under scripts/with-redis.sh)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs Debian's wrk")

    # A slow phase of a shared machine (a neighbour taking CPU) made on purpose, so that a target can
    # be shown met there too: each loop takes what it can of a core, as the server's rivals would.
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        measure(args)
    finally:
        for loop in busy:
            loop.kill()


def measure(args: argparse.Namespace) -> None:
    redis = os.environ.get("PODIUM_REDIS_URL") or os.environ.get("PODIUM_TEST_REDIS_URL")
    with tempfile.TemporaryDirectory() as data_dir:
        env = api_env(data_dir, **({"PODIUM_REDIS_URL": redis} if args.workers > 1 and redis else {}))
        server, base = serve(env, workers=args.workers)
        try:
            chosen = [
                c
                for c in cases(base, env)
                if not args.only or c.label.startswith("bare") or any(o in c.label for o in args.only)
            ]
            for case in chosen:
                check(base, case)
            print(
                f"wrk -t2 -c{args.connections} -d{args.seconds}s against "
                f"`podium serve --workers {args.workers}` on 127.0.0.1, "
                f"database {os.environ.get('PODIUM_DATABASE_URL', 'SQLite')}, {os.cpu_count()} cores"
                + (f", {args.busy} busy loop(s) beside it" if args.busy else "")
            )
            print("| endpoint | req/s | p50 ms | p99 ms | req/s vs /livez | p99 vs /livez | errors |")
            print("|---|---|---|---|---|---|---|")
            bare: Result | None = None
            with tempfile.TemporaryDirectory() as scratch:
                for case in chosen:
                    result = run_wrk(base, case, args.seconds, args.connections, Path(scratch))
                    bare = bare or result
                    print(
                        f"| {result.label} | {result.rps:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} | "
                        f"{result.rps / bare.rps:.2f} | {result.p99_ms / bare.p99_ms:.1f} | {result.errors} |"
                    )
            print(f"server peak memory (VmHWM): {peak_memory_mib(server.pid):.1f} MiB")
            print("cacheable reads' answers by source (kit/answers): " + answer_sources(base))
            print("writes made together (kit/group_commit): " + group_commits(base))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
