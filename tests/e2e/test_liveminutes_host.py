"""LiveMinutes meeting status 11 ("host quit"): the host is whoever came in by the meeting's host URL.

Every join here takes the production path a browser takes, without the browser: the lobby page of
the link (its signed ticket), ``POST /rooms/enter`` (a seat in the Janus room), then the signaling
WebSocket's hello (the join is recorded) and its ``leave`` (the leave is recorded).
"""

from __future__ import annotations

import time

import pytest

from tests.fixtures.browser import LiveServer, liveminutes_call
from tests.fixtures.rooms import in_room, wait_for
from tests.fixtures.tenants import Tenant, TenantFactory

MEETING_STATUS = {"start": "1", "in_progress": "8", "host_quit": "11", "finished": "12"}


def _status(server: LiveServer, tenant: Tenant, key: str) -> str:
    return str(liveminutes_call(server, tenant, "getMeetingStatus", meetingKey=key)["status"])


def _participant_status(server: LiveServer, tenant: Tenant, key: str, puid: str) -> str:
    return str(liveminutes_call(server, tenant, "getParticipantStatus", meetingKey=key, puid=puid)["status"])


def _eventually(server: LiveServer, tenant: Tenant, key: str, expected: str) -> None:
    """Leaves are recorded when the server's socket handler finishes: wait for the status."""
    deadline = time.monotonic() + 15
    while (current := _status(server, tenant, key)) != expected:
        assert time.monotonic() < deadline, f"meeting status stayed {current}, expected {expected}"
        time.sleep(0.1)


def _people(server: LiveServer, tenant: Tenant, key: str) -> int:
    """How many distinct people the meeting's attendance counts (as reports and summaries do)."""
    from sqlalchemy import select

    from podium.domain.attendance.service import AttendanceService
    from podium.models.conference import Conference

    with server.app.state.sessions() as session:  # type: ignore[attr-defined]
        conference = session.scalars(
            select(Conference).where(
                Conference.company_id == tenant.company_id, Conference.meeting_key == key
            )
        ).one()
        return AttendanceService(session).usage([conference])[0].total_participants()


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    return live_server


def test_host_without_nickname_quits_while_a_guest_stays(server: LiveServer, tenants: TenantFactory) -> None:
    tenant = tenants()
    meeting = liveminutes_call(
        server, tenant, "createMeeting", meetingKey="no-nick", hostid="h1", title="No nickname"
    )
    assert _status(server, tenant, "no-nick") == MEETING_STATUS["start"]
    with in_room(server.base_url, meeting["meetingUrl"], name="Gus") as (_, guest):
        assert guest["you"]["role"] == "guest"
        with in_room(server.base_url, meeting["hostUrl"]) as (_, host):
            # Presence shows the host as the host, though it has no name of its own.
            assert (host["you"]["name"], host["you"]["role"]) == ("Host", "host")
            assert _status(server, tenant, "no-nick") == MEETING_STATUS["in_progress"]
        _eventually(server, tenant, "no-nick", MEETING_STATUS["host_quit"])
        # A guest who calls itself "Host" does not bring the host back.
        with in_room(server.base_url, meeting["meetingUrl"], name="Host") as (_, impostor):
            assert impostor["you"]["role"] == "guest"
            assert _status(server, tenant, "no-nick") == MEETING_STATUS["host_quit"]
    _eventually(server, tenant, "no-nick", MEETING_STATUS["finished"])
    assert _people(server, tenant, "no-nick") == 3  # Gus, the host and the guest named "Host"


def test_a_guest_typing_the_hosts_name_is_not_the_host(server: LiveServer, tenants: TenantFactory) -> None:
    tenant = tenants()
    meeting = liveminutes_call(
        server, tenant, "createMeeting", meetingKey="nick", hostid="h1", hostnickname="Hana"
    )
    # Without a nickname the host link shows "Host": a guest may type that too.
    plain = liveminutes_call(server, tenant, "createMeeting", meetingKey="plain", hostid="h2")
    for key, url, impostor_name in (
        ("nick", meeting["meetingUrl"], "Hana"),
        ("plain", plain["meetingUrl"], "Host"),
    ):
        with in_room(server.base_url, url, name="Gus") as (gus, _):
            with in_room(server.base_url, url, name=impostor_name) as (_, impostor):
                assert (impostor["you"]["name"], impostor["you"]["role"]) == (impostor_name, "guest")
                assert _status(server, tenant, key) == MEETING_STATUS["in_progress"]
            # Gus hears that the impostor left once its leave is recorded ...
            assert wait_for(gus, "left")["participant"]["name"] == impostor_name
            # ... and stays: the host never came, so the meeting is simply in progress.
            assert _status(server, tenant, key) == MEETING_STATUS["in_progress"]
        _eventually(server, tenant, key, MEETING_STATUS["finished"])


def test_host_with_nickname_quits_and_comes_back(server: LiveServer, tenants: TenantFactory) -> None:
    tenant = tenants()
    meeting = liveminutes_call(
        server, tenant, "createMeeting", meetingKey="nick", hostid="h1", hostnickname="Hana"
    )
    pat = liveminutes_call(server, tenant, "addParticipant", meetingKey="nick", puid="p1", nickname="Hana")[
        "participantUrl"
    ]
    with in_room(server.base_url, pat) as (_, participant):
        # A participant who shares the host's name came by a participant URL: a participant.
        assert (participant["you"]["name"], participant["you"]["role"]) == ("Hana", "participant")
        assert _participant_status(server, tenant, "nick", "p1") == "10"
        with in_room(server.base_url, meeting["hostUrl"]) as (_, host):
            assert (host["you"]["name"], host["you"]["role"]) == ("Hana", "host")
            assert {(p["name"], p["role"]) for p in host["participants"]} == {
                ("Hana", "participant"),
                ("Hana", "host"),
            }
        _eventually(server, tenant, "nick", MEETING_STATUS["host_quit"])
        assert _participant_status(server, tenant, "nick", "p1") == "10"
        # The host comes back by its link: in progress again.
        with in_room(server.base_url, meeting["hostUrl"]):
            assert _status(server, tenant, "nick") == MEETING_STATUS["in_progress"]
        _eventually(server, tenant, "nick", MEETING_STATUS["host_quit"])
    _eventually(server, tenant, "nick", MEETING_STATUS["finished"])
    assert _participant_status(server, tenant, "nick", "p1") == "11"
