"""The flows integrations run, end to end through the real app."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi.testclient import TestClient

from podium.domain.auth.oauth import OAuthService
from podium.kit.clock import utcnow
from podium.models.tenancy import Role
from tests.fixtures.iotum import PASSWORD, api, build_world


def test_oauth_bearer_scheduling_flow(app_client: TestClient) -> None:
    client, world = app_client, build_world(app_client)
    world.subscribe(world.company_id, "large_plan")
    with world.sessions() as session:
        app, secret = OAuthService(session, world.settings).create_client(
            host_id=world.ca_host_id,
            name="Calendar",
            redirect_uris=[],
            grant_types=["client_credentials"],
            scopes=["read", "write"],
        )
        session.commit()
        client_id = app.client_id
    token = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret or "")
    )
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}

    hosts = client.post("/enterprise_api/host/fetch_all", headers=bearer).json()
    organiser = next(h for h in hosts if h["role"] == "HOST")
    world.new_contact(world.company_id, organiser["host_id"])
    contacts = client.post(
        "/enterprise_api/contact/fetch_all", headers=bearer, json={"host_id": organiser["host_id"]}
    ).json()
    start = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT15:00:00Z")
    created = client.post(
        "/enterprise_api/conference/create",
        headers=bearer,
        json={
            "host_id": str(organiser["host_id"]),
            "subject": "Kick-off",
            "start": start,
            "time_zone": "Europe/Berlin",
            "duration": "90",
            "participants": [c["contact_id"] for c in contacts],
            "participant_emails": [{"email": "guest@example.org"}],
        },
    )
    assert created.status_code == 200, created.text
    conference_id = created.json()["conference_id"]
    updated = client.post(
        "/enterprise_api/conference/update",
        headers=bearer,
        json={"conference_id": str(conference_id), "agenda": "Goals", "duration": 30},
    )
    assert updated.status_code == 200
    fetched = client.post(
        "/enterprise_api/conference/fetch", headers=bearer, json={"conference_id": conference_id}
    ).json()
    assert (fetched["subject"], fetched["agenda"], fetched["duration"]) == ("Kick-off", "Goals", 30)
    assert fetched["start"].endswith("16:00:00")  # 15:00 UTC in Berlin (CET)
    assert len(fetched["participants"]) == len(contacts) + 2  # the organiser and the new guest


def test_email_password_reservationless_flow(app_client: TestClient) -> None:
    client, world = app_client, build_world(app_client)
    world.subscribe(world.company_id, "small_plan")
    email = f"ops-{secrets.token_hex(3)}@example.com"
    admin = world.new_host(world.company_id, role=Role.COMPANY_ADMIN, email=email, password=PASSWORD)
    token = api(client, "authenticate", email=email, password=PASSWORD).json()["auth_token"]
    me = api(client, "host/fetch", token, host_id=admin).json()
    assert me["email"] == email and me["plan_slug"] == "small_plan"
    live = api(client, "conference/create/reservationless", token, host_id=admin, one_time_access_code=True)
    assert live.status_code == 200 and live.json()["active"] is True
    room = client.get(live.json()["room_url"].removeprefix("http://podium.test"))
    assert room.status_code == 200
    assert api(client, "conference/end", token, conference_id=live.json()["conference_id"]).json() == {
        "message": "OK"
    }
    assert (
        api(client, "conference/fetch", token, conference_id=live.json()["conference_id"]).json()["active"]
        is False
    )
