"""Every way a live conference stops goes through one step (issue #11): deleted (Boomstream),
cancelled (LiveMinutes, Iotum), ended (Iotum) or its organiser's plan suspended — the people in the
room are told and disconnected, their attendance ends, and `conference_end` is recorded."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.auth.service import AuthService
from podium.domain.subscriptions.service import SubscriptionService
from podium.kit.clock import utcnow
from podium.models.audit import AuditEntry
from podium.models.conference import Conference
from podium.models.tenancy import Company, Host, Role
from tests.fixtures.browser import LiveServer
from tests.fixtures.rooms import in_room, wait_for
from tests.fixtures.tenants import TenantFactory


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    return live_server


def _sessions(server: LiveServer) -> Any:
    return server.app.state.sessions  # type: ignore[attr-defined]


def _assert_stopped(server: LiveServer, conference_id: int, reason: str) -> None:
    with _sessions(server)() as session:
        assert AttendanceRepository(session).open_for_conference(conference_id) == []
        conference = session.get(Conference, conference_id)
        assert conference is not None and conference.ended_at is not None
        ended = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "conference.ended", AuditEntry.ref == f"conference:{conference_id}"
            )
        ).all()
        assert [entry.data.get("reason") for entry in ended] == [reason]


def _stops_while_inside(server: LiveServer, link: str, stop: Callable[[], None]) -> None:
    """Someone is in the room when ``stop`` runs: the room tells them and closes their socket."""
    with in_room(server.base_url, link, name="Inside") as (socket, _):
        stop()
        assert wait_for(socket, "ended")["type"] == "ended"
        with pytest.raises(ConnectionClosed):
            while True:
                socket.recv(timeout=10)


def _conference_id(server: LiveServer, **where: Any) -> int:
    with _sessions(server)() as session:
        query = select(Conference.id)
        for column, value in where.items():
            query = query.where(getattr(Conference, column) == value)
        return int(session.scalars(query).one())


def test_boomstream_delete_of_a_live_conference(server: LiveServer, tenants: TenantFactory) -> None:
    tenant = tenants()
    api = f"{server.base_url}/api"
    params = {"apikey": tenant.boomstream_apikey, "format": "json"}
    code = httpx.get(f"{api}/conference/create", params={**params, "title": "Live"}).json()["Code"]
    link = httpx.get(
        f"{api}/conference/invite", params={**params, "code": code, "email": "ann@example.com"}
    ).json()["inviteLink"]
    conference_id = _conference_id(server, code=code)

    def delete() -> None:
        answer = httpx.get(f"{api}/conference/delete", params={**params, "code": code}).json()
        assert answer["Status"] == "Success", answer

    _stops_while_inside(server, link, delete)
    _assert_stopped(server, conference_id, "deleted")


def test_liveminutes_cancel_of_a_live_meeting(server: LiveServer, tenants: TenantFactory) -> None:
    tenant = tenants()
    base = f"{server.base_url}/liveminutes"
    meeting = httpx.post(
        f"{base}/createMeeting", data={"meetingKey": "live-cancel", "hostid": "h1"}, auth=tenant.basic
    ).json()
    conference_id = _conference_id(server, meeting_key="live-cancel", company_id=tenant.company_id)

    def cancel() -> None:
        answer = httpx.post(f"{base}/cancelMeeting", data={"meetingKey": "live-cancel"}, auth=tenant.basic)
        assert answer.json()["resultcode"] == 1, answer.text

    _stops_while_inside(server, meeting["hostUrl"], cancel)
    _assert_stopped(server, conference_id, "cancelled")


def _iotum_conference(server: LiveServer, tenants: TenantFactory) -> tuple[str, dict[str, Any], int]:
    """A reseller admin's auth_token, an active Iotum conference of its own host, that host's id."""
    tenant = tenants()
    with _sessions(server)() as session:
        company = session.get(Company, tenant.company_id)
        host = session.scalars(
            select(Host).where(Host.company_id == tenant.company_id, Host.role == Role.RESELLER_ADMIN)
        ).first()
        assert company is not None and host is not None
        SubscriptionService(session).subscribe(None, company, "large_plan", subscribe_all_hosts=True)
        token = AuthService(session, server.app.state.settings).create_api_token(host.id).token  # type: ignore[attr-defined]
        host_id = host.id
        session.commit()
    iotum = f"{server.base_url}/enterprise_api"
    auth = httpx.post(f"{iotum}/authenticate", json={"api_token": token}).json()["auth_token"]
    start = (utcnow() - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    created = httpx.post(
        f"{iotum}/conference/create",
        json={"auth_token": auth, "host_id": host_id, "subject": "Live", "start": start, "duration": 60},
    )
    assert created.status_code == 200, created.text
    return auth, created.json(), host_id


@pytest.mark.parametrize("how", ["conference/cancel", "conference/end", "subscription/suspend"])
def test_iotum_stops_a_live_conference(server: LiveServer, tenants: TenantFactory, how: str) -> None:
    auth, conference, _ = _iotum_conference(server, tenants)
    iotum = f"{server.base_url}/enterprise_api"

    def stop() -> None:
        if how == "subscription/suspend":
            company_id = _conference_id_company(server, conference["conference_id"])
            body = {"auth_token": auth, "company_id": company_id, "slug": "large_plan"}
        else:
            body = {"auth_token": auth, "conference_id": conference["conference_id"]}
        answer = httpx.post(f"{iotum}/{how}", json=body)
        assert answer.status_code == 200, answer.text

    _stops_while_inside(server, conference["room_url"], stop)
    reason = {
        "conference/cancel": "cancelled",
        "conference/end": "ended",
        "subscription/suspend": "suspended",
    }
    _assert_stopped(server, conference["conference_id"], reason[how])


def _conference_id_company(server: LiveServer, conference_id: int) -> int:
    with _sessions(server)() as session:
        conference = session.get(Conference, conference_id)
        assert conference is not None
        return conference.company_id


def test_a_conference_that_never_started_is_simply_deleted(
    server: LiveServer, tenants: TenantFactory
) -> None:
    tenant = tenants()
    params = {"apikey": tenant.boomstream_apikey, "format": "json", "title": f"Quiet {secrets.token_hex(2)}"}
    code = httpx.get(f"{server.base_url}/api/conference/create", params=params).json()["Code"]
    conference_id = _conference_id(server, code=code)
    httpx.get(f"{server.base_url}/api/conference/delete", params={**params, "code": code})
    with _sessions(server)() as session:
        conference = session.get(Conference, conference_id)
        assert conference is not None and conference.deleted_at is not None and conference.ended_at is None


def test_a_background_job_closes_rooms_too(server: LiveServer, tenants: TenantFactory) -> None:
    """`subscription/suspend_all` is done by the outbox worker: its room events reach the browsers."""
    auth, conference, _ = _iotum_conference(server, tenants)
    company_id = _conference_id_company(server, conference["conference_id"])
    worker = server.app.state.outbox_worker  # type: ignore[attr-defined]

    def suspend_all() -> None:
        answer = httpx.post(
            f"{server.base_url}/enterprise_api/subscription/suspend_all",
            json={"auth_token": auth, "company_id": company_id},
        )
        assert answer.status_code == 202, answer.text
        assert worker.deliver_due() >= 1  # the job, run here as the worker thread would

    _stops_while_inside(server, conference["room_url"], suspend_all)
    _assert_stopped(server, conference["conference_id"], "suspended")
