"""Boomstream lives (our extension, docs/compat.md): api/live/* shaped like api/media/*, the stream key
shown only on create and reset_key, bad input answered in Boomstream's failure format, and a live
taken like a media by the PPV and statistics methods. The RTMP side is tested end to end in
tests/e2e/test_lives.py; here the server has an external RTMP server (nothing is published)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.app import create_app
from podium.kit.ids import hash_secret
from podium.models.live import Live
from tests.conftest import make_settings
from tests.edges.boomstream.helpers import boom, failed, ok
from tests.fixtures.golden import assert_golden
from tests.fixtures.tenants import TenantFactory

INGEST = "rtmp://127.0.0.1:1935/live"


@pytest.fixture(scope="module")
def lives_client(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    """The app with lives on: an RTMP server elsewhere ("external") that calls back with a secret."""
    settings = make_settings(data_dir, database_url, rtmp="external")
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def key(lives_client: TestClient) -> str:
    return TenantFactory(lives_client.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]


def live_api(client: TestClient, method: str, key: str, **params: Any) -> dict[str, Any]:
    return ok(boom(client, method, key, **params))


def test_create_info_list_update_delete(lives_client: TestClient, key: str) -> None:
    client = lives_client
    folder = live_api(client, "media/folder/create", key, name="Shows")["Code"]
    created = live_api(client, "live/create", key, title=" Launch ", description="Day one", folder=folder)
    code = created["Code"]
    assert re.fullmatch(r"[A-Za-z0-9]{8}", code)
    assert (created["Type"], created["MediaStatus"], created["LiveStatus"]) == ("live", "Done", "waiting")
    assert (created["Title"], created["Description"], created["FolderCode"]) == ("Launch", "Day one", folder)
    assert (created["OnlineStatus"], created["RecordStatus"], created["Concurrent"]) == ("False", "False", 0)
    assert created["IngestUrl"] == INGEST
    # The stream key names the live and carries its secret; PublishKey is Boomstream's name for it.
    assert re.fullmatch(code + r"\?key=[0-9a-f]{32}", created["StreamKey"])
    assert created["PublishKey"] == created["StreamKey"]
    assert created["PlayerLink"].endswith(f"/watch/{code}")
    assert created["Adaptive"]["AppleHLS"].endswith(f"/{code}/master.m3u8")
    assert created["Transcodes"] == [] and created["DownloadLink"] == ""

    # Only the hash is kept: info shows no key.
    info = live_api(client, "live/info", key, code=code)
    assert (info["StreamKey"], info["PublishKey"], info["IngestUrl"]) == ("", "", INGEST)
    secret = created["StreamKey"].split("=", 1)[1]
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        row = session.scalar(select(Live).where(Live.key_hash == hash_secret(secret)))
        assert row is not None
        assert secret not in json.dumps({c.name: str(getattr(row, c.name)) for c in Live.__table__.columns})

    second = live_api(client, "live/create", key, title="Second")
    listed = live_api(client, "live/list", key)
    assert listed["countTotal"] == 2
    assert [item["Code"] for item in listed["Lives"]] == [second["Code"], code]  # newest first
    assert all(item["StreamKey"] == "" for item in listed["Lives"])
    page = live_api(client, "live/list", key, limit="1", offset="1")
    assert [item["Code"] for item in page["Lives"]] == [code] and page["countTotal"] == 2

    updated = live_api(client, "live/update", key, code=code, title="Launch day", folder="")
    assert (updated["Title"], updated["FolderCode"], updated["Description"]) == ("Launch day", "", "Day one")
    assert live_api(client, "live/info", key, code=code)["Title"] == "Launch day"

    assert live_api(client, "live/delete", key, code=code)["Message"] == "Live is deleted"
    failed(boom(client, "live/info", key, code=code), f"Live {code} not found")
    assert live_api(client, "live/list", key)["countTotal"] == 1


def test_reset_key_shows_a_new_key_once(lives_client: TestClient, key: str) -> None:
    created = live_api(lives_client, "live/create", key, title="Keys")
    reset = live_api(lives_client, "live/reset_key", key, code=created["Code"])
    assert reset["StreamKey"].startswith(created["Code"] + "?key=")
    assert reset["StreamKey"] != created["StreamKey"]
    assert live_api(lives_client, "live/info", key, code=created["Code"])["StreamKey"] == ""


def test_bad_input_is_refused_in_boomstream_format(lives_client: TestClient, key: str) -> None:
    client = lives_client
    failed(boom(client, "live/create", key), "Parameter 'title' is required")
    failed(boom(client, "live/create", key, title="   "), "Parameter 'title' is required")
    failed(boom(client, "live/create", key, title="x" * 256), "title")
    failed(boom(client, "live/create", key, title="A", folder="nope"), "Folder nope not found")
    failed(boom(client, "live/info", key), "Parameter 'code' is required")
    failed(boom(client, "live/info", key, code="NOPE1234"), "Live NOPE1234 not found")
    failed(boom(client, "live/list", key, limit="0"), "limit must be between 1 and 1000")
    failed(boom(client, "live/list", key, offset="-1"), "offset must be 0 or more")
    failed(boom(client, "live/list", key, limit="ten"), "Parameter 'limit' must be an integer")
    code = live_api(client, "live/create", key, title="Kept")["Code"]
    failed(boom(client, "live/update", key, code=code, title=""), "cannot be empty")
    failed(boom(client, "live/update", key, code=code, folder="nope"), "Folder nope not found")
    failed(boom(client, "live/reset_key", key, code="NOPE1234"), "not found")
    failed(boom(client, "live/delete", key, code="NOPE1234"), "not found")
    failed(boom(client, "live/create", "wrong-key", title="A"), "Invalid credentials")
    # A live is deleted as a live (its broadcast ends); media/delete refuses it.
    failed(boom(client, "media/delete", key, code=code), "is a live: delete it with live/delete")
    # XML, as every Boomstream answer.
    xml = client.get("/api/live/info", params={"apikey": key, "code": "NOPE1234"})
    assert xml.status_code == 200 and "<Status>Failed</Status>" in xml.text


def test_another_projects_live_is_not_found(lives_client: TestClient, key: str) -> None:
    other = TenantFactory(lives_client.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]
    code = live_api(lives_client, "live/create", key, title="Mine")["Code"]
    for method in ("live/info", "live/update", "live/delete", "live/reset_key"):
        failed(boom(lives_client, method, other, code=code, title="Theirs"), f"Live {code} not found")
    assert live_api(lives_client, "live/list", other)["countTotal"] == 0


def test_a_live_goes_behind_a_paywall_and_into_statistics(lives_client: TestClient, key: str) -> None:
    client = lives_client
    code = live_api(client, "live/create", key, title="Paid show")["Code"]
    subscription = live_api(
        client, "ppv/create", key, name="Show pass", subscription_type="password", period="30"
    )["Items"][0]["Code"]
    added = live_api(client, "ppv/addmedia", key, code=subscription, media=code)
    assert [(m["Code"], m["Type"]) for m in added["Medias"]] == [(code, "live")]
    listed = live_api(client, "ppv/listmedia", key, code=subscription)
    assert [m["Code"] for m in listed["Medias"]] == [code]
    assert live_api(client, "stats", key, code=code)["Items"] == []
    # Before it is on air, the watch page starts no session (the page waits and tries again).
    answer = client.post(f"/watch/{code}/session", json={})
    assert answer.status_code == 409 and answer.json()["message"] == "This live has not started yet"


def test_lives_are_refused_without_an_rtmp_server(client: TestClient, tenants: TenantFactory) -> None:
    # The suite's app runs with PODIUM_RTMP=off (as a server whose nginx-rtmp is missing does).
    key = tenants().boomstream_apikey
    failed(boom(client, "live/create", key, title="A"), "Lives are not available on this server")


LIVE_METHODS = ["live/create", "live/info", "live/list", "live/update", "live/reset_key", "live/delete"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("method", LIVE_METHODS)
def test_golden_output(lives_client: TestClient, method: str, fmt: str) -> None:
    key = TenantFactory(lives_client.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]
    created = live_api(lives_client, "live/create", key, title="Launch", description="Day one")
    code = created["Code"]
    params: dict[str, Any] = {
        "live/create": {"title": "Keynote"},
        "live/info": {"code": code},
        "live/list": {},
        "live/update": {"code": code, "title": "Launch day"},
        "live/reset_key": {"code": code},
        "live/delete": {"code": code},
    }[method]
    response = lives_client.get(f"/api/{method}", params={"apikey": key, "format": fmt, **params})
    assert response.status_code == 200
    text = re.sub(r"key=[0-9a-f]{32}", "key=<secret>", response.text)
    replacements = {key: "<apikey>", code: "<live-code>"}
    if method == "live/create":
        replacements[_top_field(response.text, fmt, "Code")] = "<new-code>"
    assert_golden(f"boomstream/{method.replace('/', '_')}.{fmt}", text, replacements)


def _top_field(text: str, fmt: str, name: str) -> str:
    from xml.etree import ElementTree as ET

    if fmt == "json":
        return str(json.loads(text)[name])
    return ET.fromstring(text).findtext(name) or ""
