"""Every join link opens the lobby; bad, expired and revoked links get a clear page and status."""

from __future__ import annotations

from datetime import timedelta

import jwt
from fastapi.testclient import TestClient

from podium.kit.clock import clock, utcnow
from tests.edges.boomstream.helpers import boom, ok
from tests.fixtures.tenants import TenantFactory

BASE = "http://podium.test"


def _path(url: str) -> str:
    assert url.startswith(BASE)
    return url.removeprefix(BASE)


def _invite(client: TestClient, tenants: TenantFactory, **extra: str) -> tuple[str, dict[str, str]]:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Weekly sync <b>"))["Code"]
    invite = ok(
        boom(
            client,
            "conference/invite",
            key,
            code=code,
            email="lea@example.com",
            name="Léa",
            moderator="yes",
            **extra,
        )
    )
    return key, invite


def test_invite_link_opens_the_lobby(client: TestClient, tenants: TenantFactory) -> None:
    _, invite = _invite(client, tenants)
    page = client.get(_path(invite["inviteLink"]))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert '<h1 id="conference-title">Weekly sync &lt;b&gt;</h1>' in html  # escaped
    assert '<strong id="participant-name">Léa</strong>' in html
    assert '<span class="role" id="participant-role">moderator</span>' in html


def test_lobby_follows_client_updates(client: TestClient, tenants: TenantFactory) -> None:
    key, invite = _invite(client, tenants)
    ok(boom(client, "conference/client/update", key, code=invite["clientCode"], name="Lea B", moderator="no"))
    html = client.get(_path(invite["inviteLink"])).text
    assert '<strong id="participant-name">Lea B</strong>' in html
    assert 'id="participant-role">participant</span>' in html


def test_missing_token(client: TestClient) -> None:
    page = client.get("/conf/invite.html")
    assert page.status_code == 400
    assert 'data-error="invalid_input"' in page.text


def test_tampered_and_foreign_tokens(client: TestClient, tenants: TenantFactory) -> None:
    _, invite = _invite(client, tenants)
    token = invite["token"]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/conf/invite.html?jwt={tampered}").status_code == 403
    assert client.get("/conf/invite.html?jwt=not-a-jwt").status_code == 403
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "someone-elses-key", algorithm="HS256")
    page = client.get(f"/conf/invite.html?jwt={forged}")
    assert page.status_code == 403
    assert "Invalid link" in page.text
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    assert client.get(f"/conf/invite.html?jwt={unsigned}").status_code == 403


def test_expired_token(client: TestClient, tenants: TenantFactory) -> None:
    _, invite = _invite(client, tenants, timeout="60")
    assert client.get(_path(invite["inviteLink"])).status_code == 200
    clock.freeze(utcnow() + timedelta(seconds=61))
    page = client.get(_path(invite["inviteLink"]))
    assert page.status_code == 410
    assert "Link expired" in page.text


def test_revoked_by_client_delete_and_conference_delete(client: TestClient, tenants: TenantFactory) -> None:
    key, invite = _invite(client, tenants)
    ok(boom(client, "conference/client/delete", key, code=invite["clientCode"]))
    page = client.get(_path(invite["inviteLink"]))
    assert page.status_code == 410
    assert "withdrawn" in page.text

    key, invite = _invite(client, tenants)
    ok(boom(client, "conference/delete", key, code=invite["code"]))
    page = client.get(_path(invite["inviteLink"]))
    assert page.status_code == 410
    assert "cancelled" in page.text


def test_unknown_meeting_links(client: TestClient) -> None:
    assert client.get("/m/ZZZZZZ").status_code == 404
    assert client.get("/e/LIVE00000000000000000000").status_code == 404


def test_without_a_media_server_the_page_says_so_and_the_api_works(
    client: TestClient, tenants: TenantFactory
) -> None:
    # The suite's app runs with PODIUM_JANUS=off: no media server.
    key, invite = _invite(client, tenants)
    page = client.get(_path(invite["inviteLink"]))
    assert page.status_code == 200
    assert 'data-media="no"' in page.text and "not available on this server" in page.text
    ticket = page.text.split('data-ticket="', 1)[1].split('"', 1)[0]
    entered = client.post("/rooms/enter", json={"ticket": ticket})
    assert entered.status_code == 503 and entered.json()["error"] == "media_unavailable"
    assert ok(boom(client, "conference/info", key, code=invite["code"]))["title"] == "Weekly sync <b>"


def test_room_tickets_are_checked(client: TestClient, tenants: TenantFactory) -> None:
    key, invite = _invite(client, tenants)
    page = client.get(_path(invite["inviteLink"]))
    ticket = page.text.split('data-ticket="', 1)[1].split('"', 1)[0]
    assert client.post("/rooms/enter", json={"ticket": ticket[:-2] + "xx"}).status_code == 403
    ok(boom(client, "conference/client/delete", key, code=invite["clientCode"]))
    assert client.post("/rooms/enter", json={"ticket": ticket}).status_code == 410
