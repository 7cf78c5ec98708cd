"""Guessing is throttled (issue #12, domain/guard): per-target locks for everyone, per-client budgets,
429 with Retry-After in every dialect, counters shared by every process, lockouts audited for the
company admin — and only failures count, so an audience behind one address all get in.

Every test talks to the real app; each client is its own address (``TestClient(client=…)``), and the
clock is frozen so locks can be waited out.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.app import create_app
from podium.config import Settings
from podium.domain.guard.service import GuardService, client_key
from podium.kit.clock import utcnow
from tests.conftest import make_settings
from tests.e2e.test_watch_access import buyer, paywall
from tests.fixtures.iotum import PASSWORD, World, api, build_world
from tests.fixtures.media import ready_media
from tests.fixtures.tenants import TenantFactory

BASE = "http://podium.test"
PIN = "97531"


@dataclass
class Setup:
    world: World
    host: int  # a host on large_plan


@pytest.fixture(scope="module")
def setup(app_client: TestClient) -> Iterator[Setup]:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    yield Setup(world, world.new_host(world.company_id, plan_slug="large_plan"))


def from_address(app_client: TestClient, address: str) -> TestClient:
    """A client of the suite's app with an address of its own."""
    return TestClient(app_client.app, base_url=BASE, client=(address, 40000))


def _client_locked(app_client: TestClient, address: str) -> bool:
    """Whether the guard holds a lock on the client ``address`` now (read through the service)."""
    with app_client.app.state.sessions() as session:  # type: ignore[attr-defined]
        board = GuardService(session, app_client.app.state.settings).locks_board()  # type: ignore[attr-defined]
        until = board.get(client_key(address))
        return until is not None and until > utcnow()


def _address() -> str:
    return f"198.51.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"


def pin_room(client: TestClient, setup: Setup, pin: str | None = PIN, **fields: Any) -> dict[str, Any]:
    """A reservationless conference on a one-time code, behind a security PIN (``pin=None``: none)."""
    options: dict[str, Any] = {"host_id": setup.host, "one_time_access_code": True, **fields}
    if pin is not None:
        options["security_pin"] = pin
    response = api(client, "conference/create/reservationless", setup.world.home.ra, **options)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _path(body: dict[str, Any]) -> str:
    return f"/conf/call/{body['one_time_access_code']}"


def _throttled(response: Any, *, at_most: int) -> int:
    assert response.status_code == 429, response.text
    retry = int(response.headers["retry-after"])
    assert 0 < retry <= at_most
    return retry


def _other_code(real: str, *, same_prefix: bool) -> str:
    """A code of ``real``'s length that is not ``real``: in its prefix (three digits) or not."""
    while True:
        if same_prefix:
            code = real[:3] + "".join(secrets.choice("0123456789") for _ in range(len(real) - 3))
        else:
            code = str(secrets.randbelow(9 * 10 ** (len(real) - 1)) + 10 ** (len(real) - 1))
            if code[:3] == real[:3]:
                continue
        if code != real:
            return code


# --- security PIN ---------------------------------------------------------------------------------


def test_security_pin_brute_force_is_stopped(app_client: TestClient, setup: Setup, frozen: Any) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    budget = settings.guard_target_failures
    room = _path(pin_room(app_client, setup))
    attacker, visitor = from_address(app_client, _address()), from_address(app_client, _address())

    answered = 0
    for guess in range(10_000, 10_040):
        response = attacker.post(room, data={"pin": str(guess)})
        if response.status_code == 429:
            break
        assert response.status_code == 403 and "Wrong security PIN" in response.text
        answered += 1
    assert answered == budget  # stopped within the budget
    # Locked for everyone: the right PIN too, from anyone, with Retry-After and the dialect's page.
    first = _throttled(attacker.post(room, data={"pin": PIN}), at_most=settings.guard_lock_seconds)
    refused = visitor.post(room, data={"pin": PIN})
    _throttled(refused, at_most=settings.guard_lock_seconds)
    assert 'data-error="too_many_attempts"' in refused.text
    assert first == settings.guard_lock_seconds

    frozen(settings.guard_lock_seconds + 1)  # the lock is over
    entered = visitor.post(room, data={"pin": PIN})
    assert entered.status_code == 200 and 'data-ticket="' in entered.text

    # A second lockout in a row lasts twice as long.
    for guess in range(20_000, 20_000 + budget):
        assert attacker.post(room, data={"pin": str(guess)}).status_code == 403
    again = _throttled(visitor.post(room, data={"pin": PIN}), at_most=2 * settings.guard_lock_seconds)
    assert again == 2 * settings.guard_lock_seconds


# --- room codes --------------------------------------------------------------------------------


def test_room_code_brute_force_is_stopped(app_client: TestClient, setup: Setup, frozen: Any) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    body = pin_room(app_client, setup, pin=None)
    code = str(body["one_time_access_code"])
    attacker, visitor = from_address(app_client, _address()), from_address(app_client, _address())
    assert visitor.get(f"/conf/call/{code}").status_code == 200

    # Scanning the code's neighbourhood (its prefix): the prefix locks after the target budget.
    answered = 0
    for _ in range(40):
        response = attacker.get(f"/conf/call/{_other_code(code, same_prefix=True)}")
        if response.status_code == 429:
            break
        assert response.status_code == 404
        answered += 1
    assert answered == settings.guard_target_failures
    # The right code in that prefix is refused to everyone while it is locked...
    _throttled(visitor.get(f"/conf/call/{code}"), at_most=settings.guard_lock_seconds)
    # ...other prefixes are not locked (for someone still within the client budget)
    assert visitor.get(f"/conf/call/{_other_code(code, same_prefix=False)}").status_code == 404
    frozen(settings.guard_lock_seconds + 1)
    assert visitor.get(f"/conf/call/{code}").status_code == 200


def test_a_client_scanning_many_codes_is_refused_globally(
    app_client: TestClient, setup: Setup, frozen: Any
) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    code = str(pin_room(app_client, setup, pin=None)["one_time_access_code"])
    address = _address()
    scanner, visitor = from_address(app_client, address), from_address(app_client, _address())
    answered = 0
    prefixes: dict[str, int] = {}
    for _ in range(200):
        guess = _other_code(code, same_prefix=False)
        if prefixes.get(guess[:3], 0) >= settings.guard_target_failures - 1:
            continue  # spread over prefixes: it is the client's budget that stops this scan
        prefixes[guess[:3]] = prefixes.get(guess[:3], 0) + 1
        response = scanner.get(f"/conf/call/{guess}")
        if response.status_code == 429:
            if _client_locked(app_client, address):
                break
            # That prefix is locked by earlier tests' guesses (one database for the whole pass): the
            # attempt was refused before it counted. Another prefix, then.
            prefixes[guess[:3]] = settings.guard_target_failures
            continue
        answered += 1
    assert answered == settings.guard_client_failures
    # The scanner is refused everywhere (the real room, other secrets, the APIs)...
    _throttled(scanner.get(f"/conf/call/{code}"), at_most=settings.guard_lock_seconds)
    _throttled(scanner.get("/m/ABCDEF"), at_most=settings.guard_lock_seconds)
    # ...everyone else is not.
    assert visitor.get(f"/conf/call/{code}").status_code == 200
    frozen(settings.guard_lock_seconds + 1)
    assert scanner.get(f"/conf/call/{code}").status_code == 200


def test_meeting_and_invite_links(app_client: TestClient, tenants: TenantFactory, frozen: Any) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    tenant = tenants()
    created = app_client.post("/liveminutes/createMeeting", data={"hostid": "h1"}, auth=tenant.basic).json()
    short = created["meetingUrl"].rsplit("/", 1)[1]
    guesser, visitor = from_address(app_client, _address()), from_address(app_client, _address())
    guesses = [f"{short[:3]}{n:03d}" for n in range(9) if f"{short[:3]}{n:03d}" != short][:8]
    statuses = [guesser.get(f"/m/{guess}").status_code for guess in guesses]
    assert statuses[: settings.guard_target_failures] == [404] * settings.guard_target_failures
    assert set(statuses[settings.guard_target_failures :]) == {429}
    _throttled(visitor.get(f"/m/{short}"), at_most=settings.guard_lock_seconds)
    # Forged invite JWTs and /e/ tokens count against the client only: the budget stops them.
    forger = from_address(app_client, _address())
    answers = [forger.get(f"/conf/invite.html?jwt=x.y.{n}").status_code for n in range(20)]
    answers += [forger.get(f"/e/LIVE{n:020d}").status_code for n in range(20)]
    assert answers[: settings.guard_client_failures].count(429) == 0
    assert set(answers[settings.guard_client_failures :]) == {429}
    frozen(settings.guard_lock_seconds + 1)
    assert visitor.get(f"/m/{short}").status_code == 200


# --- logins -------------------------------------------------------------------------------------


def test_login_brute_force_is_stopped(app_client: TestClient, setup: Setup, frozen: Any) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    email = f"victim-{secrets.token_hex(3)}@example.com"
    setup.world.new_host(setup.world.company_id, email=email, password=PASSWORD)
    attacker, owner = from_address(app_client, _address()), from_address(app_client, _address())
    statuses = [
        attacker.post("/login", data={"email": email, "password": f"guess-{n}"}).status_code for n in range(8)
    ]
    budget = settings.guard_target_failures
    assert statuses == [401] * budget + [429] * (8 - budget)
    # The login is locked for everyone, on the web and on the Iotum API (one target).
    page = owner.post("/login", data={"email": email, "password": PASSWORD})
    _throttled(page, at_most=settings.guard_lock_seconds)
    iotum = api(owner, "authenticate", email=email, password=PASSWORD)
    _throttled(iotum, at_most=settings.guard_lock_seconds)
    assert iotum.json()["message"].startswith("Too many failed attempts")
    frozen(settings.guard_lock_seconds + 1)
    signed_in = owner.post("/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert signed_in.status_code == 303
    assert api(owner, "authenticate", email=email, password=PASSWORD).status_code == 200


# --- API keys, in each dialect's error format ------------------------------------------------------


def _until_throttled(send: Any, limit: int = 100) -> tuple[int, Any]:
    """Failed attempts answered before the first 429, and that 429."""
    for answered in range(limit):
        response = send(answered)
        if response.status_code == 429:
            return answered, response
    raise AssertionError("never throttled")


def test_boomstream_apikey_brute_force(app_client: TestClient, tenants: TenantFactory) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    key = tenants().boomstream_apikey
    attacker, owner = from_address(app_client, _address()), from_address(app_client, _address())

    def guess(n: int) -> Any:
        response = attacker.get("/api/conference/list", params={"apikey": f"{n:032x}", "format": "json"})
        if response.status_code != 429:
            assert response.status_code == 200 and response.json()["Status"] == "Failed"
        return response

    answered, throttled = _until_throttled(guess)
    assert answered == settings.guard_client_failures
    _throttled(throttled, at_most=settings.guard_lock_seconds)
    assert (
        throttled.json()["Status"] == "Failed" and "Too many failed attempts" in throttled.json()["Message"]
    )
    # XML callers get the XML envelope; the right key from the throttled client waits too.
    xml = attacker.get("/api/conference/list", params={"apikey": key})
    _throttled(xml, at_most=settings.guard_lock_seconds)
    assert xml.headers["content-type"].startswith("application/xml") and "<Status>Failed</Status>" in xml.text
    assert owner.get("/api/conference/list", params={"apikey": key, "format": "json"}).json()["Status"] == (
        "Success"
    )


def test_iotum_api_token_brute_force(app_client: TestClient, setup: Setup) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    attacker, owner = from_address(app_client, _address()), from_address(app_client, _address())

    def guess(n: int) -> Any:
        response = api(attacker, "authenticate", api_token=f"{n:048x}")
        if response.status_code != 429:
            assert response.status_code == 401
        return response

    answered, throttled = _until_throttled(guess)
    assert answered == settings.guard_client_failures
    _throttled(throttled, at_most=settings.guard_lock_seconds)
    assert set(throttled.json()) == {"message"}
    # auth_tokens are refused too, while the client is throttled; another client works.
    _throttled(api(attacker, "host/fetch", setup.world.home.ra), at_most=settings.guard_lock_seconds)
    assert api(owner, "host/fetch", setup.world.home.ra).status_code == 200
    assert api(owner, "authenticate", api_token=setup.world.home.ra_api_token).status_code == 200


def test_iotum_auth_tokens_count_against_the_client(app_client: TestClient, setup: Setup) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    attacker = from_address(app_client, _address())
    answered, throttled = _until_throttled(
        lambda n: api(attacker, "host/fetch", f"00000000-0000-0000-0000-{n:012d}")
    )
    assert answered == settings.guard_client_failures
    _throttled(throttled, at_most=settings.guard_lock_seconds)


def test_liveminutes_auth_token_brute_force(app_client: TestClient, tenants: TenantFactory) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    tenant = tenants()
    attacker, owner = from_address(app_client, _address()), from_address(app_client, _address())

    def guess(n: int) -> Any:
        response = attacker.post(
            "/liveminutes/createMeeting",
            data={"hostid": "h"},
            auth=(tenant.liveminutes_account_sid, f"{n:032x}"),
        )
        if response.status_code != 429:
            assert response.status_code == 401 and response.json()["resultcode"] == 0
        return response

    answered, throttled = _until_throttled(guess)
    assert answered == settings.guard_client_failures
    _throttled(throttled, at_most=settings.guard_lock_seconds)
    assert throttled.json()["resultcode"] == 0 and throttled.json()["error"] == "too_many_attempts"
    # The account itself is not locked: its owner, from elsewhere, goes on working.
    created = owner.post("/liveminutes/createMeeting", data={"hostid": "h"}, auth=tenant.basic)
    assert created.json()["resultcode"] == 1


def test_oauth_client_secret_brute_force(app_client: TestClient, setup: Setup) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    attacker = from_address(app_client, _address())
    answered, throttled = _until_throttled(
        lambda n: attacker.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(f"client-{n}", "secret")
        )
    )
    assert answered == settings.guard_client_failures
    _throttled(throttled, at_most=settings.guard_lock_seconds)
    assert throttled.json()["error"] == "slow_down"


# --- pay-per-view passwords --------------------------------------------------------------------


def test_ppv_password_brute_force(
    app_client: TestClient, tenants: TenantFactory, media_files: dict[str, Path], frozen: Any
) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    key = tenants().boomstream_apikey
    media = ready_media(app_client, key, media_files["small"], title="Paid")
    subscription = paywall(app_client, key, [media])
    password = buyer(app_client, key, subscription, media)
    attacker, viewer = from_address(app_client, _address()), from_address(app_client, _address())

    def start(client: TestClient, **body: Any) -> Any:
        return client.post(f"/watch/{media}/session", json={"device": "c" * 32, **body})

    statuses = [start(attacker, password=f"guess{n:07d}").status_code for n in range(4)]
    statuses += [start(attacker, id_recovery=f"guess{n:07d}").status_code for n in range(4)]
    budget = settings.guard_target_failures
    assert statuses == [403] * budget + [429] * (8 - budget)
    refused = start(viewer, password=password)
    _throttled(refused, at_most=settings.guard_lock_seconds)
    assert refused.json()["code"] == "too_many_attempts"
    # A subscription code that names nothing counts on its prefix.
    assert viewer.get(f"/watch/s/{subscription}").status_code == 200
    frozen(settings.guard_lock_seconds + 1)
    assert start(viewer, password=password).status_code == 200


# --- audiences behind one address ----------------------------------------------------------------


def test_fifty_joiners_from_one_address_get_in(
    app_client: TestClient, setup: Setup, tenants: TenantFactory
) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    room = _path(pin_room(app_client, setup))
    tenant = tenants()
    meeting = app_client.post("/liveminutes/createMeeting", data={"hostid": "h"}, auth=tenant.basic).json()
    short = meeting["meetingUrl"].rsplit("/", 1)[1]
    office = from_address(app_client, "192.0.2.50")  # one NAT in front of the whole audience
    typos = 0
    for joiner in range(50):
        if joiner % 12 == 5 and f"{short[:3]}{joiner:03d}" != short:
            # Some mistype the PIN, some the code: fewer than a target's budget, far from the client's.
            assert office.post(room, data={"pin": "00000"}).status_code == 403
            assert office.get(f"/m/{short[:3]}{joiner:03d}").status_code == 404
            typos += 1
        page = office.get(room)
        assert page.status_code == 200 and 'id="pin"' in page.text
        lobby = office.post(room, data={"pin": PIN})
        assert lobby.status_code == 200 and 'data-ticket="' in lobby.text, joiner
        assert office.get(f"/m/{short}").status_code == 200
    assert 0 < typos < settings.guard_target_failures and 2 * typos < settings.guard_client_failures


# --- one set of counters for every process -----------------------------------------------------------


def test_two_app_instances_share_counters(
    app_client: TestClient, setup: Setup, settings: Settings, data_dir: Path, database_url: str
) -> None:
    room = _path(pin_room(app_client, setup))
    other = make_settings(data_dir, database_url)
    address = _address()
    with (
        TestClient(create_app(settings), base_url=BASE, client=(address, 1)) as first,
        TestClient(create_app(other), base_url=BASE, client=(address, 2)) as second,
    ):
        for guess in range(settings.guard_target_failures):
            assert first.post(room, data={"pin": f"1{guess:04d}"}).status_code == 403
        _throttled(second.post(room, data={"pin": PIN}), at_most=settings.guard_lock_seconds)
        # The client's budget too: failures on one instance, refusal on the other.
        for n in range(settings.guard_client_failures - settings.guard_target_failures):
            assert second.get("/api/conference/list", params={"apikey": f"{n:032x}"}).status_code == 200
        _throttled(
            first.get("/api/conference/list", params={"apikey": "x"}), at_most=settings.guard_lock_seconds
        )


# --- the audit: lockouts visible to the company admin -------------------------------------------------


def test_lockouts_are_audited_for_the_company_admin(app_client: TestClient, setup: Setup) -> None:
    world = setup.world
    body = pin_room(app_client, setup)
    address = _address()
    attacker = from_address(app_client, address)
    for guess in range(app_client.app.state.settings.guard_target_failures):  # type: ignore[attr-defined]
        assert attacker.post(_path(body), data={"pin": f"2{guess:04d}"}).status_code == 403

    listed = api(app_client, "security/lockouts", world.ca)
    assert listed.status_code == 200, listed.text
    mine = [entry for entry in listed.json() if entry["target"] == f"conference:{body['conference_id']}"]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["kind"] == "security_pin" and entry["client"] == address
    assert entry["seconds"] == 60 and entry["locked_until"].endswith("Z") and entry["failures"] == 5
    # A reseller admin names the company; a plain host may not look; another company sees nothing.
    by_reseller = api(app_client, "security/lockouts", world.home.ra, company_id=world.company_id)
    assert [e["id"] for e in by_reseller.json()] == [e["id"] for e in listed.json()]
    assert api(app_client, "security/lockouts", world.host).status_code == 403
    foreign = api(app_client, "security/lockouts", world.foreign.ra, company_id=world.company_id)
    assert foreign.status_code == 403
    assert api(app_client, "security/lockouts", world.ca, days=0).status_code == 422
