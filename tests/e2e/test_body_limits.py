"""Every route has a body limit, enforced while the body streams in (issue #12): a 64 MB POST to
any of them is refused with 413 and the server's memory does not grow with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import podium_env, podium_json, running_server

CHUNK = b"x" * (1024 * 1024)
HUGE_MB = 64  # far above every web and API limit; large enough that buffering would show


def _stream(megabytes: int) -> Iterator[bytes]:
    for _ in range(megabytes):
        yield CHUNK


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmdline and port.encode() in cmdline:
            return int(proc.name)
    raise AssertionError("server process not found")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, object]]]:
    env = podium_env(tmp_path_factory.mktemp("limits"), PODIUM_JANUS="off")
    boot = podium_json(env, "admin", "bootstrap")
    with running_server(env) as base:
        yield base, boot


FORMS = {
    "/login": "application/x-www-form-urlencoded",
    "/oauth/token": "application/x-www-form-urlencoded",
    "/liveminutes/createMeeting": "application/x-www-form-urlencoded",
}
ROUTES = [
    "/rooms/enter",
    "/watch/heartbeat",
    "/watch/end",
    "/watch/abcdefgh/session",
    "/oauth/token",
    "/login",
    "/api/conference/create",
    "/enterprise_api/authenticate",
    "/liveminutes/createMeeting",
]


@pytest.mark.parametrize("path", ROUTES)
def test_a_huge_streamed_body_is_refused_without_memory_growth(
    server: tuple[str, dict[str, object]], path: str
) -> None:
    base, boot = server
    pid = _server_pid(base)
    auth = (str(boot["liveminutes_account_sid"]), str(boot["liveminutes_auth_token"]))
    before = _rss_kib(pid)
    try:
        # No Content-Length: the server must count while it reads.
        answer = httpx.post(
            f"{base}{path}",
            content=_stream(HUGE_MB),
            headers={"Content-Type": FORMS.get(path, "application/json")},
            auth=auth if path.startswith("/liveminutes") else None,
            timeout=120,
        )
        status = answer.status_code
    except httpx.HTTPError:
        status = 413  # the server may close the connection while the client still sends
    assert status == 413
    grown_mib = (_rss_kib(pid) - before) / 1024
    assert grown_mib < 24, f"RSS grew {grown_mib:.0f} MiB on a {HUGE_MB} MiB body to {path}"


def test_a_declared_oversize_is_refused_at_once_in_the_dialects_format(
    server: tuple[str, dict[str, object]],
) -> None:
    base, boot = server
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    boomstream = httpx.post(
        f"{base}/api/conference/create?format=json&apikey={boot['boomstream_apikey']}", content=big
    )
    assert boomstream.status_code == 413
    assert boomstream.json()["Status"] == "Failed" and "larger than" in boomstream.json()["Message"]
    iotum = httpx.post(f"{base}/enterprise_api/authenticate", content=big)
    assert iotum.status_code == 413 and "larger than" in iotum.json()["message"]
    web = httpx.post(f"{base}/watch/heartbeat", content=b"{" + b" " * 100_000 + b"}")
    assert web.status_code == 413 and "larger than" in web.json()["message"]
    # A body within the limit still works.
    fine = httpx.post(f"{base}/enterprise_api/authenticate", json={"api_token": boot["iotum_api_token"]})
    assert fine.status_code == 200
