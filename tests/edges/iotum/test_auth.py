"""Iotum authentication: API tokens (rotation), email and password, auth_token expiry and touch,
OAuth 2 (client credentials, authorization code with PKCE, refresh, scopes), single sign-on."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from podium.domain.auth.oauth import OAuthService
from podium.domain.auth.service import AuthService
from podium.kit.clock import clock, utcnow
from tests.fixtures.iotum import PASSWORD, World, api, build_world


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    yield build_world(app_client)


def _new_api_token(world: World, host_id: int) -> tuple[int, str]:
    with world.sessions() as session:
        issued = AuthService(session, world.settings).create_api_token(host_id)
        session.commit()
        return issued.credential.id, issued.token


def test_api_tokens_rotate_and_revoke(client: TestClient, world: World) -> None:
    first_id, first = _new_api_token(world, world.ca_host_id)
    second_id, second = _new_api_token(world, world.ca_host_id)
    one = api(client, "authenticate", api_token=first).json()["auth_token"]
    two = api(client, "authenticate", api_token=second).json()["auth_token"]
    assert one != two
    assert api(client, "host/fetch_all", one).status_code == 200
    with world.sessions() as session:
        AuthService(session, world.settings).revoke_api_token(first_id)
        session.commit()
    # The revoked token and the sessions it opened stop; the other keeps working.
    assert api(client, "authenticate", api_token=first).status_code == 401
    assert api(client, "host/fetch_all", one).json() == {"message": "Invalid token"}
    assert api(client, "host/fetch_all", two).status_code == 200


def test_authenticate_failures(client: TestClient, world: World) -> None:
    bad = api(client, "authenticate", api_token="nope")
    assert (bad.status_code, bad.json()) == (401, {"message": "Invalid credentials"})
    wrong_password = api(client, "authenticate", email="nobody@example.com", password="whatever1")
    assert wrong_password.status_code == 401
    empty = api(client, "authenticate")
    assert empty.status_code == 422 and empty.json()["message"] == "api_token is required"
    garbage = client.post(
        "/enterprise_api/authenticate", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert (garbage.status_code, garbage.json()["message"]) == (400, "Request body must be JSON")


def test_email_password_login_then_host_create(client: TestClient, world: World) -> None:
    email = f"pw-admin-{secrets.token_hex(3)}@example.com"
    created = api(
        client,
        "host/create",
        world.ca,
        name="Pat",
        email=email,
        password="Passw0rd!!",
        role="COMPANY_ADMIN",
        no_welcome_email=True,
    )
    assert created.status_code == 200
    token = api(client, "authenticate", email=email, password="Passw0rd!!")
    assert token.status_code == 200
    made = api(
        client,
        "host/create",
        token.json()["auth_token"],
        name="New Hire",
        email=f"hire-{secrets.token_hex(3)}@example.com",
        companyId=world.foreign.admin_company_id,
    )
    assert made.status_code == 200
    assert made.json()["company_id"] == world.company_id  # company_id ignored for a company admin
    assert api(client, "authenticate", email=email, password="wrong-password").status_code == 401


def test_auth_token_expires_sixty_minutes_after_last_use(client: TestClient, world: World) -> None:
    token = api(client, "authenticate", api_token=world.home.ra_api_token).json()["auth_token"]
    start = utcnow()
    clock.freeze(start + timedelta(minutes=59))
    assert api(client, "company/fetch_all", token).status_code == 200  # touches it
    clock.freeze(start + timedelta(minutes=118))
    assert api(client, "company/fetch_all", token).status_code == 200  # 59 minutes after the touch
    # A failed call is not a successful use: it does not extend the session.
    assert api(client, "company/fetch", token, company_id=10**9).status_code == 404
    clock.freeze(start + timedelta(minutes=178, seconds=30))
    expired = api(client, "company/fetch_all", token)
    assert (expired.status_code, expired.json()) == (401, {"message": "Session expired"})


def test_deleted_host_and_company_lose_access(client: TestClient, world: World) -> None:
    company_id = world.new_company(world.home.reseller_id)
    from podium.models.tenancy import Role

    admin = world.new_host(company_id, role=Role.COMPANY_ADMIN)
    _, api_token = _new_api_token(world, admin)
    token = api(client, "authenticate", api_token=api_token).json()["auth_token"]
    assert api(client, "host/fetch_all", token).status_code == 200
    assert api(client, "company/delete", world.home.ra, company_id=company_id).status_code == 200
    assert api(client, "host/fetch_all", token).json() == {"message": "Invalid token"}
    assert api(client, "authenticate", api_token=api_token).status_code == 401


# --- OAuth 2 ------------------------------------------------------------------------------------


def _client(world: World, **options: object) -> tuple[str, str | None]:
    with world.sessions() as session:
        client, secret = OAuthService(session, world.settings).create_client(
            host_id=world.home.ra_host_id, name="Integration", **options
        )
        session.commit()
        return client.client_id, secret


def test_client_credentials_bearer_on_the_same_paths(client: TestClient, world: World) -> None:
    client_id, secret = _client(
        world, redirect_uris=[], grant_types=["client_credentials"], scopes=["read", "write"]
    )
    denied = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, "wrong"))
    assert denied.status_code == 401
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read write"},
        auth=(client_id, secret or ""),
    )
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    assert token.json()["token_type"] == "Bearer" and token.json()["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {access}"}
    # The flow real clients run: host list, contacts, then a write; no body at all is fine.
    hosts = client.post("/enterprise_api/company/fetch_all", headers=bearer)
    assert hosts.status_code == 200
    listed = client.post(
        "/enterprise_api/host/fetch_all", json={"company_id": world.company_id}, headers=bearer
    )
    assert listed.status_code == 200 and listed.json()
    contacts = client.post(
        "/enterprise_api/contact/fetch_all", json={"company_id": world.company_id}, headers=bearer
    )
    assert contacts.status_code == 200
    created = client.post(
        "/enterprise_api/contact/create",
        headers=bearer,
        json={"company_id": world.company_id, "contacts": [{"name": "O", "email": "o@e.com"}]},
    )
    assert created.status_code == 200
    clock.freeze(utcnow() + timedelta(seconds=3601))
    assert client.post("/enterprise_api/company/fetch_all", headers=bearer).json() == {
        "message": "Session expired"
    }


def test_read_scope_cannot_write(client: TestClient, world: World) -> None:
    client_id, secret = _client(world, redirect_uris=[], grant_types=["client_credentials"], scopes=["read"])
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(client_id, secret or ""),
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/enterprise_api/company/fetch_all", headers=bearer).status_code == 200
    write = client.post(
        "/enterprise_api/company/create", headers=bearer, json={"name": "X", "subdomain": "x-y"}
    )
    assert (write.status_code, write.json()["message"]) == (403, "The access token lacks the 'write' scope")
    too_much = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read write"},
        auth=(client_id, secret or ""),
    )
    assert too_much.status_code == 400 and too_much.json()["error"] == "invalid_scope"
    bad = client.post("/enterprise_api/company/fetch_all", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()) == (401, {"message": "Invalid token"})


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def test_authorization_code_with_pkce_and_refresh(client: TestClient, world: World) -> None:
    redirect = "https://app.example.com/callback"
    client_id, _ = _client(
        world,
        redirect_uris=[redirect],
        grant_types=["authorization_code", "refresh_token"],
        scopes=["read", "write"],
        confidential=False,
    )
    verifier, challenge = _pkce()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "read",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    # Not signed in: the authorize page sends the browser to the login form first.
    first = client.get("/oauth/authorize", params=query, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    email = f"oauth-{secrets.token_hex(3)}@example.com"
    world.new_host(world.company_id, email=email, password=PASSWORD)
    login = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "next": first.headers["location"].split("next=", 1)[1]},
        follow_redirects=False,
    )
    assert login.status_code == 303
    consent = client.get("/oauth/authorize", params=query)
    assert consent.status_code == 200 and "Allow Integration?" in consent.text
    csrf = consent.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    forged = client.post(
        "/oauth/authorize",
        params=query,
        data={"csrf": "forged", "decision": "approve"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    approved = client.post(
        "/oauth/authorize", params=query, data={"csrf": csrf, "decision": "approve"}, follow_redirects=False
    )
    assert approved.status_code == 303
    location = urlsplit(approved.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    params = parse_qs(location.query)
    assert params["state"] == ["xyz"]
    code = params["code"][0]

    wrong_verifier = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": client_id,
            "code_verifier": "x" * 50,
        },
    )
    assert wrong_verifier.status_code == 400
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["scope"] == "read"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    # The token acts as the host who approved: a plain HOST may not list hosts.
    assert client.post("/enterprise_api/host/fetch_all", headers=bearer).status_code == 403
    reused = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert reused.status_code == 400
    refreshed = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": client_id, "refresh_token": body["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    again = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": client_id, "refresh_token": body["refresh_token"]},
    )
    assert again.status_code == 400  # refresh tokens rotate


def test_authorization_needs_pkce_and_a_known_redirect(client: TestClient, world: World) -> None:
    redirect = "https://app.example.com/cb"
    client_id, _ = _client(
        world,
        redirect_uris=[redirect],
        grant_types=["authorization_code"],
        scopes=["read"],
        confidential=False,
    )
    email = f"oauth2-{secrets.token_hex(3)}@example.com"
    world.new_host(world.company_id, email=email, password=PASSWORD)
    client.post("/login", data={"email": email, "password": PASSWORD, "next": "/account"})
    no_pkce = client.get(
        "/oauth/authorize",
        params={"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": "read"},
        follow_redirects=False,
    )
    assert no_pkce.status_code == 303 and "error=invalid_request" in no_pkce.headers["location"]
    evil = client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "https://evil.example/cb",
            "scope": "read",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert evil.status_code == 400  # never redirected to an unregistered URI


# --- single sign-on ------------------------------------------------------------------------------


def test_single_sign_on(client: TestClient, world: World) -> None:
    host = api(client, "host/fetch", world.ca, host_id=world.host_host_id).json()
    key = host["login_token_public_key"]
    signed_in = client.get(
        "/auth",
        params={
            "host_id": world.host_host_id,
            "login_token_public_key": key,
            "redirect_url": "/account?tab=1",
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account?tab=1"
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    page = client.get("/account")
    assert page.status_code == 200 and "Hugo Host" in page.text
    absolute = client.get(
        "/auth",
        params={
            "host_id": world.host_host_id,
            "login_token_public_key": key,
            "redirect_url": "http://podium.test/account",
        },
        follow_redirects=False,
    )
    assert absolute.headers["location"] == "/account"


@pytest.mark.parametrize(
    "redirect", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_single_sign_on_refuses_foreign_redirects(client: TestClient, world: World, redirect: str) -> None:
    key = api(client, "host/fetch", world.ca, host_id=world.host_host_id).json()["login_token_public_key"]
    response = client.get(
        "/auth",
        params={"host_id": world.host_host_id, "login_token_public_key": key, "redirect_url": redirect},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "set-cookie" not in response.headers


def test_single_sign_on_errors(client: TestClient, world: World) -> None:
    assert client.get("/auth", params={"host_id": world.host_host_id}).status_code == 400
    assert client.get("/auth", params={"login_token_public_key": "x"}).status_code == 400
    wrong = client.get("/auth", params={"host_id": world.host_host_id, "login_token_public_key": "0" * 40})
    assert wrong.status_code == 403
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_integration_flow_with_auth_token(client: TestClient, world: World) -> None:
    """authenticate → company/fetch_all → host/fetch_all → host/fetch, as reseller integrations do."""
    token = api(client, "authenticate", api_token=world.home.ra_api_token).json()["auth_token"]
    companies = api(client, "company/fetch_all", token).json()
    customer = next(c for c in companies if c["id"] == world.company_id)
    hosts = api(client, "host/fetch_all", token, company_id=customer["id"]).json()
    assert {h["host_id"] for h in hosts} == set(customer["hosts"])
    detail = api(client, "host/fetch", token, host_id=hosts[0]["host_id"]).json()
    assert detail["company_id"] == world.company_id
    assert detail["access_code"]["number"] == hosts[0]["access_code"]
