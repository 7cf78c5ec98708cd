"""One model underneath: a meeting made through one dialect is the same conference in the other."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.edges.boomstream.helpers import boom, failed, ok
from tests.edges.liveminutes.helpers import lm
from tests.fixtures.tenants import TenantFactory


def test_liveminutes_meeting_is_a_boomstream_conference(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    key = tenant.boomstream_apikey
    assert (
        lm(
            client,
            tenant,
            "createMeeting",
            meetingKey="shared",
            hostid="h",
            title="Shared",
            description="both",
        )["resultcode"]
        == 1
    )
    lm(
        client,
        tenant,
        "addParticipant",
        meetingKey="shared",
        puid="p1",
        nickname="Pia",
        email="pia@example.com",
    )
    conferences = ok(boom(client, "conference/list", key))["conferences"]
    assert [(c["title"], c["description"]) for c in conferences] == [("Shared", "both")]
    code = conferences[0]["code"]
    clients = ok(boom(client, "conference/client/list", key, code=code))["Clients"]
    assert [(c["name"], c["email"], c["moderator"]) for c in clients] == [("Pia", "pia@example.com", "no")]

    # Boomstream invites into the LiveMinutes meeting; updating Pia by email reuses her participant.
    invite = ok(boom(client, "conference/invite", key, code=code, email="pia@example.com", moderator="yes"))
    assert invite["clientCode"] == clients[0]["code"]
    ok(boom(client, "conference/update", key, code=code, title="Renamed"))
    page = client.get(
        lm(client, tenant, "getMeetingUrl", meetingKey="shared")["meetingUrl"].removeprefix(
            "http://podium.test"
        )
    )
    assert "Renamed" in page.text

    # Removing the client through Boomstream cancels the LiveMinutes participant.
    ok(boom(client, "conference/client/delete", key, code=invite["clientCode"]))
    assert lm(client, tenant, "getParticipantStatus", meetingKey="shared", puid="p1")["resultcode"] == 0

    # Deleting through Boomstream cancels the meeting for LiveMinutes.
    ok(boom(client, "conference/delete", key, code=code))
    assert lm(client, tenant, "getMeetingUrl", meetingKey="shared")["resultcode"] == 0


def test_boomstream_conference_is_visible_to_liveminutes_cancel(
    client: TestClient, tenants: TenantFactory
) -> None:
    tenant = tenants()
    code = ok(boom(client, "conference/create", tenant.boomstream_apikey, title="From Boomstream"))["Code"]
    lm(client, tenant, "createMeeting", meetingKey="other", hostid="h")
    assert len(ok(boom(client, "conference/list", tenant.boomstream_apikey))["conferences"]) == 2
    assert lm(client, tenant, "cancelMeeting", meetingKey="other")["resultcode"] == 1
    conferences = ok(boom(client, "conference/list", tenant.boomstream_apikey))["conferences"]
    assert [c["code"] for c in conferences] == [code]
    failed(boom(client, "conference/info", tenant.boomstream_apikey, code="nope"), "not found")
