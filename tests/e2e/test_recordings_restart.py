"""A recording survives a crash (issue #13): a moderator records a LiveMinutes meeting from the room
page of a real `podium serve`, the server is killed with SIGKILL mid-meeting (its Janus goes with
it), and after a restart what was recorded is published — as a media of the company's library,
transcoded and playable, since the meeting was not an Iotum one."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.processes import podium_env, podium_json, start_server
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.flaky(reruns=1, reruns_delay=2)


def _library(base: str, apikey: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/media/folder", params={"apikey": apikey, "format": "json"}, timeout=10)
    assert answer.status_code == 200, answer.text
    medias: list[dict[str, Any]] = answer.json()["Medias"]
    return medias


def test_recording_is_published_after_a_crash(tmp_path: Path, chromium: Any) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="local")
    process, base = start_server(env)
    try:
        boot = podium_json(env, "admin", "bootstrap")
        auth = (str(boot["liveminutes_account_sid"]), str(boot["liveminutes_auth_token"]))
        meeting = httpx.post(
            f"{base}/liveminutes/createMeeting", data={"hostid": "h1", "title": "Crash"}, auth=auth
        ).json()
        assert meeting["resultcode"] == 1, meeting
        page = chromium.new_page()
        page.goto(base + httpx.URL(meeting["hostUrl"]).raw_path.decode())
        page.click("#join")
        wait_until(lambda: page.evaluate("window.podium.state.publisherId"), 40, "publishing")
        wait_until(lambda: page.locator("#toggle-recording").is_visible(), 10, "the record button")
        page.click("#toggle-recording")
        wait_until(lambda: page.locator("#recording-indicator").is_visible(), 20, "the recording indicator")
        time.sleep(8)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        page.close()
        assert _library_after_restart(env, str(boot["boomstream_apikey"]))
    finally:
        if process.poll() is None:
            process.kill()


def _library_after_restart(env: dict[str, str], apikey: str) -> bool:
    process, base = start_server(env)
    try:
        items = wait_until(lambda: _library(base, apikey), 90, "the recording in the library")
        assert items[0]["Title"].startswith("Crash (")
        code = items[0]["Code"]
        info = wait_until(
            lambda: (
                i
                if (
                    i := httpx.get(
                        f"{base}/api/media/info", params={"apikey": apikey, "code": code, "format": "json"}
                    ).json()
                ).get("MediaStatus")
                == "Done"
                else None
            ),
            180,
            "the recording transcoded",
        )
        assert float(info.get("Duration") or 0) >= 3, info
        return True
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
