"""Transcoding jobs survive the server: a `podium serve` killed while transcoding leaves its job to
the next one, which finishes it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.processes import podium_env, podium_json, running_server, start_server

PUBLIC = "http://127.0.0.1:8000"  # the default PODIUM_PUBLIC_URL: links name it, the servers run elsewhere


def _info(base: str, key: str, code: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(
        f"{base}/api/media/info", params={"apikey": key, "code": code, "format": "json"}, timeout=10
    ).json()
    assert body["Status"] == "Success", body
    return body


def _stalling_ffmpeg(tmp_path: Path) -> tuple[Path, Path]:
    """An ffmpeg stand-in that says it started, then hangs: the job is certainly mid-way when the
    server is killed, however fast the machine (the real ffmpeg finished first on CI once)."""
    started = tmp_path / "ffmpeg-started"
    script = tmp_path / "stalling-ffmpeg"
    script.write_text(f"#!/bin/sh\necho $$ > {started}.tmp && mv {started}.tmp {started}\nexec sleep 120\n")
    script.chmod(0o755)
    return script, started


def test_a_job_cut_off_by_a_killed_server_is_finished_after_restart(
    tmp_path: Path, media_files: dict[str, Path]
) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off", PODIUM_MEDIA_LEASE_SECONDS="3")
    key = str(podium_json(env, "admin", "bootstrap")["boomstream_apikey"])
    stalling, started = _stalling_ffmpeg(tmp_path)
    first, base = start_server({**env, "PODIUM_FFMPEG": str(stalling)})
    try:
        answer = httpx.get(
            f"{base}/api/media/upload", params={"apikey": key, "title": "Cut", "format": "json"}
        ).json()
        with media_files["wide"].open("rb") as handle:
            uploaded = httpx.post(
                answer["UploadUrl"].replace(PUBLIC, base), files={"file": ("wide.mp4", handle)}, timeout=60
            )
        assert uploaded.status_code == 200, uploaded.text
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline, "the worker never started transcoding"
            time.sleep(0.05)
        cut_off = _info(base, key, answer["Code"])["MediaStatus"]
    finally:
        # Pull the plug: no clean shutdown, the job's lease is left to expire.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        if started.exists():
            os.kill(int(started.read_text()), signal.SIGKILL)
    assert cut_off == "Processing", "the server was to die mid-job"
    with running_server(env) as again:
        deadline = time.monotonic() + 90
        while (info := _info(again, key, answer["Code"]))["MediaStatus"] != "Done":
            assert info["MediaStatus"] == "Processing", info
            assert time.monotonic() < deadline, "the job was not finished after the restart"
            time.sleep(0.3)
        assert [t["Title"] for t in info["Transcodes"]] == ["240p", "360p"]
        playlist = httpx.get(info["Transcodes"][1]["AppleHLS"].replace(PUBLIC, again))
        assert playlist.status_code == 200 and "seg_00001.ts" in playlist.text
