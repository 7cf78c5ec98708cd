"""A moderator's "remove" keeps the removed seat out: its page's resume key is refused, and so is a
personal link's participant; a guest of a shared link can come back through the link (a new seat).

The production path a browser takes, without the browser: the lobby page's ticket, ``POST
/rooms/enter``, the signaling WebSocket's hello.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.fixtures.browser import LiveServer, liveminutes_call
from tests.fixtures.rooms import in_room, wait_for
from tests.fixtures.tenants import TenantFactory
from tests.fixtures.waiting import wait_until


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    return live_server


def _enter(server: LiveServer, link: str, name: str = "") -> httpx.Response:
    page = httpx.get(link)
    assert page.status_code == 200, page.text
    ticket = page.text.split('data-ticket="', 1)[1].split('"', 1)[0]
    return httpx.post(f"{server.base_url}/rooms/enter", json={"ticket": ticket, "name": name})


def _hello(server: LiveServer, key: str, **extra: Any) -> ClientConnection:
    socket = connect(server.base_url.replace("http://", "ws://") + "/rooms/ws")
    socket.send(json.dumps({"type": "hello", "version": 1, "key": key, **extra}))
    return socket


def _closed(socket: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def _removed_by_host(host: ClientConnection, socket: ClientConnection, welcome: dict[str, Any]) -> None:
    host.send(json.dumps({"type": "remove", "id": welcome["you"]["id"]}))
    assert wait_for(socket, "removed") == {"type": "removed", "by": "Host"}
    assert _closed(socket)[0] == 4001


def test_a_removed_seat_and_personal_link_stay_out(server: LiveServer, tenants: TenantFactory) -> None:
    tenant = tenants()
    meeting = liveminutes_call(
        server, tenant, "createMeeting", meetingKey="removal", hostid="h1", title="Removal"
    )
    pat_link = str(
        liveminutes_call(server, tenant, "addParticipant", meetingKey="removal", puid="p1", nickname="Pat")[
            "participantUrl"
        ]
    )
    with in_room(server.base_url, meeting["hostUrl"]) as (host, _):
        # A personal link's participant is removed.
        entered = _enter(server, pat_link)
        assert entered.status_code == 200, entered.text
        pat = _hello(server, entered.json()["socket_key"])
        pat_welcome = json.loads(pat.recv(timeout=10))
        assert pat_welcome["type"] == "welcome", pat_welcome
        _removed_by_host(host, pat, pat_welcome)
        # Its page's resume key (what it reconnects with after a network drop) is refused ...
        back = _hello(server, pat_welcome["key"], resume=True)
        assert _closed(back) == (4403, "A moderator removed you from this meeting")
        # ... and so is its personal link, with a new ticket from the lobby.
        again = _enter(server, pat_link)
        assert again.status_code == 403, again.text
        assert "removed you from this meeting" in again.text
        # Removed is left: the departure is recorded (the media token revoked) as the socket ends.
        wait_until(
            lambda: (
                liveminutes_call(server, tenant, "getParticipantStatus", meetingKey="removal", puid="p1")[
                    "status"
                ]
                == "11"
            ),
            15,
            "Pat recorded as quit",
        )

        # A guest of the shared link: that seat stays out; the link still gives a new seat.
        entered = _enter(server, meeting["meetingUrl"], name="Gus")
        gus = _hello(server, entered.json()["socket_key"])
        gus_welcome = json.loads(gus.recv(timeout=10))
        _removed_by_host(host, gus, gus_welcome)
        assert _closed(_hello(server, gus_welcome["key"]))[0] == 4403
        with in_room(server.base_url, meeting["meetingUrl"], name="Gus") as (_, returned):
            assert returned["you"]["id"] != gus_welcome["you"]["id"]
