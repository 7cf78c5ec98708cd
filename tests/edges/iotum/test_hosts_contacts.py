"""Hosts (codes, settings, subscriptions, SIP, emails, password links) and contacts."""

from __future__ import annotations

import mailbox
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.iotum import World, api, build_world


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    world = build_world(app_client)
    world.subscribe(world.company_id, "small_plan")
    world.subscribe(world.company_id, "recording")
    yield world


def _email(prefix: str = "h") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


def _create(client: TestClient, world: World, **fields: Any) -> Any:
    return api(client, "host/create", world.ca, **{"name": "Host", "email": _email(), **fields})


def test_codes_are_generated_or_requested_and_unique(client: TestClient, world: World) -> None:
    generated = _create(client, world).json()
    assert len(generated["access_code"]["number"]) == 9 and generated["access_code"]["number"].isdigit()
    assert generated["meeting_url"] == f"http://podium.test/conf/call/{generated['access_code']['number']}"
    code, pin = str(secrets.randbelow(10**8) + 10**8), str(secrets.randbelow(10**8) + 10**8)
    requested = _create(client, world, access_code=int(code), moderator_pin=pin).json()
    assert (requested["access_code"]["number"], requested["moderator_pin"]["number"]) == (code, pin)
    taken = _create(client, world, access_code=code)
    assert (taken.status_code, taken.json()["message"]) == (409, f"access_code {code} is already taken")
    assert _create(client, world, moderator_pin=pin).status_code == 409
    assert _create(client, world, access_code="12").status_code == 422
    assert _create(client, world, access_code="12345678901").status_code == 422
    other = _create(client, world).json()
    clash = api(client, "host/update", world.ca, host_id=other["host_id"], access_code=code)
    assert clash.status_code == 409
    same = api(client, "host/update", world.ca, host_id=requested["host_id"], access_code=code)
    assert same.status_code == 200


def test_email_rules_and_no_login(client: TestClient, world: World) -> None:
    email = _email("dup")
    assert _create(client, world, email=email).status_code == 200
    assert _create(client, world, email=email.upper()).status_code == 409
    assert _create(client, world, email=email, no_login=True).status_code == 409
    shared = _email("shared")
    first = _create(client, world, email=shared, no_login=True, password="ignored-password")
    second = _create(client, world, email=shared, no_login=True)
    assert first.status_code == second.status_code == 200
    assert first.json()["password_creation_link"] is None
    assert api(client, "authenticate", email=shared, password="ignored-password").status_code == 401
    assert api(client, "host/reset_password", world.ca, host_id=first.json()["host_id"]).status_code == 409
    assert _create(client, world, email="not-an-email").status_code == 422
    assert _create(client, world, name="").status_code == 422


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"time_zone": "Mars/Olympus"}, "IANA"),
    ({"locale": "english please"}, "BCP-47"),
    ({"country_code": "USA"}, "country"),
    ({"role": "KING"}, "role"),
    ({"auto_record": "always"}, "auto_record"),
    ({"auto_record": "audio", "auto_stream": "video"}, "same"),
    ({"waiting_room": "maybe"}, "true or false"),
    ({"stream_preview": {"duration": 0}}, "positive"),
    ({"stream_preview": {"duration": 120, "interval": 60}}, "must not exceed"),
    ({"stream_preview": {"duration": 60, "interval": 90000}}, "at most 86400"),
    ({"disable_emails": {"spam": True}}, "disable_emails"),
    ({"time_format": {"clock": 24}}, "time_format"),
    ({"password": "short"}, "password"),
    ({"subscription_ids": "all"}, "array"),
    ({"subscription_ids": [10**9]}, "not found"),
    ({"plan_slug": "recording"}, "not a plan"),
    ({"add_on_slugs": ["small_plan"]}, "not an add-on"),
    ({"plan_slug": "gold"}, "no subscription"),
    ({"subscription_ids": [], "plan_slug": "small_plan"}, "not both"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS)
def test_bad_host_fields(client: TestClient, world: World, fields: dict[str, Any], message: str) -> None:
    before = len(api(client, "host/fetch_all", world.ca).json())
    response = _create(client, world, **fields)
    assert 400 <= response.status_code < 500 and response.status_code != 401, response.text
    assert message.lower() in response.json()["message"].lower()
    assert len(api(client, "host/fetch_all", world.ca).json()) == before


def test_loose_types_and_time_zones(client: TestClient, world: World) -> None:
    host = _create(
        client,
        world,
        waiting_room="true",
        time_zone="EST",
        locale="fr_CA",
        country_code="ca",
        stream_preview={"duration": "30", "interval": "120", "image_preview": "false"},
    ).json()
    assert (host["waiting_room"], host["time_zone"], host["locale"], host["country_code"]) == (
        True,
        "EST",
        "fr-CA",
        "CA",
    )
    assert host["stream_preview"] == {"duration": 30, "interval": 120, "image_preview": False}
    fetched = api(client, "host/fetch", world.ca, hostId=str(host["host_id"]))
    assert fetched.status_code == 200  # camelCase key, number as a string


def test_dialin_number_follows_country(client: TestClient, world: World) -> None:
    host = _create(client, world, country_code="US").json()
    assert host["primary_dialin_number"]["country_code"] == "US"
    assert host["primary_dialin_number"]["international_format"] == "+1 555-555-0100"


def test_subscriptions_plan_slugs_and_sip(client: TestClient, world: World) -> None:
    company_id = world.new_company(world.home.reseller_id)
    world.subscribe(company_id, "small_plan")
    world.subscribe(company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    world.subscribe(company_id, "recording", subscribe_all_hosts=False)
    ra = world.home.ra
    host = api(client, "host/create", ra, company_id=company_id, name="S", email=_email()).json()
    assert (host["plan_slug"], host["add_on_slugs"], host["sip_uri"]) == ("small_plan", [], None)
    upgraded = api(
        client, "host/update", ra, host_id=host["host_id"], plan_slug="large_plan", add_on_slugs=["recording"]
    ).json()
    assert (upgraded["plan_slug"], upgraded["add_on_slugs"]) == ("large_plan", ["recording"])
    assert upgraded["sip_uri"] == f"sip:{host['access_code']['number']}-0@sip.podium.test"
    by_ids = api(client, "host/update", ra, host_id=host["host_id"], subscription_ids=[]).json()
    assert (by_ids["plan_slug"], by_ids["add_on_slugs"], by_ids["subscription_ids"]) == (None, [], [])
    listed = api(client, "host/fetch_all", ra, company_id=company_id).json()
    assert [(h["host_id"], h["plan_slug"]) for h in listed] == [(host["host_id"], None)]


def test_welcome_reset_and_password_link(client: TestClient, world: World) -> None:
    email = _email("welcome")
    host = _create(client, world, email=email).json()
    api(client, "host/reset_password", world.ca, host_id=host["host_id"])
    api(client, "host/resend_invitation", world.ca, host_id=host["host_id"])
    client.app.state.outbox_worker.deliver_due()  # type: ignore[attr-defined]
    inbox = [m for m in mailbox.Maildir(world.settings.maildir_path, create=False) if m["To"] == email]
    assert sorted(m["Subject"] for m in inbox) == [
        "Reset your Podium password",
        "Welcome to Podium",
        "Welcome to Podium",
    ]
    link = host["password_creation_link"]
    assert link.startswith("http://podium.test/password/new?token=")
    token = link.split("token=", 1)[1]
    assert any(token[:40] in m.get_payload(decode=True).decode() for m in inbox)
    form = client.get(f"/password/new?token={token}")
    assert form.status_code == 200 and 'name="token"' in form.text
    mismatch = client.post("/password/new", data={"token": token, "password": "NewPassw0rd", "confirm": "x"})
    assert mismatch.status_code == 422
    saved = client.post(
        "/password/new", data={"token": token, "password": "NewPassw0rd", "confirm": "NewPassw0rd"}
    )
    assert saved.status_code == 200 and "Password saved" in saved.text
    assert api(client, "authenticate", email=email, password="NewPassw0rd").status_code == 200
    reused = client.post(
        "/password/new", data={"token": token, "password": "Another1!", "confirm": "Another1!"}
    )
    assert reused.status_code == 422 and "already been used" in reused.text
    no_welcome = _create(client, world, email=_email("quiet"), no_welcome_email=True).json()
    client.app.state.outbox_worker.deliver_due()  # type: ignore[attr-defined]
    assert not [
        m
        for m in mailbox.Maildir(world.settings.maildir_path, create=False)
        if m["To"] == no_welcome["email"]
    ]


def test_delete_host(client: TestClient, world: World) -> None:
    host = _create(client, world, password="Passw0rd!!").json()
    assert api(client, "authenticate", email=host["email"], password="Passw0rd!!").status_code == 200
    deleted = api(client, "host/delete", world.ca, host_id=host["host_id"])
    assert deleted.status_code == 202
    assert api(client, "host/fetch", world.ca, host_id=host["host_id"]).status_code == 404
    assert api(client, "host/delete", world.ca, host_id=host["host_id"]).status_code == 404
    assert api(client, "authenticate", email=host["email"], password="Passw0rd!!").status_code == 401
    assert host["host_id"] not in [h["host_id"] for h in api(client, "host/fetch_all", world.ca).json()]
    myself = api(client, "host/delete", world.ca, host_id=world.ca_host_id)
    assert myself.status_code == 409


# --- contacts ------------------------------------------------------------------------------------


def test_contacts_of_a_host_and_of_the_company(client: TestClient, world: World) -> None:
    host_id = _create(client, world).json()["host_id"]
    colleague = _create(client, world, email=_email("colleague")).json()
    created = api(
        client,
        "contact/create",
        world.ca,
        host_id=host_id,
        contacts=[
            {
                "name": "Ann",
                "email": "ann@example.com",
                "mobile_phone": "+1 (555) 010-0000",
                "time_zone": "Europe/Paris",
            },
            {"name": "Colleague", "email": colleague["email"].upper()},
        ],
    )
    assert created.status_code == 200
    ann, mate = created.json()
    assert (ann["has_host"], mate["has_host"]) == (False, True)
    company_level = api(
        client, "contact/create", world.ca, contacts=[{"name": "Shared", "email": "s@example.com"}]
    )
    shared_id = company_level.json()[0]["contact_id"]
    host_book = api(client, "contact/fetch_all", world.ca, host_id=host_id).json()
    assert [c["name"] for c in host_book] == ["Ann", "Colleague"]
    company_book = api(client, "contact/fetch_all", world.ca).json()
    assert shared_id in [c["contact_id"] for c in company_book]
    assert ann["contact_id"] not in [c["contact_id"] for c in company_book]
    # A contact is reached only through its own book.
    assert api(client, "contact/fetch", world.ca, contact_id=ann["contact_id"]).status_code == 404
    assert api(client, "contact/fetch", world.ca, host_id=host_id, contact_id=shared_id).status_code == 404
    updated = api(
        client,
        "contact/update",
        world.ca,
        host_id=host_id,
        contact_id=ann["contact_id"],
        name="Ann B",
        home_phone="",
    )
    assert (updated.json()["name"], updated.json()["email"], updated.json()["home_phone"]) == (
        "Ann B",
        "ann@example.com",
        None,
    )
    assert (
        api(
            client, "contact/update", world.ca, host_id=host_id, contact_id=ann["contact_id"], email="nope"
        ).status_code
        == 422
    )
    assert (
        api(client, "contact/delete", world.ca, host_id=host_id, contact_id=ann["contact_id"]).status_code
        == 200
    )
    assert (
        api(client, "contact/fetch", world.ca, host_id=host_id, contact_id=ann["contact_id"]).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("contacts", "message"),
    [
        (None, "non-empty array"),
        ([], "non-empty array"),
        ("x", "non-empty array"),
        ([{"name": "A", "email": "a@example.com"}, {"name": "B"}], "contacts[1]: email is required"),
        ([{"name": "A", "email": "a@example.com", "time_zone": "Nowhere/City"}], "IANA"),
        ([{"name": "A", "email": "a@example.com", "business_phone": "call me"}], "phone"),
        ([{"email": "a@example.com"}], "name is required"),
        ([{"name": "A", "email": "a@example.com"}] * 101, "at most 100"),
    ],
)
def test_bad_contacts_write_nothing(client: TestClient, world: World, contacts: Any, message: str) -> None:
    host_id = _create(client, world).json()["host_id"]
    response = api(client, "contact/create", world.ca, host_id=host_id, contacts=contacts)
    assert response.status_code == 422 and message in response.json()["message"], response.text
    assert api(client, "contact/fetch_all", world.ca, host_id=host_id).json() == []


def test_dialin_table_is_configurable(data_dir: Any, database_url: str, world: World) -> None:
    from podium.app import create_app
    from tests.conftest import make_settings

    table = [
        {
            "phone_number": "15555550100",
            "domestic_format": "(555) 555-0100",
            "international_format": "+1 555-555-0100",
            "country_code": "US",
            "location": "New York",
        },
        {
            "phone_number": "442079460000",
            "domestic_format": "020 7946 0000",
            "international_format": "+44 20 7946 0000",
            "country_code": "GB",
            "location": "London",
        },
    ]
    with TestClient(create_app(make_settings(data_dir, database_url, dialin_numbers=table))) as other:
        british = api(other, "host/create", world.ca, name="Brit", email=_email(), country_code="GB").json()
        assert british["primary_dialin_number"]["location"] == "London"
        french = api(other, "host/create", world.ca, name="Fr", email=_email(), country_code="FR").json()
        assert french["primary_dialin_number"]["location"] == "New York"  # no French number: the first


def test_no_dialin_number_is_invented(data_dir: Any, database_url: str, world: World) -> None:
    """Without PODIUM_DIALIN_NUMBERS, hosts have no dial-in number (null), never a made-up one."""
    from podium.app import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(data_dir, database_url, dialin_numbers=[]))) as other:
        host = api(other, "host/create", world.ca, name="Nobody", email=_email(), country_code="US").json()
        assert host["primary_dialin_number"] is None
