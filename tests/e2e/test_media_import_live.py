"""media/create on a real `podium serve`: its own background worker fetches and transcodes the file,
woken by the call (no test drives the job)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.file_host import file_host
from tests.fixtures.processes import podium_env, podium_json, running_server

PUBLIC = "http://127.0.0.1:8000"  # the default PODIUM_PUBLIC_URL: links name it, the server runs elsewhere


def test_a_served_import_is_fetched_and_transcoded_by_the_servers_worker(
    tmp_path: Path, media_files: dict[str, Path]
) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off", PODIUM_MEDIA_IMPORT_PRIVATE_NETWORKS="true")
    key = str(podium_json(env, "admin", "bootstrap")["boomstream_apikey"])
    with file_host({"small.mp4": media_files["small"]}) as host, running_server(env) as base:
        created = httpx.get(
            f"{base}/api/media/create",
            params={"apikey": key, "url": f"{host.url}/files/small.mp4", "format": "json"},
        ).json()
        assert created["Status"] == "Success", created
        deadline = time.monotonic() + 60
        while True:
            info: dict[str, Any] = httpx.get(
                f"{base}/api/media/info", params={"apikey": key, "code": created["Code"], "format": "json"}
            ).json()
            if info["MediaStatus"] != "Processing":
                break
            assert time.monotonic() < deadline, "the import was not finished"
            time.sleep(0.2)
        assert (info["MediaStatus"], info["FileName"], info["Duration"]) == ("Done", "small.mp4", 4), info
        assert host.requests == ["/files/small.mp4"]
        playlist = httpx.get(info["Transcodes"][0]["AppleHLS"].replace(PUBLIC, base))
        assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
