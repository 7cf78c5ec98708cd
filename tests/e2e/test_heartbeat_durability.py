"""The heartbeat ledger's contract (domain/viewing/heartbeats.py, README "Heartbeats"), on a real
`podium serve`: acknowledged beats are counted in memory and written within a second; a stopping
server writes them all; a killed one loses at most its last second; and however fast a page beats,
a session never counts more than the time that really passed (plus one slack)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.processes import podium_env, podium_json, running_server, start_server
from tests.fixtures.waiting import wait_until

PUBLIC = "http://127.0.0.1:8000"  # the default PODIUM_PUBLIC_URL: links name it, the servers run elsewhere
SLACK_MS = 5_000  # HEARTBEAT_SLACK


def _api(base: str, key: str, method: str, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(
        f"{base}/api/{method}", params={"apikey": key, "format": "json", **params}, timeout=10
    ).json()
    assert body["Status"] == "Success", body
    return body


@pytest.fixture()
def world(tmp_path: Path, media_files: dict[str, Path]) -> dict[str, Any]:
    """A tenant and a transcoded video, made by a server that is then stopped."""
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off")
    key = str(podium_json(env, "admin", "bootstrap")["boomstream_apikey"])
    with running_server(env) as base:
        answer = _api(base, key, "media/upload", title="Beats")
        with media_files["small"].open("rb") as handle:
            uploaded = httpx.post(
                answer["UploadUrl"].replace(PUBLIC, base), files={"file": ("small.mp4", handle)}, timeout=60
            )
        assert uploaded.status_code == 200, uploaded.text
        wait_until(
            lambda: _api(base, key, "media/info", code=answer["Code"])["MediaStatus"] == "Done",
            90,
            "transcoding",
        )
    return {"env": env, "key": key, "code": answer["Code"]}


def _open(base: str, code: str, device: str) -> tuple[int, str]:
    opened = httpx.post(f"{base}/watch/{code}/session", json={"device": device}, timeout=10)
    assert opened.status_code == 200, opened.text
    return int(opened.json()["session"]), str(opened.json()["key"])


def _beat(base: str, session: tuple[int, str], watched: int) -> None:
    answer = httpx.post(
        f"{base}/watch/heartbeat",
        json={"session": session[0], "key": session[1], "watched": watched},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token"]


def _counted(base: str, key: str, code: str) -> int:
    return sum(item["time"] for item in _api(base, key, "stats", code=code, group="hour")["Items"])


def test_a_stopping_server_writes_every_acknowledged_beat(world: dict[str, Any]) -> None:
    server, base = start_server(world["env"])
    try:
        session = _open(base, world["code"], "a" * 32)
        for _ in range(10):
            _beat(base, session, 100)
    finally:
        server.send_signal(signal.SIGTERM)  # at once: the beats are still in memory
        server.wait(timeout=30)
    with running_server(world["env"]) as again:
        assert _counted(again, world["key"], world["code"]) == 1_000


def test_a_killed_server_loses_at_most_its_last_second(world: dict[str, Any]) -> None:
    server, base = start_server(world["env"])
    try:
        session = _open(base, world["code"], "b" * 32)
        for _ in range(5):
            _beat(base, session, 100)
        # Written within a second: this much is durable whatever happens next.
        wait_until(lambda: _counted(base, world["key"], world["code"]) == 500, 3, "the first beats written")
        time.sleep(1.5)
        for _ in range(5):
            _beat(base, session, 100)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    with running_server(world["env"]) as again:
        assert 500 <= _counted(again, world["key"], world["code"]) <= 1_000


def test_beats_faster_than_playback_count_no_more_than_the_time_that_passed(world: dict[str, Any]) -> None:
    with running_server(world["env"]) as base:
        session = _open(base, world["code"], "c" * 32)
        opened = time.monotonic()
        # Each claims the most a beat may (the time since the previous one plus the slack)...
        for _ in range(6):
            _beat(base, session, SLACK_MS)
            time.sleep(0.4)  # ...across several flushes
        elapsed_ms = (time.monotonic() - opened) * 1000
        time.sleep(1.5)
        counted = _counted(base, world["key"], world["code"])
    # Six claims of 5 s each, in under 3 s: the session's life plus one slack is all that counts.
    assert SLACK_MS <= counted <= elapsed_ms + SLACK_MS + 1_000, (counted, elapsed_ms)
    assert counted < 6 * SLACK_MS
