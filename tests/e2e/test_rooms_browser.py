"""Real rooms: two headless Chromiums with fake cameras join one conference by links of two different
dialects through Janus, each receives the other's video, and presence drives the statuses."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import LiveServer
from tests.fixtures.tenants import TenantFactory
from tests.fixtures.waiting import wait_until

# Real browsers, real WebRTC and Janus on two loaded cores: one retry absorbs a scheduling hiccup;
# a real fault fails twice. Each run's diagnostics are printed on failure.
pytestmark = pytest.mark.flaky(reruns=1, reruns_delay=2)


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
            wait_until(
                lambda p=page: p.evaluate("window.podium.remoteCount()") >= 1, message="a remote video"
            )
    except AssertionError:
        print(
            "STATUS", bea.locator("#room-status").inner_text(), "|", pat.locator("#room-status").inner_text()
        )
        for name, page in (("bea", bea), ("pat", pat)):
            print(
                "STATE",
                name,
                page.evaluate(
                    "JSON.stringify({pub: window.podium.state.publisherId,"
                    " feeds: Object.keys(window.podium.state.feeds),"
                    " room: window.podium.state.entry && window.podium.state.entry.room})"
                ),
            )
        server = live_server.app.state.media.clients[0]  # type: ignore[attr-defined]
        print("JANUS", server.participants(bea.evaluate("window.podium.state.entry.room")))
        print("\n".join(logs[-40:]))
        raise
    first = {
        name: wait_until(lambda p=page: _inbound(p), message="video bytes")
        for name, page in (("bea", bea), ("pat", pat))
    }
    time.sleep(1.5)
    for name, page in (("bea", bea), ("pat", pat)):
        assert _inbound(page) > first[name], f"{name} receives no growing video"
    # Presence: both in the people list, and the statuses follow.
    wait_until(lambda: bea.locator("#people li").count() == 2, message="two people")
    assert _lm(live_server, tenant, "getMeetingStatus", meetingKey="room-test")["status"] == "8"
    assert (
        _lm(live_server, tenant, "getParticipantStatus", meetingKey="room-test", puid="p1")["status"] == "10"
    )
    clients = httpx.get(
        f"{live_server.base_url}/api/conference/client/list",
        params={"apikey": tenant.boomstream_apikey, "code": code, "format": "json"},
    ).json()["Clients"]
    assert {(c["name"], c["online"]) for c in clients} == {("Pat", "yes"), ("Bea", "yes")}

    # Chat travels through our signaling socket.
    bea.fill("#chat-input", "hello from Bea")
    bea.click("#chat-send")
    wait_until(lambda: "hello from Bea" in pat.locator("#chat-log").inner_text(), message="chat")
    # Room chat is kept with the conference (its detail output and summary show it).
    from podium.domain.chat.service import ChatService
    from podium.models.conference import Conference

    with live_server.app.state.sessions() as session:  # type: ignore[attr-defined]
        stored = session.query(Conference).filter_by(code=code).one()
        kept = [(m.sender, m.content) for m in ChatService(session).messages(conference_id=stored.id)]
    assert kept == [("Bea", "hello from Bea")]

    pat.click("#leave")
    wait_until(
        lambda: (
            _lm(live_server, tenant, "getParticipantStatus", meetingKey="room-test", puid="p1")["status"]
            == "11"
        ),
        message="participant status 11",
    )
    wait_until(lambda: bea.locator("#people li").count() == 1, message="one person left")
    bea.click("#leave")
    wait_until(
        lambda: _lm(live_server, tenant, "getMeetingStatus", meetingKey="room-test")["status"] == "12",
        message="meeting status 12",
    )
    assert meeting["meetingUrl"]


def test_system_messages_and_end_reach_the_room(
    live_server: LiveServer, pages: Any, tenants: TenantFactory
) -> None:
    from tests.fixtures.iotum import World, api

    media = live_server.app.state.media.clients[0]  # type: ignore[attr-defined]
    client = _Api(live_server)
    world = _world(live_server)
    world.subscribe(world.company_id, "small_plan")
    host = world.new_host(world.company_id)
    live = api(client, "conference/create/reservationless", world.home.ra, host_id=host).json()  # type: ignore[arg-type]
    page = pages[0]
    page.goto(live["room_url"])
    page.fill("#display-name", "Guest One")
    page.click("#join")
    wait_until(lambda: page.locator("#people li").count() == 1, message="in the room")
    assert api(
        client,
        "conference/message/create",
        world.home.ra,
        conference_id=live["conference_id"],  # type: ignore[arg-type]
        message="Five minutes left",
    ).json() == {"message": "OK"}
    wait_until(
        lambda: "Five minutes left" in page.locator("#chat-log").inner_text(), message="the system message"
    )
    assert "System" in page.locator("#chat-log .system").inner_text()
    from podium.domain.chat.service import ChatService

    with world.sessions() as session:
        ChatService(session).create_room(world.company_id, "channel", slug="news")
        session.commit()
    assert api(
        client,
        "chat/create",
        world.home.ra,
        company_id=world.company_id,
        slug="news",
        message="Office closed Friday",
    ).json() == {"message": "OK"}
    wait_until(
        lambda: "Office closed Friday" in page.locator("#chat-log").inner_text(),
        message="the channel message",
    )
    active = api(client, "host/cdrs", world.home.ra, host_id=host).json()  # type: ignore[arg-type]
    assert [row["participant_name"] for row in active] == ["Guest One"]
    from podium.models.conference import Conference

    with world.sessions() as session:
        room = session.get(Conference, live["conference_id"]).media_room  # type: ignore[union-attr]
    assert room is not None and media.room_exists(room)
    assert api(client, "conference/end", world.home.ra, conference_id=live["conference_id"]).json() == {  # type: ignore[arg-type]
        "message": "OK"
    }
    wait_until(
        lambda: "ended" in page.locator("#room-status").inner_text(), message="the end reaches the page"
    )
    wait_until(lambda: not media.room_exists(room), message="the media room destroyed")
    assert isinstance(world, World)


class _Api:
    """An httpx client against the live server, shaped like the TestClient the helpers expect."""

    def __init__(self, server: LiveServer) -> None:
        self.http = httpx.Client(base_url=server.base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, **kwargs)


def _world(server: LiveServer) -> Any:
    from tests.fixtures.iotum import build_world

    return build_world(_WorldClient(server))  # type: ignore[arg-type]


class _WorldClient(_Api):
    @property
    def app(self) -> Any:
        return self._app

    def __init__(self, server: LiveServer) -> None:
        super().__init__(server)
        self._app = server.app


def test_a_vanished_browser_is_recorded_as_left(live_server: LiveServer, tenants: TenantFactory) -> None:
    import json

    from websockets.sync.client import connect

    tenant = tenants()
    _lm(live_server, tenant, "createMeeting", meetingKey="vanish", hostid="h")
    url = _lm(live_server, tenant, "addParticipant", meetingKey="vanish", puid="ghost")["participantUrl"]
    page = httpx.get(url).text
    ticket = page.split('data-ticket="', 1)[1].split('"', 1)[0]
    entry = httpx.post(f"{live_server.base_url}/rooms/enter", json={"ticket": ticket}).json()
    settings = live_server.app.state.settings  # type: ignore[attr-defined]
    settings.room_idle_seconds = 1.0
    try:
        with connect(live_server.base_url.replace("http://", "ws://") + "/rooms/ws") as socket:
            socket.send(json.dumps({"type": "hello", "version": 1, "key": entry["socket_key"]}))
            welcome = json.loads(socket.recv(timeout=5))
            assert (
                _lm(live_server, tenant, "getParticipantStatus", meetingKey="vanish", puid="ghost")["status"]
                == "10"
            )
            # Then nothing: no ping, no leave. The server gives up on this browser.
            wait_until(
                lambda: (
                    _lm(live_server, tenant, "getParticipantStatus", meetingKey="vanish", puid="ghost")[
                        "status"
                    ]
                    == "11"
                ),
                timeout=10,
                message="timed out as left",
            )
    finally:
        settings.room_idle_seconds = 30.0
    assert welcome["type"] == "welcome" and welcome["you"]["name"] == "ghost"


def test_protocol_errors_close_the_socket(live_server: LiveServer) -> None:
    import json

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    def speak(first: dict[str, Any]) -> int:
        with connect(live_server.base_url.replace("http://", "ws://") + "/rooms/ws") as socket:
            socket.send(json.dumps(first))
            try:
                socket.recv(timeout=5)
            except ConnectionClosed as closed:
                return int(closed.rcvd.code) if closed.rcvd else 0
        return 0

    assert speak({"type": "chat", "text": "hi"}) == 4400
    assert speak({"type": "hello", "version": 99, "key": "x"}) == 4400
    assert speak({"type": "hello", "version": 1, "key": "forged"}) == 4403


def _iotum_room(live_server: LiveServer, **host_fields: Any) -> tuple[Any, dict[str, Any]]:
    from tests.fixtures.iotum import api

    world = _world(live_server)
    world.subscribe(world.company_id, "large_plan")
    host = world.new_host(world.company_id, plan_slug="large_plan", **host_fields)
    return world, {"host": host, "api": api, "client": _Api(live_server)}


def test_waiting_room_admit_and_remove(live_server: LiveServer, browser: Any) -> None:
    world, ctx = _iotum_room(live_server, waiting_room=True)
    api, client = ctx["api"], ctx["client"]
    live = api(client, "conference/create/reservationless", world.home.ra, host_id=ctx["host"]).json()
    guest, moderator = browser.new_page(), browser.new_page()
    try:
        guest.goto(live["room_url"])
        guest.fill("#display-name", "Walk-in")
        guest.click("#join")
        wait_until(
            lambda: "Waiting for a moderator" in guest.locator("#room-status").inner_text(), message="waiting"
        )
        moderator.goto(f"{live['room_url']}?moderator_token={live['moderator_token']}")
        assert moderator.locator("#participant-role").inner_text().lower() == "moderator"
        moderator.fill("#display-name", "Mod")
        moderator.click("#join")
        wait_until(lambda: moderator.locator("#people button.admit").count() == 1, message="the knock")
        # Not admitted yet: no attendance, no media.
        cdrs = api(client, "host/cdrs", world.home.ra, host_id=ctx["host"]).json()
        assert [c["participant_name"] for c in cdrs] == ["Mod"]
        moderator.click("#people button.admit")
        wait_until(
            lambda: guest.evaluate("window.podium.remoteCount()") >= 1, message="the guest sees the moderator"
        )
        wait_until(
            lambda: moderator.evaluate("window.podium.remoteCount()") >= 1,
            message="the moderator sees the guest",
        )
        wait_until(lambda: moderator.locator("#people button.mute").count() == 1, message="mute button")
        moderator.click("#people button.mute")
        wait_until(lambda: "muted by Mod" in guest.locator("#chat-log").inner_text(), message="the mute")
        assert guest.locator("#toggle-audio").inner_text() == "Unmute"
        moderator.click("#people button.remove")
        wait_until(
            lambda: "removed from the meeting" in guest.locator("#chat-log").inner_text(),
            message="the removal",
        )
        wait_until(
            lambda: all(
                c["end_time"]
                for c in api(client, "host/cdrs", world.home.ra, host_id=ctx["host"]).json()
                if c["participant_name"] == "Walk-in"
            ),
            message="the guest recorded as left",
        )
        moderator.click("#end-meeting")
        wait_until(lambda: "ended" in moderator.locator("#room-status").inner_text(), message="meeting ended")
        fetched = api(client, "conference/fetch", world.home.ra, conference_id=live["conference_id"]).json()
        assert fetched["active"] is False
    finally:
        guest.close()
        moderator.close()


def test_presentation_mode_blocks_participants_at_the_server(live_server: LiveServer, browser: Any) -> None:
    world, ctx = _iotum_room(live_server)
    api, client = ctx["api"], ctx["client"]
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400 * 3))
    conference = api(
        client,
        "conference/create",
        world.home.ra,
        host_id=ctx["host"],
        subject="Keynote",
        start=f"{day} 10:00:00",
        time_zone="UTC",
        duration=60,
        mute_mode="presentation",
        one_time_access_code=True,
    ).json()
    presenter, audience = browser.new_page(), browser.new_page()

    def pretend_allowed(route: Any) -> None:
        # A tampered page: it claims it may publish. The server must still keep it unseen.
        response = route.fetch()
        body = response.json()
        body["may_publish"] = True
        route.fulfill(response=response, json=body)

    try:
        audience.route("**/rooms/enter", pretend_allowed)
        presenter.goto(f"{conference['room_url']}?moderator_token={conference['moderator_token']}")
        presenter.fill("#display-name", "Speaker")
        presenter.click("#join")
        audience.goto(conference["room_url"])
        audience.fill("#display-name", "Listener")
        audience.click("#join")
        wait_until(
            lambda: audience.evaluate("window.podium.remoteCount()") >= 1,
            message="the audience sees the speaker",
        )
        wait_until(lambda: _inbound(audience), message="speaker video bytes")
        time.sleep(3)
        before = _inbound(presenter)
        time.sleep(2)
        assert _inbound(presenter) - before < 2000, "the participant's video reached the presenter"
        # Meanwhile the speaker still reaches the audience (a loaded machine may pause a second or two).
        grown = _inbound(audience)
        wait_until(lambda: _inbound(audience) > grown, 10, "the speaker's video still flowing")
    finally:
        presenter.close()
        audience.close()


def test_the_signed_in_host_joins_as_host_and_is_on_an_active_call(
    live_server: LiveServer, browser: Any
) -> None:
    from tests.fixtures.iotum import PASSWORD

    email = f"host-{int(time.time() * 1000)}@example.com"
    world, ctx = _iotum_room(live_server, email=email, password=PASSWORD)
    api, client = ctx["api"], ctx["client"]
    page = browser.new_page()
    try:
        page.goto(f"{live_server.base_url}/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        meeting_url = api(client, "host/fetch", world.home.ra, host_id=ctx["host"]).json()["meeting_url"]
        page.goto(meeting_url)
        assert page.locator("#participant-role").inner_text().lower() == "host"
        page.click("#join")
        wait_until(
            lambda: api(client, "host/active_calls", world.home.ra, host_id=ctx["host"]).json(),
            message="the host on an active call",
        )
        page.click("#leave")
        wait_until(
            lambda: not api(client, "host/active_calls", world.home.ra, host_id=ctx["host"]).json(),
            message="the call over for the host",
        )
        # The host's ad-hoc room emptied: the conference ended (conference_end fans out from this).
        summary = api(client, "host/conferences", world.home.ra, host_id=ctx["host"]).json()
        assert len(summary) == 1 and summary[0]["total_participants"] == 1
        from sqlalchemy import select

        from podium.models.audit import AuditEntry

        with world.sessions() as session:
            ended = session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "conference.ended", AuditEntry.company_id == world.company_id
                )
            ).all()
        assert [e.data.get("reason") for e in ended] == ["empty"]
    finally:
        page.close()


# The room's socket opens only once the page's own media is published (a loaded machine can finish
# the media first: both start together when a visitor joins).
SOCKET_AFTER_MEDIA = """
(() => {
  const Real = window.WebSocket;
  window.WebSocket = function (url) {
    const socket = { readyState: 0, send() {}, close() { if (socket.real) socket.real.close(); } };
    const open = () => {
      if (!(window.podium && window.podium.state.published)) { setTimeout(open, 100); return; }
      const real = (socket.real = new Real(url));
      socket.send = (data) => real.send(data);
      real.onopen = (event) => { socket.readyState = 1; if (socket.onopen) socket.onopen(event); };
      real.onmessage = (event) => { if (socket.onmessage) socket.onmessage(event); };
      real.onerror = (event) => { if (socket.onerror) socket.onerror(event); };
      real.onclose = (event) => { socket.readyState = 3; if (socket.onclose) socket.onclose(event); };
    };
    open();
    return socket;
  };
})();
"""


def test_media_up_before_the_socket_is_still_known_to_the_server(
    live_server: LiveServer, browser: Any, tenants: TenantFactory
) -> None:
    """The server learns which media publisher is the page's (for moderation, the recording's stage
    and the transcript's speaker names) even when the page published before its socket opened."""
    from sqlalchemy import select

    from podium.models.activity import Attendance

    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    tenant = tenants()
    name = f"Lee {tenant.company_id}"
    _lm(live_server, tenant, "createMeeting", meetingKey="late-socket", hostid="h")
    url = _lm(live_server, tenant, "addParticipant", meetingKey="late-socket", puid="p", nickname=name)[
        "participantUrl"
    ]
    page = browser.new_page()
    try:
        page.add_init_script(SOCKET_AFTER_MEDIA)
        page.goto(url)
        page.click("#join")
        wait_until(lambda: page.evaluate("window.podium.socketOpen()"), 30, "the socket opened")
        mine = page.evaluate("window.podium.state.publisherId")
        assert mine

        def noted() -> list[int | None]:
            with live_server.app.state.sessions() as session:  # type: ignore[attr-defined]
                found = session.scalars(select(Attendance.media_publisher_id).where(Attendance.name == name))
                return list(found)

        wait_until(lambda: mine in noted(), 10, "the page's publisher noted by the server")
    finally:
        page.close()
