"""A shop integration, unmodified, against a real `podium serve`: the calls the official Boomstream
Moodle plugin makes, read the way its PHP reads them (``json_decode(..., true)``, ``Versions``
dropped, top-level ``Recovery`` / ``AccessExpirationDate``, ``ppv/info`` as ``Items['Item']``), after
the shop set the subscription up from the reference's own sample queries. Only the base URL differs
from what it would call at Boomstream."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from tests.fixtures.processes import podium_env, podium_json, running_server

PUBLIC = "http://127.0.0.1:8000"  # the default PODIUM_PUBLIC_URL: links name it, the server runs elsewhere
NEVER = "0000-00-00 00:00:00"


def php_call(base: str, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """One GET to ``/api/ppv/<method>`` decoded as the plugin does: an associative array without
    ``Versions``, or None when the answer is not a JSON object (the plugin then gives up)."""
    response = httpx.get(f"{base}/api/ppv/{method}", params=params, timeout=10)
    try:
        decoded = response.json()
    except ValueError:
        return None
    if not isinstance(decoded, dict):
        return None
    decoded.pop("Versions", None)
    return decoded


def xml_call(base: str, key: str, query: str) -> ET.Element:
    """A query written as the reference prints its samples (no ``format``: XML), with our key."""
    response = httpx.get(f"{base}/api/{query.replace('[API_KEY]', key)}", timeout=10)
    assert response.status_code == 200, response.text
    answer = ET.fromstring(response.text)
    assert answer.findtext("Status") == "Success", response.text
    return answer


def uploaded_video(base: str, key: str, path: Path) -> str:
    """media/upload, the file to its UploadUrl, then the server's own worker transcodes it."""
    answer = httpx.get(
        f"{base}/api/media/upload", params={"apikey": key, "title": "Lesson 1", "format": "json"}
    ).json()
    with path.open("rb") as handle:
        sent = httpx.post(
            answer["UploadUrl"].replace(PUBLIC, base), files={"file": (path.name, handle)}, timeout=60
        )
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 90
    while True:
        status = httpx.get(
            f"{base}/api/media/info", params={"apikey": key, "code": answer["Code"], "format": "json"}
        ).json()["MediaStatus"]
        if status == "Done":
            return str(answer["Code"])
        assert status in ("Uploading", "Processing") and time.monotonic() < deadline, status
        time.sleep(0.3)


def expired(moment: str) -> bool:
    return moment != NEVER and datetime.strptime(moment, "%Y-%m-%d %H:%M:%S") < datetime.now(UTC).replace(
        tzinfo=None
    )


def test_a_moodle_shop_flow_works_with_only_the_base_url_changed(
    tmp_path: Path, media_files: dict[str, Path]
) -> None:
    env = podium_env(tmp_path / "var", PODIUM_JANUS="off")
    key = str(podium_json(env, "admin", "bootstrap")["boomstream_apikey"])
    with running_server(env) as base:
        media = uploaded_video(base, key, media_files["small"])

        # The shop sets up its subscription from the reference's samples, word for word.
        created = xml_call(
            base,
            key,
            "ppv/create?apikey=[API_KEY]&name=ppv&type=group&cost=100.00&period=1&description=some%20ftext",
        )
        code = str(created.findtext("Items/Item/Code"))
        assert created.findtext("Items/Item/SubscriptionType") == "subscription"
        added = xml_call(base, key, f"ppv/addmedia?apikey=[API_KEY]&code={code}&media={media}")
        assert added.findtext("Medias/Item/Transcodes/Item/AppleHLS"), "the sample's media object"
        listed = xml_call(base, key, f"ppv/listmedia?apikey=[API_KEY]&code={code}")
        assert listed.findtext("Medias/Item/Code") == media
        # The seller allows two devices per password (read back by the plugin through ppv/info).
        xml_call(base, key, f"ppv/update?apikey=[API_KEY]&code={code}&activation=2")

        # A student opens the course page: the plugin registers them with its own password.
        hash_ = f"moodle.example.org|42|{media}"
        params = {
            "format": "json",
            "apikey": key,
            "code": code,
            "media": media,
            "email": "student@example.org",
            "notification": 0,
            "hash": hash_,
        }
        first = php_call(base, "addbuyer", params)
        assert first is not None and first["Status"] == "Success", first
        assert first["Hash"] == hash_
        assert first["Recovery"].startswith(f"{PUBLIC}/watch/s/{code}#access=")
        assert not expired(first["AccessExpirationDate"]), first["AccessExpirationDate"]

        # The page is rendered again: the same buyer, the same password, no second buyer.
        again = php_call(base, "addbuyer", params)
        assert again is not None and again["Status"] == "Success", again
        assert (again["Hash"], again["DatePurchase"]) == (hash_, first["DatePurchase"])
        buyers = httpx.get(
            f"{base}/api/ppv/listbuyers",
            params={"apikey": key, "code": code, "media": media, "ver": "1.1", "format": "json"},
        ).json()["Items"]
        assert [b["Hash"] for b in buyers] == [hash_]

        # The plugin's check: ppv/info by email and hash, read as Items['Item'].
        info = php_call(base, "info", params)
        assert info is not None and info["Status"] == "Success", info
        item = info["Items"]["Item"]
        assert (item["Activation"], item["Period"]) == (2, 1)
        assert item["AccessExpirationDate"] == first["AccessExpirationDate"]
        # …and, when it decides to, updatebuyer with everything it sent plus the activation.
        updated = php_call(base, "updatebuyer", {**params, "activation": item["Activation"]})
        assert updated is not None and updated["Message"] == "Recovery code is updated", updated

        # The player page takes the shop's password.
        session = httpx.post(
            f"{base}/watch/{media}/session", json={"device": "f" * 32, "password": hash_}, timeout=10
        )
        assert session.status_code == 200, session.text
        assert session.json()["src"].endswith("/master.m3u8")
