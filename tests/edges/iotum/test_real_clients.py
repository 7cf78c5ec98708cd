"""What existing Iotum integrations send, as they send it (issue #10): Bearer calls without a body,
loose types through one coercion, the reference's create-then-update samples, reservationless
conferences with every option, OAuth as published apps do it, and moderators as people."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from podium.domain.auth.oauth import OAuthService
from podium.kit.clock import utcnow
from tests.fixtures.iotum import PASSWORD, World, api, build_world


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    world.subscribe(world.home.admin_company_id, "large_plan", switch_plan=None, subscribe_all_hosts=True)
    yield world


def _oauth_client(world: World, host_id: int, **options: Any) -> tuple[str, str | None]:
    with world.sessions() as session:
        client, secret = OAuthService(session, world.settings).create_client(
            host_id=host_id, name="Automation app", **options
        )
        session.commit()
        return client.client_id, secret


def _bearer(client: TestClient, world: World, host_id: int) -> dict[str, str]:
    client_id, secret = _oauth_client(
        world, host_id, redirect_uris=[], grant_types=["client_credentials"], scopes=["read", "write"]
    )
    token = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret or "")
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _start(days: int = 5) -> str:
    return (utcnow() + timedelta(days=days)).strftime("%Y-%m-%d 13:00:00")


# --- 2. "my own" defaults -----------------------------------------------------------------------


def test_bearer_without_body_learns_whose_token_it_holds(client: TestClient, world: World) -> None:
    bearer = _bearer(client, world, world.home.ra_host_id)
    # No body and no Content-Type at all, as OAuth apps call it.
    me = client.post("/enterprise_api/host/fetch", headers=bearer)
    assert me.status_code == 200, me.text
    assert me.json()["host_id"] == world.home.ra_host_id
    # A plain host's token may read itself (and nothing administrative).
    plain = _bearer(client, world, world.host_host_id)
    own = client.post("/enterprise_api/host/fetch", headers=plain)
    assert own.status_code == 200 and own.json()["host_id"] == world.host_host_id
    other = client.post("/enterprise_api/host/fetch", headers=plain, json={"host_id": world.ca_host_id})
    assert other.status_code == 403


def test_owner_defaults_on_host_scoped_lists(client: TestClient, world: World) -> None:
    bearer = _bearer(client, world, world.home.ra_host_id)
    created = client.post(
        "/enterprise_api/conference/create",
        headers=bearer,
        json={"subject": "Mine", "start": _start(), "duration": 30},
    )
    assert created.status_code == 200, created.text
    conference_id = created.json()["conference_id"]
    listed = client.post("/enterprise_api/conference/fetch_all", headers=bearer)
    assert listed.status_code == 200 and conference_id in [c["conference_id"] for c in listed.json()]
    for path in ("host/conferences", "host/cdrs", "host/active_calls", "drive/fetch_all"):
        answer = client.post(f"/enterprise_api/{path}", headers=bearer)
        assert answer.status_code == 200, (path, answer.text)
    # The same with an auth_token session.
    session_list = api(client, "conference/fetch_all", world.home.ra)
    assert conference_id in [c["conference_id"] for c in session_list.json()]
    # Contacts: neither host_id nor company_id means one's own company-level book, for a
    # reseller admin as for a company admin (the reference's reading of an omitted company_id).
    shared = api(client, "contact/create", world.home.ra, contacts=[{"name": "Own", "email": "own@e.com"}])
    assert shared.status_code == 200, shared.text
    book = client.post("/enterprise_api/contact/fetch_all", headers=bearer)
    assert book.status_code == 200
    assert shared.json()[0]["contact_id"] in [c["contact_id"] for c in book.json()]


# --- 3. loose types, one rule ---------------------------------------------------------------------


def test_loose_types_mean_the_same_for_hosts_and_conferences(client: TestClient, world: World) -> None:
    email = f"loose-{secrets.token_hex(3)}@example.com"
    host = api(
        client,
        "host/create",
        world.ca,
        name="Loose",
        email=email,
        noWelcomeEmail="true",
        planSlug="large_plan",
        autoRecord=True,
        waitingRoom="yes",
        disableEmails={"conferenceInvitations": "true"},
    )
    assert host.status_code == 200, host.text
    settings = host.json()
    assert settings["auto_record"] == "video" and settings["waiting_room"] is True
    assert settings["disable_emails"]["conference_invitations"] is True
    host_id = settings["host_id"]
    updated = api(client, "host/update", world.ca, host_id=str(host_id), auto_record=False)
    assert updated.status_code == 200, updated.text
    assert updated.json()["auto_record"] == "none"
    assert api(client, "host/update", world.ca, host_id=host_id, auto_record="sometimes").json() == {
        "message": "auto_record must be one of none, audio, video"
    }
    for create in ("conference/create", "conference/create/reservationless"):
        body: dict[str, Any] = {
            "hostId": str(host_id),
            "autoRecord": "true",
            "duration": "45",
            "secureUrl": "false",
            "muteMode": "Q&A",
        }
        if create == "conference/create":
            body["start"] = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT13:00:00Z")
        answer = api(client, create, world.ca, **body)
        assert answer.status_code == 200, (create, answer.text)
        conference = answer.json()
        assert (conference["auto_record"], conference["duration"], conference["mute_mode"]) == (
            "video",
            45,
            "q&a",
        )


# --- 4. the reference's create sample, then its update sample ---------------------------------------


def test_reference_create_then_update_samples(client: TestClient, world: World) -> None:
    contacts = api(
        client,
        "contact/create",
        world.home.ra,
        host_id=world.home.ra_host_id,
        contacts=[{"name": "Two", "email": "two@e.com"}, {"name": "Three", "email": "three@e.com"}],
    ).json()
    ids = [c["contact_id"] for c in contacts]
    created = api(
        client,
        "conference/create",
        world.home.ra,
        host_id=world.home.ra_host_id,
        subject="Test Conference",
        agenda="An agenda",
        start=_start(),
        time_zone="America/Toronto",
        duration=60,
        auto_record="none",
        auto_stream="none",
        auto_transcribe=False,
        one_time_access_code=True,
        secure_url=False,
        host_initiated_recording=True,
        security_pin="123456",
        mute_mode="conversation",
        participants=ids,
        broadcast_stream_url="https://domain/something.mp4",
    )
    assert created.status_code == 200, created.text
    assert created.json()["security_pin"] == "123456"
    # The reference's update sample, word for word (including its capitalised "Participants").
    update = {
        "auth_token": world.home.ra,
        "conference_id": created.json()["conference_id"],
        "subject": "Test Conference",
        "agenda": "An agenda",
        "start": _start(6),
        "time_zone": "America/Toronto",
        "duration": 60,
        "auto_record": "none",
        "auto_transcribe": False,
        "one_time_access_code": False,
        "mute_mode": "conversation",
        "Participants": ids,
    }
    updated = client.post("/enterprise_api/conference/update", json=update)
    assert updated.status_code == 200, updated.text
    # Turning the one-time code off drops the PIN that only exists with it.
    assert updated.json()["one_time_access_code"] is False and updated.json()["security_pin"] is None
    # Asking for a PIN without a one-time code in the same request is still the reference's error.
    refused = client.post("/enterprise_api/conference/update", json={**update, "security_pin": "4321"})
    assert refused.status_code == 422
    assert refused.json() == {"message": "Must enable one_time_access_code to use security_pin"}


# --- 5. reservationless is a conference too ---------------------------------------------------------


def test_reservationless_honours_every_option(client: TestClient, world: World) -> None:
    answer = api(
        client,
        "conference/create/reservationless",
        world.home.ra,
        host_id=world.home.ra_host_id,
        one_time_access_code=True,
        security_pin="2468",
        subject="Now",
        agenda="Right away",
        duration=90,
        auto_record="audio",
        auto_transcribe=True,
        host_initiated_recording=True,
        mute_mode="presentation",
        participant_emails=[
            {"email": "now-guest@example.com"},
            {"email": "now-mod@example.com", "moderator": True},
        ],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["active"] is True
    assert (body["subject"], body["agenda"], body["duration"]) == ("Now", "Right away", 90)
    assert (body["auto_record"], body["auto_transcribe"], body["host_initiated_recording"]) == (
        "audio",
        True,
        True,
    )
    assert (body["mute_mode"], body["security_pin"]) == ("presentation", "2468")
    emails = {e["email"]: e["moderator"] for e in body["participant_emails"]}
    assert emails["now-guest@example.com"] is False and emails["now-mod@example.com"] is True
    # The same feature rules as conference/create.
    bare = world.new_host(world.company_id, plan_slug="large_plan")
    pin_alone = api(
        client, "conference/create/reservationless", world.home.ra, host_id=bare, security_pin="2468"
    )
    assert pin_alone.json() == {"message": "Must enable one_time_access_code to use security_pin"}
    # start and schedule have no meaning for a call that starts now: refused, not ignored.
    scheduled = api(
        client,
        "conference/create/reservationless",
        world.home.ra,
        host_id=world.home.ra_host_id,
        schedule="FREQ=DAILY;COUNT=3",
    )
    assert scheduled.status_code == 422 and "reservationless" in scheduled.json()["message"]


# --- 6. OAuth as published apps do it -----------------------------------------------------------------


def _authorize(client: TestClient, world: World, query: dict[str, str]) -> str:
    """Sign a host in and approve; returns the authorization code."""
    email = f"oauth-app-{secrets.token_hex(3)}@example.com"
    world.new_host(world.company_id, email=email, password=PASSWORD)
    client.post("/login", data={"email": email, "password": PASSWORD, "next": "/account"})
    consent = client.get("/oauth/authorize", params=query)
    assert consent.status_code == 200, consent.text
    csrf = consent.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    approved = client.post(
        "/oauth/authorize", params=query, data={"csrf": csrf, "decision": "approve"}, follow_redirects=False
    )
    assert approved.status_code == 303, approved.text
    return parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]


def test_confidential_client_without_pkce(client: TestClient, world: World) -> None:
    redirect = "https://automation.example.com/oauth/callback"
    client_id, secret = _oauth_client(
        world,
        world.home.ra_host_id,
        redirect_uris=[redirect],
        grant_types=["authorization_code", "refresh_token"],
        scopes=["read", "write"],
    )
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": "read write"}
    code = _authorize(client, world, query)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    wrong = client.post("/oauth/token", data=form, auth=(client_id, "not-the-secret"))
    assert wrong.status_code == 401
    token = client.post("/oauth/token", data=form, auth=(client_id, secret or ""))
    assert token.status_code == 200, token.text
    assert (
        client.post(
            "/enterprise_api/host/fetch", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        ).status_code
        == 200
    )
    # A confidential client that does send PKCE has it checked.
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = _authorize(client, world, {**query, "code_challenge": challenge, "code_challenge_method": "S256"})
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    bad = client.post(
        "/oauth/token", data={**form, "code_verifier": "y" * 50}, auth=(client_id, secret or "")
    )
    assert bad.status_code == 400
    good = client.post(
        "/oauth/token", data={**form, "code_verifier": verifier}, auth=(client_id, secret or "")
    )
    assert good.status_code == 200, good.text


def test_token_endpoint_says_what_is_wrong(client: TestClient, world: World) -> None:
    client_id, secret = _oauth_client(
        world, world.home.ra_host_id, redirect_uris=[], grant_types=["client_credentials"], scopes=["read"]
    )
    as_json = client.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, auth=(client_id, secret or "")
    )
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    assert "application/x-www-form-urlencoded" in as_json.json()["error_description"]
    for body in (b"grant_type", b"grant_type=client_credentials&&&=", b"\xff\xfe"):
        malformed = client.post(
            "/oauth/token",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=(client_id, secret or ""),
        )
        assert malformed.status_code == 400, body
        assert malformed.json()["error"] == "invalid_request", malformed.text
        assert malformed.json()["error_description"]
    missing = client.post("/oauth/token", data={"scope": "read"}, auth=(client_id, secret or ""))
    assert (
        missing.json()["error"] == "invalid_request" and "grant_type" in missing.json()["error_description"]
    )


# --- 7. moderators as people ------------------------------------------------------------------------------


def test_detail_moderators_are_people(client: TestClient, world: World) -> None:
    created = api(
        client,
        "conference/create",
        world.home.ra,
        host_id=world.home.ra_host_id,
        subject="People",
        start=_start(),
        duration=30,
        participant_emails=[{"email": "co-mod@example.com", "name": "Co Mod", "moderator": True}],
    ).json()
    detail = api(
        client, "conference/fetch", world.home.ra, conference_id=created["conference_id"], output="detail"
    ).json()
    moderators = sorted(detail["moderators"], key=lambda m: m["email"])
    organiser = next(m for m in moderators if m["person_id"] == world.home.ra_host_id)
    assert set(organiser) == {"person_id", "name", "email"} and organiser["email"].startswith("ra-home-")
    assert {"person_id": None, "name": "Co Mod", "email": "co-mod@example.com"} in moderators
