"""The ten conference methods: fields as in the reference, golden XML and JSON, flows and bad input."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from podium.config import Settings
from tests.edges.boomstream.helpers import boom, failed, ok
from tests.fixtures.golden import assert_golden
from tests.fixtures.tenants import Tenant, TenantFactory


def _setup(client: TestClient, tenant: Tenant) -> dict[str, str]:
    """A conference in a folder with one moderator client; the values golden files replace."""
    key = tenant.boomstream_apikey
    code = ok(
        boom(client, "conference/create", key, title="Testik", description="testovaya", folderCode="fold0001")
    )["Code"]
    invite = ok(
        boom(
            client,
            "conference/invite",
            key,
            code=code,
            email="example@boomstream.com",
            name="Nik",
            timeout="3600",
            moderator="yes",
        )
    )
    conference_id = invite["codeConference"]
    return {
        code: "<conference-code>",
        invite["clientCode"]: "<client-code>",
        f'"codeConference": {conference_id}': '"codeConference": <conference-id>',
        f"<codeConference>{conference_id}<": "<codeConference><conference-id><",
        key: "<apikey>",
        "code": code,
        "client": invite["clientCode"],
    }


def _field(text: str, fmt: str, name: str) -> str:
    if fmt == "json":
        return str(json.loads(text)[name])
    return ET.fromstring(text).findtext(name) or ""


CALLS: list[tuple[str, dict[str, str]]] = [
    ("conference/info", {"code": "{code}"}),
    ("conference/list", {}),
    ("conference/create", {"title": "Testik", "description": "testovaya"}),
    ("conference/update", {"code": "{code}", "title": "Konfa", "description": "vottak"}),
    (
        "conference/invite",
        {
            "code": "{code}",
            "email": "second@boomstream.com",
            "name": "Nik",
            "timeout": "3600",
            "notifyEmail": "no",
            "moderator": "yes",
            "avatarUrl": "",
        },
    ),
    ("conference/client/list", {"code": "{code}"}),
    ("conference/client/info", {"code": "{client}"}),
    (
        "conference/client/update",
        {"code": "{client}", "email": "example@boomstream.com", "name": "Nikita", "moderator": "no"},
    ),
    ("conference/client/delete", {"code": "{client}"}),
    ("conference/delete", {"code": "{code}"}),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("method", "params"), CALLS, ids=[c[0] for c in CALLS])
def test_golden_output(
    client: TestClient, tenants: TenantFactory, method: str, params: dict[str, str], fmt: str
) -> None:
    tenant = tenants()
    values = _setup(client, tenant)
    query = {k: v.format(code=values["code"], client=values["client"]) for k, v in params.items()}
    response = client.get(
        f"/api/{method}", params={"apikey": tenant.boomstream_apikey, **query, "format": fmt}
    )
    assert response.status_code == 200
    replacements = {k: v for k, v in values.items() if k not in ("code", "client")}
    new_codes = {
        "conference/create": ("Code", "<new-conference-code>"),
        "conference/invite": ("clientCode", "<new-client-code>"),
    }
    if method in new_codes:
        field, placeholder = new_codes[method]
        replacements[_field(response.text, fmt, field)] = placeholder
    text = response.text
    assert_golden(f"boomstream/{method.replace('/', '_')}.{fmt}", text, replacements)


def test_info_list_update_roundtrip(client: TestClient, tenants: TenantFactory) -> None:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="A", description="d"))["Code"]
    info = ok(boom(client, "conference/info", key, code=code))
    assert (info["title"], info["code"], info["description"], info["folderCode"]) == ("A", code, "d", "")
    updated = ok(boom(client, "conference/update", key, code=code, folderCode="F1"))
    assert (updated["title"], updated["description"], updated["folderCode"]) == ("A", "d", "F1")
    cleared = ok(boom(client, "conference/update", key, code=code, folderCode="", description=""))
    assert (cleared["folderCode"], cleared["description"]) == ("", "")
    titles = [c["title"] for c in ok(boom(client, "conference/list", key))["conferences"]]
    assert titles == ["A"]


def test_delete_hides_conference_and_clients(client: TestClient, tenants: TenantFactory) -> None:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Gone"))["Code"]
    client_code = ok(boom(client, "conference/invite", key, code=code, email="x@example.com"))["clientCode"]
    ok(boom(client, "conference/delete", key, code=code))
    failed(boom(client, "conference/info", key, code=code), "not found")
    failed(boom(client, "conference/client/info", key, code=client_code), "not found")
    failed(boom(client, "conference/delete", key, code=code), "not found")
    assert ok(boom(client, "conference/list", key))["conferences"] == []


def test_client_list_shows_who_is_in_the_room(client: TestClient, tenants: TenantFactory) -> None:
    """``online`` comes from attendance: never joined, left, or still in (one of several visits open)."""
    from sqlalchemy import select

    from podium.domain.attendance.service import AttendanceService
    from podium.models.conference import Conference
    from podium.models.participant import Participant

    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Presence"))["Code"]
    for email in ("never@example.com", "left@example.com", "back@example.com"):
        ok(boom(client, "conference/invite", key, code=code, email=email))
    app: Any = client.app
    with app.state.sessions() as session:  # what the room records as people come and go
        conference = session.scalar(select(Conference).where(Conference.code == code))
        people = {
            p.email: p
            for p in session.scalars(select(Participant).where(Participant.conference_id == conference.id))
        }
        attendance = AttendanceService(session)
        visit = attendance.record_join(conference, participant=people["left@example.com"])
        attendance.record_leave(visit.id)
        first = attendance.record_join(conference, participant=people["back@example.com"])
        attendance.record_leave(first.id)
        attendance.record_join(conference, participant=people["back@example.com"])
        session.commit()
    clients = ok(boom(client, "conference/client/list", key, code=code))["Clients"]
    assert {c["email"]: c["online"] for c in clients} == {
        "never@example.com": "no",
        "left@example.com": "no",
        "back@example.com": "yes",
    }
    back = next(c for c in clients if c["email"] == "back@example.com")
    assert ok(boom(client, "conference/client/info", key, code=back["code"]))["online"] == "yes"


def test_invite_same_email_updates_the_client(client: TestClient, tenants: TenantFactory) -> None:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="T"))["Code"]
    first = ok(boom(client, "conference/invite", key, code=code, email="Nik@Example.com", name="Nik"))
    assert first["isModerator"] is False and first["name"] == "Nik"
    again = ok(
        boom(
            client,
            "conference/invite",
            key,
            code=code,
            email="nik@example.com",
            name="Nikita",
            moderator="yes",
        )
    )
    assert again["clientCode"] == first["clientCode"]
    clients = ok(boom(client, "conference/client/list", key, code=code))["Clients"]
    assert len(clients) == 1
    assert (clients[0]["name"], clients[0]["moderator"], clients[0]["is_deleted"]) == ("Nikita", "yes", "no")


def test_invite_defaults_name_and_restores_deleted_client(client: TestClient, tenants: TenantFactory) -> None:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="T"))["Code"]
    first = ok(boom(client, "conference/invite", key, code=code, email="anna@example.com"))
    assert first["name"] == "anna"
    ok(boom(client, "conference/client/delete", key, code=first["clientCode"]))
    info = ok(boom(client, "conference/client/info", key, code=first["clientCode"]))
    assert info["is_deleted"] == "yes"
    again = ok(boom(client, "conference/invite", key, code=code, email="anna@example.com"))
    assert again["clientCode"] == first["clientCode"]
    assert ok(boom(client, "conference/client/info", key, code=first["clientCode"]))["is_deleted"] == "no"
    # The link issued before the removal stays revoked; the new one works.
    assert client.get(first["inviteLink"].removeprefix("http://podium.test")).status_code == 410
    assert client.get(again["inviteLink"].removeprefix("http://podium.test")).status_code == 200


def test_client_update(client: TestClient, tenants: TenantFactory) -> None:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="T"))["Code"]
    a = ok(boom(client, "conference/invite", key, code=code, email="a@example.com", moderator="yes"))
    ok(boom(client, "conference/invite", key, code=code, email="b@example.com"))
    body = ok(boom(client, "conference/client/update", key, code=a["clientCode"], name="Ann", moderator="no"))
    assert (body["message"], body["clientCode"]) == ("Client changed successfully", a["clientCode"])
    info = ok(boom(client, "conference/client/info", key, code=a["clientCode"]))
    assert (info["name"], info["email"], info["moderator"]) == ("Ann", "a@example.com", "no")
    failed(
        boom(client, "conference/client/update", key, code=a["clientCode"], email="b@example.com"),
        "another client",
    )
    failed(boom(client, "conference/client/update", key, code=a["clientCode"], email="not-an-email"), "email")
    failed(boom(client, "conference/client/update", key, code=a["clientCode"], moderator="maybe"), "yes")
    ok(boom(client, "conference/client/delete", key, code=a["clientCode"]))
    failed(boom(client, "conference/client/update", key, code=a["clientCode"], name="X"), "deleted")
    # Deleting twice is harmless.
    ok(boom(client, "conference/client/delete", key, code=a["clientCode"]))


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("conference/info", {}, "Parameter 'code' is required"),
    ("conference/info", {"code": "zzz-zzzz-zzz"}, "Conference not found"),
    ("conference/create", {}, "Parameter 'title' is required"),
    ("conference/create", {"title": "x" * 256}, "title is longer than 255"),
    ("conference/create", {"title": "t", "description": "x" * 4001}, "description is longer"),
    ("conference/create", {"title": "t", "folderCode": "no spaces!"}, "folderCode"),
    ("conference/update", {"code": "{code}", "title": "x" * 300}, "title is longer"),
    ("conference/invite", {"code": "{code}"}, "Parameter 'email' is required"),
    ("conference/invite", {"code": "{code}", "email": "nope"}, "valid address"),
    ("conference/invite", {"code": "{code}", "email": "a@example.com", "timeout": "soon"}, "integer"),
    ("conference/invite", {"code": "{code}", "email": "a@example.com", "timeout": "5"}, "timeout must be"),
    ("conference/invite", {"code": "{code}", "email": "a@example.com", "moderator": "perhaps"}, "yes"),
    ("conference/invite", {"code": "{code}", "email": "a@example.com", "notifyEmail": "x"}, "yes"),
    ("conference/invite", {"code": "{code}", "email": "a@example.com", "avatarUrl": "javascript:x"}, "http"),
    ("conference/invite", {"code": "{code}", "email": "a@example.com", "name": "n" * 300}, "name is longer"),
    ("conference/client/list", {"code": "nope"}, "Conference not found"),
    ("conference/client/info", {"code": "nope"}, "Client not found"),
    ("conference/client/update", {}, "Parameter 'code' is required"),
    ("conference/client/delete", {"code": "nope"}, "Client not found"),
    ("conference/delete", {}, "Parameter 'code' is required"),
]


@pytest.mark.parametrize(("method", "params", "message"), BAD_INPUT)
def test_bad_input_fails_and_writes_nothing(
    client: TestClient, tenants: TenantFactory, method: str, params: dict[str, Any], message: str
) -> None:
    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Keep", description="same"))["Code"]
    before = (
        boom(client, "conference/list", key)["conferences"],
        boom(client, "conference/client/list", key, code=code)["Clients"],
    )
    query = {k: v.format(code=code) if isinstance(v, str) else v for k, v in params.items()}
    failed(boom(client, method, key, **query), message)
    after = (
        boom(client, "conference/list", key)["conferences"],
        boom(client, "conference/client/list", key, code=code)["Clients"],
    )
    assert after == before


def test_invite_with_email_notification_goes_through_the_outbox(
    client: TestClient, tenants: TenantFactory, settings: Settings
) -> None:
    import mailbox

    key = tenants().boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Board meeting"))["Code"]
    invite = ok(
        boom(
            client,
            "conference/invite",
            key,
            code=code,
            email="mail-me@example.com",
            name="Mia",
            notifyEmail="yes",
        )
    )
    worker = client.app.state.outbox_worker  # type: ignore[attr-defined]
    assert worker.deliver_due() >= 1
    messages = [
        m for m in mailbox.Maildir(settings.maildir_path, create=False) if m["To"] == "mail-me@example.com"
    ]
    assert len(messages) == 1
    assert messages[0]["Subject"] == "Invitation: Board meeting"
    assert invite["inviteLink"] in messages[0].get_payload(decode=True).decode()
