"""LiveMinutes: the eight methods, Basic auth, form and JSON bodies, URLs, cancellation, quotas."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from podium.app import create_app
from tests.conftest import make_settings
from tests.edges.liveminutes.helpers import failed, lm, ok
from tests.fixtures.golden import assert_golden
from tests.fixtures.tenants import TenantFactory

BASE = "http://podium.test"


def test_golden_answers_of_every_method(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    created = client.post(
        "/liveminutes/createMeeting",
        data={
            "meetingKey": "kjhgngf",
            "hostid": "host-1",
            "title": "Demo",
            "time": "2026-12-01 10:00:00",
            "duration": "45",
            "hostnickname": "Hana",
            "hostemail": "hana@example.com",
            "lang": "en",
        },
        auth=tenant.basic,
    )
    body = ok(created.json())
    replacements = {body["meetingUrl"]: "<meeting-url>", body["hostUrl"]: "<host-url>"}
    assert_golden("liveminutes/createMeeting.json", created.text, replacements)
    added = client.post(
        "/liveminutes/addParticipant",
        data={"meetingKey": "kjhgngf", "puid": "u-123", "nickname": "Uma", "email": "uma@example.com"},
        auth=tenant.basic,
    )
    replacements[ok(added.json())["participantUrl"]] = "<participant-url>"
    assert_golden("liveminutes/addParticipant.json", added.text, replacements)
    for method, data in [
        ("getParticipantUrl", {"meetingKey": "kjhgngf", "puid": "u-123"}),
        ("getMeetingUrl", {"meetingKey": "kjhgngf"}),
        ("getMeetingStatus", {"meetingKey": "kjhgngf"}),
        ("getParticipantStatus", {"meetingKey": "kjhgngf", "puid": "u-123"}),
        ("cancelParticipant", {"meetingKey": "kjhgngf", "puid": "u-123"}),
        ("cancelMeeting", {"meetingKey": "kjhgngf"}),
        ("getMeetingUrl", {"meetingKey": "kjhgngf"}),
    ]:
        response = client.post(f"/liveminutes/{method}", data=data, auth=tenant.basic)
        suffix = "-after-cancel" if method == "getMeetingUrl" and "cancelMeeting" in replacements else ""
        assert_golden(f"liveminutes/{method}{suffix}.json", response.text, replacements)
        if method == "cancelMeeting":
            replacements["cancelMeeting"] = "cancelMeeting"


def test_meeting_flow_and_urls(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    meeting = ok(
        lm(
            client,
            tenant,
            "createMeeting",
            meetingKey="abc",
            hostid="h1",
            title="Kickoff",
            hostnickname="Hugo",
        )
    )
    assert meeting["meetingKey"] == "abc"
    assert meeting["meetingUrl"].startswith(f"{BASE}/m/")
    assert meeting["hostUrl"].startswith(f"{BASE}/e/LIVE")
    first = ok(lm(client, tenant, "addParticipant", meetingKey="abc", puid="123", nickname="Ann"))
    second = ok(lm(client, tenant, "addParticipant", meetingKey="abc", puid="456"))
    assert first["participantUrl"] != second["participantUrl"]
    assert len(first["participantUrl"].rsplit("/", 1)[1]) == 24
    # Adding the same puid again updates it and keeps its URL.
    again = ok(lm(client, tenant, "addParticipant", meetingKey="abc", puid="123", nickname="Anna"))
    assert again["participantUrl"] == first["participantUrl"]
    assert (
        ok(lm(client, tenant, "getParticipantUrl", meetingKey="abc", puid="123"))["participantUrl"]
        == first["participantUrl"]
    )
    assert ok(lm(client, tenant, "getMeetingUrl", meetingKey="abc"))["meetingUrl"] == meeting["meetingUrl"]
    assert ok(lm(client, tenant, "getMeetingStatus", meetingKey="abc"))["status"] == "1"
    assert ok(lm(client, tenant, "getParticipantStatus", meetingKey="abc", puid="456"))["status"] == "2"

    host_page = client.get(meeting["hostUrl"].removeprefix(BASE))
    assert host_page.status_code == 200
    assert 'id="participant-name">Hugo</strong>' in host_page.text
    assert 'id="participant-role">host</span>' in host_page.text
    guest_page = client.get(meeting["meetingUrl"].removeprefix(BASE))
    assert guest_page.status_code == 200
    assert 'id="display-name"' in guest_page.text and 'id="participant-role">guest</span>' in guest_page.text
    participant_page = client.get(first["participantUrl"].removeprefix(BASE))
    assert 'id="participant-name">Anna</strong>' in participant_page.text

    ok(lm(client, tenant, "cancelParticipant", meetingKey="abc", puid="123"))
    assert client.get(first["participantUrl"].removeprefix(BASE)).status_code == 410
    failed(lm(client, tenant, "getParticipantUrl", meetingKey="abc", puid="123"), "not found")
    failed(lm(client, tenant, "getParticipantStatus", meetingKey="abc", puid="123"), "not found")
    failed(lm(client, tenant, "cancelParticipant", meetingKey="abc", puid="123"), "not found")
    # Re-adding a cancelled participant gives a new URL; the old one stays dead.
    readded = ok(lm(client, tenant, "addParticipant", meetingKey="abc", puid="123"))
    assert readded["participantUrl"] != first["participantUrl"]
    assert client.get(first["participantUrl"].removeprefix(BASE)).status_code == 404

    ok(lm(client, tenant, "cancelMeeting", meetingKey="abc"))
    for url in (meeting["meetingUrl"], meeting["hostUrl"], second["participantUrl"]):
        assert client.get(url.removeprefix(BASE)).status_code == 410
    failed(lm(client, tenant, "getMeetingUrl", meetingKey="abc"), "not found")
    failed(lm(client, tenant, "cancelMeeting", meetingKey="abc"), "not found")
    # The key of a cancelled meeting can be used again.
    assert ok(lm(client, tenant, "createMeeting", meetingKey="abc", hostid="h1"))["meetingKey"] == "abc"


def test_meeting_key_unique_per_account_and_generated_when_empty(
    client: TestClient, tenants: TenantFactory
) -> None:
    a, b = tenants(), tenants()
    ok(lm(client, a, "createMeeting", meetingKey="same", hostid="h"))
    failed(lm(client, a, "createMeeting", meetingKey="same", hostid="h"), "already exists")
    ok(lm(client, b, "createMeeting", meetingKey="same", hostid="h"))  # another account: fine
    generated = ok(lm(client, a, "createMeeting", meetingKey="", hostid="h"))["meetingKey"]
    omitted = ok(lm(client, a, "createMeeting", hostid="h"))["meetingKey"]
    assert generated and omitted and generated != omitted


def test_json_bodies_are_accepted(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.post(
        "/liveminutes/createMeeting",
        json={"meetingKey": "j1", "hostid": 42, "duration": 30.5},
        auth=tenant.basic,
    )
    assert ok(response.json())["meetingKey"] == "j1"


def test_method_names_are_case_insensitive(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.post("/liveminutes/CREATEMEETING", data={"hostid": "h"}, auth=tenant.basic)
    ok(response.json())


def test_authentication(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    missing = client.post("/liveminutes/getMeetingUrl", data={"meetingKey": "x"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    failed(missing.json(), "authentication required")
    wrong = client.post(
        "/liveminutes/getMeetingUrl", data={"meetingKey": "x"}, auth=(tenant.liveminutes_account_sid, "wrong")
    )
    assert wrong.status_code == 401
    failed(wrong.json(), "invalid credentials")
    unknown = client.post("/liveminutes/getMeetingUrl", data={"meetingKey": "x"}, auth=("ACnope", "x"))
    assert unknown.status_code == 401
    garbage = client.post(
        "/liveminutes/getMeetingUrl", data={"meetingKey": "x"}, headers={"Authorization": "Basic !!!"}
    )
    assert garbage.status_code == 401
    failed(garbage.json(), "malformed")
    no_colon = client.post(
        "/liveminutes/getMeetingUrl",
        data={"meetingKey": "x"},
        headers={"Authorization": "Basic " + base64.b64encode(b"justsid").decode()},
    )
    assert no_colon.status_code == 401
    # The Boomstream key is not a LiveMinutes credential.
    other_kind = client.post(
        "/liveminutes/getMeetingUrl",
        data={"meetingKey": "x"},
        auth=(tenant.boomstream_apikey, tenant.boomstream_apikey),
    )
    assert other_kind.status_code == 401


def test_unsupported_http_method_answers_in_dialect(client: TestClient) -> None:
    response = client.get("/liveminutes/createMeeting")
    assert response.status_code == 405
    assert response.json()["resultcode"] == 0


BAD_INPUT: list[tuple[str, dict[str, str], str]] = [
    ("createMeeting", {}, "Parameter 'hostid' is required"),
    ("createMeeting", {"hostid": "h" * 51}, "hostid is longer than 50"),
    ("createMeeting", {"hostid": "h", "meetingKey": "k" * 101}, "meetingKey is longer"),
    ("createMeeting", {"hostid": "h", "time": "tomorrow"}, "yyyy-MM-dd HH:mm:ss"),
    ("createMeeting", {"hostid": "h", "duration": "long"}, "duration must be a number"),
    ("createMeeting", {"hostid": "h", "duration": "-5"}, "duration must be between"),
    ("createMeeting", {"hostid": "h", "title": "t" * 256}, "title is longer"),
    ("createMeeting", {"hostid": "h", "hostemail": "not-mail"}, "hostemail is not a valid address"),
    ("createMeeting", {"hostid": "h", "meetingKey": "existing"}, "already exists"),
    ("addParticipant", {"meetingKey": "existing"}, "Parameter 'puid' is required"),
    ("addParticipant", {"meetingKey": "existing", "puid": "p" * 51}, "puid is longer than 50"),
    ("addParticipant", {"meetingKey": "existing", "puid": "p", "email": "bad"}, "valid address"),
    ("addParticipant", {"meetingKey": "nope", "puid": "p"}, "Meeting not found"),
    ("addParticipant", {"puid": "p"}, "Parameter 'meetingKey' is required"),
    ("getParticipantUrl", {"meetingKey": "existing", "puid": "ghost"}, "Participant not found"),
    ("getMeetingUrl", {"meetingKey": "nope"}, "Meeting not found"),
    ("cancelMeeting", {}, "Parameter 'meetingKey' is required"),
    ("cancelParticipant", {"meetingKey": "existing"}, "Parameter 'puid' is required"),
    ("getMeetingStatus", {"meetingKey": "nope"}, "Meeting not found"),
    ("getParticipantStatus", {"meetingKey": "existing", "puid": "ghost"}, "Participant not found"),
]


@pytest.mark.parametrize(("method", "data", "message"), BAD_INPUT)
def test_bad_input_fails_and_writes_nothing(
    client: TestClient, tenants: TenantFactory, method: str, data: dict[str, str], message: str
) -> None:
    tenant = tenants()
    ok(lm(client, tenant, "createMeeting", meetingKey="existing", hostid="h", title="T"))
    ok(lm(client, tenant, "addParticipant", meetingKey="existing", puid="keep"))
    before = client.get(
        "/api/conference/list", params={"apikey": tenant.boomstream_apikey, "format": "json"}
    ).json()
    failed(lm(client, tenant, method, **data), message)
    after = client.get(
        "/api/conference/list", params={"apikey": tenant.boomstream_apikey, "format": "json"}
    ).json()
    assert after["conferences"] == before["conferences"]
    ok(lm(client, tenant, "getParticipantUrl", meetingKey="existing", puid="keep"))


@pytest.fixture
def small_quota_client(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(data_dir, database_url, quota_conferences=2, quota_users=3)
    with TestClient(create_app(settings)) as client:
        yield client


def test_quotas_fail_cleanly(small_quota_client: TestClient, tenants: TenantFactory) -> None:
    client, tenant = small_quota_client, tenants()
    ok(lm(client, tenant, "createMeeting", meetingKey="m1", hostid="host"))
    ok(lm(client, tenant, "createMeeting", meetingKey="m2", hostid="host"))
    failed(lm(client, tenant, "createMeeting", meetingKey="m3", hostid="host"), "session limit reached")
    # Users: the host plus two participants fill a quota of three; the same person again is free.
    ok(lm(client, tenant, "addParticipant", meetingKey="m1", puid="u1"))
    ok(lm(client, tenant, "addParticipant", meetingKey="m1", puid="u2"))
    ok(lm(client, tenant, "addParticipant", meetingKey="m2", puid="u1"))
    failed(lm(client, tenant, "addParticipant", meetingKey="m2", puid="u3"), "user limit reached")
    failed(lm(client, tenant, "getParticipantUrl", meetingKey="m2", puid="u3"), "not found")
    # Cancelling frees room.
    ok(lm(client, tenant, "cancelMeeting", meetingKey="m2"))
    ok(lm(client, tenant, "createMeeting", meetingKey="m3", hostid="host"))
    ok(lm(client, tenant, "cancelParticipant", meetingKey="m1", puid="u2"))
    ok(lm(client, tenant, "addParticipant", meetingKey="m3", puid="u3"))
