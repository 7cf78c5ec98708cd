"""Logs (kit/logs.py, README "Observability"): JSON lines from a real `podium serve` with
``PODIUM_LOG_FORMAT=json``, each access line with the request id the response header showed and no
credential of any dialect; the request id on the app's own lines (threads included); the masking
rules; the progress line of long CLI work."""

from __future__ import annotations

import argparse
import io
import json
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool
from uvicorn.logging import AccessFormatter

from podium import cli
from podium.app import create_app
from podium.kit.logs import (
    REQUEST_ID,
    JsonFormatter,
    MaskSecretsInAccessLog,
    ProgressLine,
    log_config,
    mask_secrets,
    masked_path,
    request_id_from,
)
from tests.conftest import make_settings
from tests.fixtures.processes import free_port, podium_env
from tests.fixtures.tenants import Tenant, TenantFactory
from tests.fixtures.waiting import wait_until


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/livez", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


IOTUM_TOKEN = "iotum-session-" + "7" * 24
PLAY_TOKEN = "play-token-" + "9" * 24
HOSTILE_ID = "no spaces/or slashes " + "x" * 80


def _serve_and_call(
    tmp_path: Path, database_url: str, tenant: Tenant, log_format: str
) -> tuple[list[httpx.Response], str]:
    """A real `podium serve` in ``log_format`` answering ``_calls``; the answers and all it logged."""
    env = podium_env(
        tmp_path / "var",
        PODIUM_DATABASE_URL=database_url,
        PODIUM_LOG_FORMAT=log_format,
        PODIUM_JANUS="off",
        PODIUM_RTMP="off",
        PODIUM_RUN_MEDIA_WORKER="false",
        PODIUM_RUN_OUTBOX_WORKER="false",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    errors = tmp_path / "output.log"
    with errors.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "podium.cli", "serve", "--port", str(port)],
            env=env,
            stdout=sink,  # uvicorn's text access lines go to stdout, everything else to stderr
            stderr=sink,
        )
        try:
            try:
                # Generous: a loaded CI machine once took over a minute (imports and migrations).
                wait_until(lambda: _answers(base) or server.poll() is not None, 150, "the server")
            except AssertionError as timeout:
                raise AssertionError(f"{timeout}; its output so far:\n{errors.read_text()}") from None
            assert server.poll() is None, errors.read_text()
            answers = _calls(base, tenant)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return answers, errors.read_text()


def _calls(base: str, tenant: Tenant) -> list[httpx.Response]:
    """A call of each dialect with its credential, a playback path with its token, a hostile id."""
    return [
        httpx.get(
            f"{base}/api/conference/list",
            params={"apikey": tenant.boomstream_apikey, "format": "json"},
            headers={"X-Request-Id": "client-chosen.id-42"},
        ),
        httpx.post(f"{base}/enterprise_api/company/fetch?auth_token={IOTUM_TOKEN}", json={}),
        httpx.post(f"{base}/liveminutes/getMeetingStatus", data={"meetingKey": "x"}, auth=tenant.basic),
        httpx.get(f"{base}/play/{PLAY_TOKEN}/abcd1234/master.m3u8"),
        httpx.get(f"{base}/livez", headers={"X-Request-Id": HOSTILE_ID}),
    ]


def _no_secret_in(output: str, tenant: Tenant) -> None:
    """No credential of any dialect anywhere in the log: Boomstream's key, Iotum's token, LiveMinutes'
    AuthToken (a header: never logged), a playback token in a path."""
    for secret in (tenant.boomstream_apikey, IOTUM_TOKEN, tenant.liveminutes_auth_token, PLAY_TOKEN):
        assert secret not in output


@pytest.mark.once  # the log format does not depend on the database: the PostgreSQL pass skips it
def test_json_lines_from_a_real_server(tmp_path: Path, database_url: str, tenants: TenantFactory) -> None:
    tenant = tenants()
    answers, output = _serve_and_call(tmp_path, database_url, tenant, "json")
    boom, iotum, _, play, hostile = answers
    assert boom.json()["Status"] == "Success", boom.text
    assert boom.headers["x-request-id"] == "client-chosen.id-42"
    for answer in answers[1:]:
        assert 8 <= len(answer.headers["x-request-id"]) <= 64, answer.headers
    assert hostile.headers["x-request-id"] != HOSTILE_ID
    assert len({a.headers["x-request-id"] for a in answers}) == len(answers)

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line is JSON
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= line.keys(), line
    assert any(line["message"].startswith("Uvicorn running on") for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "podium.access"}
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]  # one access line each
    for answer in answers:
        line = access[answer.headers["x-request-id"]]  # the id of the header, on the access line
        assert line["status"] == answer.status_code
        assert line["method"] == answer.request.method
        assert line["path"].split("?")[0] == answer.request.url.path.replace(PLAY_TOKEN, "xxx")
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert access[boom.headers["x-request-id"]]["path"] == "/api/conference/list?apikey=xxx&format=json"
    assert access[iotum.headers["x-request-id"]]["path"] == "/enterprise_api/company/fetch?auth_token=xxx"
    assert access[play.headers["x-request-id"]]["path"] == "/play/xxx/abcd1234/master.m3u8"
    _no_secret_in(output, tenant)


@pytest.mark.once  # the log format does not depend on the database: the PostgreSQL pass skips it
def test_text_access_lines_are_masked_too(data_dir: Path, database_url: str, tenants: TenantFactory) -> None:
    """The default format: uvicorn's own access lines, through the filter the server's log config puts
    on them, masked like the JSON ones (tokens in paths too). uvicorn serves the app in this process."""
    tenant = tenants()
    config = log_config("text")
    assert config["loggers"]["uvicorn.access"]["filters"] == ["mask_secrets"]
    assert config["filters"]["mask_secrets"]["()"] == "podium.kit.logs.MaskSecretsInAccessLog"
    app = create_app(make_settings(data_dir, database_url, redis_url=None))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    access = logging.getLogger("uvicorn.access")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    mask = MaskSecretsInAccessLog()
    saved = access.level
    access.addFilter(mask)
    access.addHandler(handler)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "uvicorn")
        access.setLevel(logging.INFO)
        answers = _calls(f"http://127.0.0.1:{port}", tenant)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        access.removeHandler(handler)
        access.removeFilter(mask)
        access.setLevel(saved)
    output = stream.getvalue()
    assert all(answer.headers["x-request-id"] for answer in answers)
    assert '"GET /api/conference/list?apikey=xxx&format=json HTTP/1.1" 200' in output
    assert '"POST /enterprise_api/company/fetch?auth_token=xxx HTTP/1.1" 401' in output
    assert '"GET /play/xxx/abcd1234/master.m3u8 HTTP/1.1" 403' in output
    _no_secret_in(output, tenant)


def test_request_id_reaches_the_apps_own_lines(data_dir: Path, database_url: str) -> None:
    """Lines logged while serving a request (in a worker thread too) carry its id, and so does the
    access line and count of a request whose exception escaped the route (a 500)."""
    app = create_app(make_settings(data_dir, database_url, log_format="json", redis_url=None))
    test_log = logging.getLogger("podium.test")

    @app.get("/test/log-and-fail")
    async def log_and_fail() -> None:
        test_log.warning("on the event loop")
        await run_in_threadpool(test_log.warning, "in a worker thread")
        raise RuntimeError("boom")

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    saved = root.level
    root.setLevel(logging.INFO)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            answer = client.get("/test/log-and-fail", headers={"X-Request-Id": "trace-me-1"})
            metrics = TestClient(app, client=("127.0.0.1", 1)).get("/metrics").text
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
    assert answer.status_code == 500 and answer.text == "Internal Server Error"
    assert answer.headers["x-request-id"] == "trace-me-1"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line["request_id"] == "trace-me-1"]
    assert {line["message"] for line in mine} >= {"on the event loop", "in a worker thread"}
    access = next(line for line in mine if line["logger"] == "podium.access")
    assert (access["status"], access["path"]) == (500, "/test/log-and-fail")
    assert 'method="/test/log-and-fail",status="500",verb="GET"' in metrics


@pytest.mark.once  # reads no database (or its own SQLite): the PostgreSQL pass skips it
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("/api/media/info?apikey=K3Y&code=abc", "/api/media/info?apikey=xxx&code=abc"),
        ("/api/x?code=1&APIKEY=K3Y", "/api/x?code=1&APIKEY=xxx"),
        ("/enterprise_api/a?auth_token=t0k&x=1", "/enterprise_api/a?auth_token=xxx&x=1"),
        ("api_token=abc access_token=def", "api_token=xxx access_token=xxx"),
        ("/conf/invite.html?jwt=eyJ.a.b", "/conf/invite.html?jwt=xxx"),
        ("/m/x?moderator_token=abc", "/m/x?moderator_token=xxx"),
        ("client_secret=s3&password=p4ss", "client_secret=xxx&password=xxx"),
        ("/watch/abc?title=0&autostart=1", "/watch/abc?title=0&autostart=1"),
        ("no pairs here", "no pairs here"),
    ],
)
def test_secrets_are_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.once  # reads no database (or its own SQLite): the PostgreSQL pass skips it
def test_masked_path_hides_credential_path_parameters() -> None:
    assert masked_path("/e/T0KEN", b"", {"token": "T0KEN"}) == "/e/xxx"
    assert masked_path("/play/T0K/abc/x.m3u8", b"q=1", {"token": "T0K", "code": "abc"}) == (
        "/play/xxx/abc/x.m3u8?q=1"
    )
    assert masked_path("/watch/abc", b"apikey=1", {"code": "abc"}) == "/watch/abc?apikey=xxx"
    assert masked_path("/live/W1N/abc/s1.ts", b"", {"window": "W1N", "code": "abc"}) == "/live/xxx/abc/s1.ts"
    assert masked_path("/stream/K3Y", b"", {"key": "K3Y"}) == "/stream/xxx"


@pytest.mark.once  # reads no database (or its own SQLite): the PostgreSQL pass skips it
def test_the_text_access_log_is_masked_too() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', None, None)
    record.args = ("127.0.0.1:5", "GET", "/api/media/info?apikey=K3Y&code=1", "1.1", 200)
    assert MaskSecretsInAccessLog().filter(record)
    assert "K3Y" not in record.getMessage() and "apikey=xxx" in record.getMessage()


@pytest.mark.once  # reads no database (or its own SQLite): the PostgreSQL pass skips it
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (b"abc-123", True),
        (b"4bf92f3577b34da6a3ce929d0e0e4736", True),
        (b"req:1.2_3@edge+x=", True),
        (b"x" * 64, True),
        (b"x" * 65, False),
        (b"", False),
        (b"has space", False),
        (b"new\nline", False),
        (b'quote"d', False),
        ("caf\u00e9".encode(), False),
    ],
)
def test_incoming_request_ids(given: bytes, kept: bool) -> None:
    found = request_id_from([(b"host", b"x"), (b"x-request-id", given)])
    assert (found == given.decode("utf-8", "replace")) is kept
    assert 1 <= len(found) <= 64 and found.isascii()


@pytest.mark.once  # reads no database (or its own SQLite): the PostgreSQL pass skips it
def test_json_formatter_fields() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("podium.x", logging.ERROR, "", 0, "calling %s", ("/a?apikey=K3Y",), None)
    reset = REQUEST_ID.set("rid-1")
    try:
        try:
            raise ValueError("bad auth_token=S3CRET")
        except ValueError:
            record.exc_info = sys.exc_info()
        line: dict[str, Any] = json.loads(formatter.format(record))
    finally:
        REQUEST_ID.reset(reset)
    assert line["level"] == "ERROR" and line["logger"] == "podium.x" and line["request_id"] == "rid-1"
    assert line["message"] == "calling /a?apikey=xxx"
    assert "ValueError" in line["exception"] and "S3CRET" not in line["exception"]
    assert line["time"].endswith("+00:00")
    outside = json.loads(formatter.format(logging.LogRecord("p", logging.INFO, "", 0, "m", None, None)))
    assert outside["request_id"] is None and "status" not in outside


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.once  # reads no database (or its own SQLite): the PostgreSQL pass skips it
def test_progress_line() -> None:
    terminal = _Terminal()
    with ProgressLine("work", 4, stream=terminal) as progress:
        for done in range(1, 5):
            progress.step(done, f"item\n{done}")
    text = terminal.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n")
    assert "work: 4/4 100% item 4" in text
    quiet = io.StringIO()  # not a terminal, not asked for: nothing
    with ProgressLine("work", 2, stream=quiet) as progress:
        progress.step(1)
    assert quiet.getvalue() == ""
    asked = io.StringIO()  # --progress into a file: one line per step
    with ProgressLine("work", 2, stream=asked, enabled=True) as progress:
        progress.step(1)
        progress.step(2)
    assert asked.getvalue() == "work: 1/2  50%\nwork: 2/2 100%\n"


@pytest.mark.once  # reads no database (or its own SQLite): the PostgreSQL pass skips it
def test_db_upgrade_shows_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A long command (every migration of a new database) reports how far it got on stderr."""
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PODIUM_DATABASE_URL", raising=False)  # a new SQLite database of its own
    assert cli.cmd_db_upgrade(argparse.Namespace(progress=True)) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"status": "ok"}
    steps = [line for line in err.splitlines() if line.startswith("db upgrade: ")]
    total = int(steps[0].split("/")[1].split()[0])
    assert total >= 10 and len(steps) == total + 1, err
    assert steps[-1].startswith(f"db upgrade: {total}/{total} 100% ")
    assert cli.cmd_db_upgrade(argparse.Namespace(progress=True)) == 0  # nothing left to apply
    assert "db upgrade: 0/0 up to date" in capsys.readouterr().err
