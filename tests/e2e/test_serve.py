"""`podium serve` and `podium admin` as real processes: data directory, secret, migrations,
provisioning while the server runs, and the API answering with the printed credentials."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env["PODIUM_DATA_DIR"] = str(data_dir)
    if os.environ.get("PODIUM_TEST_DATABASE_URL"):
        env["PODIUM_DATABASE_URL"] = os.environ["PODIUM_TEST_DATABASE_URL"]
    env.update(extra)
    return env


def _podium(env: dict[str, str], *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "podium.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout  # exactly one JSON object on stdout
    parsed: dict[str, object] = json.loads(lines[0])
    return parsed


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    env = _env(tmp_path / "var", PODIUM_PUBLIC_URL="https://meet.example.org/")
    process = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, env
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_provision_and_call(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    base, env = server
    data_dir = tmp_path / "var"
    secret = data_dir / "secret_key"
    assert secret.exists()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    if "PODIUM_DATABASE_URL" not in env:
        assert (data_dir / "podium.sqlite3").exists()

    boot = _podium(env, "admin", "bootstrap")
    assert set(boot) == {
        "reseller_id",
        "company_id",
        "host_id",
        "boomstream_apikey",
        "iotum_api_token",
        "liveminutes_account_sid",
        "liveminutes_auth_token",
    }
    sub = f"second-{os.getpid()}-{time.time_ns()}"
    company = _podium(
        env,
        "admin",
        "create-company",
        "--reseller-id",
        str(boot["reseller_id"]),
        "--name",
        "Second",
        "--subdomain",
        sub,
    )
    assert set(company) == {
        "company_id",
        "boomstream_apikey",
        "liveminutes_account_sid",
        "liveminutes_auth_token",
    }
    taken = subprocess.run(
        [
            sys.executable,
            "-m",
            "podium.cli",
            "admin",
            "create-company",
            "--reseller-id",
            str(boot["reseller_id"]),
            "--name",
            "Again",
            "--subdomain",
            sub,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert taken.returncode != 0 and "Subdomain already taken" in taken.stderr

    # The running server accepts credentials created after it started.
    created = httpx.get(
        f"{base}/api/conference/create",
        params={"apikey": company["boomstream_apikey"], "title": "Live", "format": "json"},
    ).json()
    assert created["Status"] == "Success"
    invite = httpx.get(
        f"{base}/api/conference/invite",
        params={
            "apikey": company["boomstream_apikey"],
            "code": created["Code"],
            "email": "a@example.com",
            "format": "json",
        },
    ).json()
    assert invite["inviteLink"].startswith("https://meet.example.org/conf/invite.html?jwt=")
    jwt.decode(invite["token"], secret.read_text().strip(), algorithms=["HS256"], audience="podium:invite")
    lobby = httpx.get(f"{base}/conf/invite.html", params={"jwt": invite["token"]})
    assert lobby.status_code == 200 and "Live" in lobby.text

    meeting = httpx.post(
        f"{base}/liveminutes/createMeeting",
        data={"hostid": "h"},
        auth=(str(company["liveminutes_account_sid"]), str(company["liveminutes_auth_token"])),
    )
    assert meeting.json()["meetingUrl"].startswith("https://meet.example.org/m/")

    # The first company's key does not see the second's conference.
    other = httpx.get(
        f"{base}/api/conference/info",
        params={"apikey": boot["boomstream_apikey"], "code": created["Code"], "format": "json"},
    ).json()
    assert other["Status"] == "Failed"


def test_secret_key_from_environment(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path / "var", PODIUM_SECRET_KEY="from-the-environment-0123456789abcdef")
    boot = _podium(env, "admin", "bootstrap")
    process = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        code = httpx.get(
            f"{base}/api/conference/create",
            params={"apikey": boot["boomstream_apikey"], "title": "T", "format": "json"},
        ).json()["Code"]
        token = httpx.get(
            f"{base}/api/conference/invite",
            params={
                "apikey": boot["boomstream_apikey"],
                "code": code,
                "email": "a@example.com",
                "format": "json",
            },
        ).json()["token"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    jwt.decode(token, "from-the-environment-0123456789abcdef", algorithms=["HS256"], audience="podium:invite")
    assert not (tmp_path / "var" / "secret_key").exists()
