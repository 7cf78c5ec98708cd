"""Real rooms: two headless Chromiums with fake cameras join one conference by links of two different
dialects through Janus, each receives the other's video, and presence drives the statuses."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import LiveServer
from tests.fixtures.tenants import TenantFactory


def _wait(condition: Any, timeout: float = 30.0, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {message}")


def _lm(server: LiveServer, tenant: Any, method: str, **data: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(
        f"{server.base_url}/liveminutes/{method}", data=data, auth=tenant.basic
    ).json()
    return body


@pytest.fixture
def pages(browser: Any) -> Any:
    opened = [browser.new_page(), browser.new_page()]
    yield opened
    for page in opened:
        page.close()


def _inbound(page: Any) -> int:
    return int(page.evaluate("window.podium.inboundVideoBytes()"))


def test_two_dialects_one_room(live_server: LiveServer, pages: Any, tenants: TenantFactory) -> None:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    tenant = tenants()
    meeting = _lm(
        live_server, tenant, "createMeeting", meetingKey="room-test", hostid="h1", title="Room test"
    )
    participant = _lm(
        live_server, tenant, "addParticipant", meetingKey="room-test", puid="p1", nickname="Pat"
    )
    code = httpx.get(
        f"{live_server.base_url}/api/conference/list",
        params={"apikey": tenant.boomstream_apikey, "format": "json"},
    ).json()["conferences"][0]["code"]
    invite = httpx.get(
        f"{live_server.base_url}/api/conference/invite",
        params={
            "apikey": tenant.boomstream_apikey,
            "code": code,
            "email": "bea@example.com",
            "name": "Bea",
            "format": "json",
        },
    ).json()
    assert _lm(live_server, tenant, "getMeetingStatus", meetingKey="room-test")["status"] == "1"

    bea, pat = pages
    bea.goto(invite["inviteLink"])
    bea.click("#join")
    pat.goto(participant["participantUrl"])
    pat.click("#join")
    logs: list[str] = []
    bea.on("console", lambda m: logs.append(f"bea {m.type}: {m.text}"))
    pat.on("console", lambda m: logs.append(f"pat {m.type}: {m.text}"))
    try:
        for page in (bea, pat):
            _wait(lambda p=page: p.evaluate("window.podium.remoteCount()") >= 1, message="a remote video")
    except AssertionError:
        print(
            "STATUS", bea.locator("#room-status").inner_text(), "|", pat.locator("#room-status").inner_text()
        )
        print("\n".join(logs[-40:]))
        raise
    first = {
        name: _wait(lambda p=page: _inbound(p), message="video bytes")
        for name, page in (("bea", bea), ("pat", pat))
    }
    time.sleep(1.5)
    for name, page in (("bea", bea), ("pat", pat)):
        assert _inbound(page) > first[name], f"{name} receives no growing video"
    # Presence: both in the people list, and the statuses follow.
    _wait(lambda: bea.locator("#people li").count() == 2, message="two people")
    assert _lm(live_server, tenant, "getMeetingStatus", meetingKey="room-test")["status"] == "8"
    assert (
        _lm(live_server, tenant, "getParticipantStatus", meetingKey="room-test", puid="p1")["status"] == "10"
    )
    clients = httpx.get(
        f"{live_server.base_url}/api/conference/client/list",
        params={"apikey": tenant.boomstream_apikey, "code": code, "format": "json"},
    ).json()["Clients"]
    assert {c["name"] for c in clients} == {"Pat", "Bea"}

    # Chat travels through our signaling socket.
    bea.fill("#chat-input", "hello from Bea")
    bea.click("#chat-send")
    _wait(lambda: "hello from Bea" in pat.locator("#chat-log").inner_text(), message="chat")

    pat.click("#leave")
    _wait(
        lambda: (
            _lm(live_server, tenant, "getParticipantStatus", meetingKey="room-test", puid="p1")["status"]
            == "11"
        ),
        message="participant status 11",
    )
    _wait(lambda: bea.locator("#people li").count() == 1, message="one person left")
    bea.click("#leave")
    _wait(
        lambda: _lm(live_server, tenant, "getMeetingStatus", meetingKey="room-test")["status"] == "12",
        message="meeting status 12",
    )
    assert meeting["meetingUrl"]
