"""Permission matrix: every Iotum endpoint × role (reseller admin, company admin, host) × own or
foreign tenant, asserting the status the reference requires.

"own" is a customer company of the caller's reseller (the company admin's and host's own company);
"foreign" is a company of another reseller. Objects are made fresh for each case.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.domain.subscriptions.service import SubscriptionService
from podium.models.subscription import Pricing
from podium.models.tenancy import Role
from tests.fixtures.iotum import World, api, build_world


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    yield build_world(app_client)


def _product(w: World, reseller_id: int) -> str:
    slug = f"addon_{secrets.token_hex(4)}"
    with w.sessions() as session:
        SubscriptionService(session).create_product(
            reseller_id, slug=slug, name=slug, is_plan=False, pricing=Pricing.FLAT, features=["recording"]
        )
        session.commit()
    return slug


def _subscribed(w: World, company_id: int, reseller_id: int) -> str:
    slug = _product(w, reseller_id)
    w.subscribe(company_id, slug)
    return slug


Prepare = Callable[[World, int, int], dict[str, Any]]
A, F = 200, 403  # allowed, forbidden
RA_ONLY = {
    ("RA", "own"): A,
    ("RA", "foreign"): F,
    ("CA", "own"): F,
    ("CA", "foreign"): F,
    ("HOST", "own"): F,
    ("HOST", "foreign"): F,
}
ADMINS = {
    ("RA", "own"): A,
    ("RA", "foreign"): F,
    ("CA", "own"): A,
    ("CA", "foreign"): F,
    ("HOST", "own"): F,
    ("HOST", "foreign"): F,
}
# A company admin's company_id is ignored (NOTES.md): it acts on its own company instead.
ADMINS_COMPANY_IGNORED = {**ADMINS, ("CA", "foreign"): A}


def _with(base: dict[tuple[str, str], int], **changes: int) -> dict[tuple[str, str], int]:
    result = dict(base)
    for key, status in changes.items():
        role, target = key.split("_")
        result[(role, target)] = status
    return result


CASES: list[tuple[str, Prepare, dict[tuple[str, str], int], str]] = [
    ("domain/descendants", lambda w, c, r: {}, _with(RA_ONLY, RA_foreign=A), "POST"),
    (
        "company/create",
        lambda w, c, r: {"name": "New", "subdomain": f"new-{secrets.token_hex(4)}"},
        _with(RA_ONLY, RA_foreign=A),
        "POST",
    ),
    ("company/fetch", lambda w, c, r: {"company_id": c}, RA_ONLY, "POST"),
    ("company/update", lambda w, c, r: {"company_id": w.new_company(r), "name": "Renamed"}, RA_ONLY, "POST"),
    ("company/fetch_all", lambda w, c, r: {}, _with(RA_ONLY, RA_foreign=A), "POST"),
    ("company/delete", lambda w, c, r: {"company_id": w.new_company(r)}, RA_ONLY, "POST"),
    ("subscription/fetch_products", lambda w, c, r: {}, _with(ADMINS, RA_foreign=A, CA_foreign=A), "POST"),
    (
        "subscription/create",
        lambda w, c, r: {"company_id": c, "slug": _product(w, r)},
        # A company admin's foreign company_id is ignored; that catalogue's product is unknown at home.
        _with(ADMINS, CA_foreign=404),
        "POST",
    ),
    (
        "subscription/update",
        lambda w, c, r: {"company_id": c, "slug": _subscribed(w, c, r), "host_limit": 5},
        _with(ADMINS, CA_foreign=404),
        "PUT",
    ),
    (
        "subscription/suspend",
        lambda w, c, r: {"company_id": c, "slug": _subscribed(w, c, r)},
        RA_ONLY,
        "POST",
    ),
    (
        "subscription/reactivate",
        lambda w, c, r: {"company_id": c, "slug": _subscribed(w, c, r)},
        RA_ONLY,
        "POST",
    ),
    ("subscription/cancel", lambda w, c, r: {"company_id": c, "slug": _subscribed(w, c, r)}, RA_ONLY, "POST"),
    (
        "subscription/suspend_all",
        lambda w, c, r: {"company_id": w.new_company(r)},
        _with(RA_ONLY, RA_own=202),
        "POST",
    ),
    (
        "subscription/reactivate_all",
        lambda w, c, r: {"company_id": w.new_company(r)},
        _with(RA_ONLY, RA_own=202),
        "POST",
    ),
    ("subscription/fetch", lambda w, c, r: {"company_id": c}, RA_ONLY, "POST"),
    (
        "host/create",
        lambda w, c, r: {"company_id": c, "name": "N", "email": f"n-{secrets.token_hex(4)}@example.com"},
        ADMINS_COMPANY_IGNORED,
        "POST",
    ),
    ("host/fetch", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    ("host/update", lambda w, c, r: {"host_id": w.new_host(c), "name": "Changed"}, ADMINS, "POST"),
    ("host/fetch_all", lambda w, c, r: {"company_id": c}, ADMINS_COMPANY_IGNORED, "POST"),
    (
        "host/delete",
        lambda w, c, r: {"host_id": w.new_host(c)},
        _with(ADMINS, RA_own=202, CA_own=202),
        "POST",
    ),
    ("host/resend_invitation", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    ("host/reset_password", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    (
        "contact/create",
        lambda w, c, r: {"host_id": w.new_host(c), "contacts": [{"name": "X", "email": "x@e.com"}]},
        ADMINS,
        "POST",
    ),
    ("contact/fetch", lambda w, c, r: _contact(w, c), ADMINS, "POST"),
    ("contact/fetch_all", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    ("contact/update", lambda w, c, r: {**_contact(w, c), "name": "Renamed"}, ADMINS, "POST"),
    ("contact/delete", lambda w, c, r: _contact(w, c), ADMINS, "POST"),
]


def _hosting(w: World, company_id: int) -> int:
    """A host on the large plan in the company (subscribing the company when needed)."""
    from podium.domain.subscriptions.service import SubscriptionService as Subs
    from podium.models.tenancy import Company

    with w.sessions() as session:
        company = session.get(Company, company_id)
        if not any(p.slug == "large_plan" for _, p in Subs(session).live(company)):  # type: ignore[arg-type]
            w.subscribe(company_id, "large_plan", switch_plan=None, subscribe_all_hosts=False)
    return w.new_host(company_id, plan_slug="large_plan")


def _conference(w: World, company_id: int, *, live: bool = False, past: bool = False) -> dict[str, Any]:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from podium.domain.actor import Actor
    from podium.domain.conferences.scheduling import SchedulingService
    from podium.domain.conferences.schemas import ConferenceOptions
    from podium.kit.clock import utcnow

    host_id = _hosting(w, company_id)
    with w.sessions() as session:
        actor = Actor(company_id=company_id, role=Role.COMPANY_ADMIN, via="test")
        service = SchedulingService(session, w.settings)
        if live:
            conference = service.create_reservationless(actor, host_id, ConferenceOptions())
        else:
            start = utcnow() + timedelta(days=-2 if past else 2)
            conference = service.create(
                actor,
                host_id,
                ConferenceOptions(start=start.replace(microsecond=0), duration=30, time_zone=ZoneInfo("UTC")),
            )
        session.commit()
        return {"conference_id": conference.id}


def _drive_file(w: World, company_id: int) -> dict[str, Any]:
    from podium.domain.drive.service import DriveService
    from podium.models.tenancy import Host

    host_id = w.new_host(company_id)
    with w.sessions() as session:
        file = DriveService(session, w.settings).create(session.get(Host, host_id), "f.txt")  # type: ignore[arg-type]
        session.commit()
        return {"host_id": host_id, "id": file.id}


def _room(w: World, company_id: int) -> dict[str, Any]:
    from podium.domain.chat.service import ChatService

    slug = f"room-{secrets.token_hex(3)}"
    with w.sessions() as session:
        ChatService(session).create_room(company_id, "channel", slug=slug)
        session.commit()
    return {"company_id": company_id, "slug": slug, "message": "Hello"}


def _webhook(w: World, company_id: int) -> dict[str, Any]:
    from podium.domain.webhooks.service import WebhookService

    with w.sessions() as session:
        endpoint = WebhookService(session).create(company_id, "https://example.com/h", ["conference_start"])
        session.commit()
        return {"company_id": company_id, "id": endpoint.id}


PART_TWO: list[tuple[str, Prepare, dict[tuple[str, str], int], str]] = [
    (
        "conference/create",
        lambda w, c, r: {"host_id": _hosting(w, c), "start": "2031-01-01 10:00:00", "duration": 30},
        ADMINS,
        "POST",
    ),
    ("conference/create/reservationless", lambda w, c, r: {"host_id": _hosting(w, c)}, ADMINS, "POST"),
    ("conference/update", lambda w, c, r: {**_conference(w, c), "subject": "New"}, ADMINS, "POST"),
    ("conference/fetch", lambda w, c, r: _conference(w, c), ADMINS, "POST"),
    ("conference/fetch_all", lambda w, c, r: {"host_id": _hosting(w, c)}, ADMINS, "POST"),
    ("conference/cancel", lambda w, c, r: _conference(w, c), ADMINS, "POST"),
    ("conference/end", lambda w, c, r: _conference(w, c, live=True), ADMINS, "POST"),
    ("conference/fetch_participant_details", lambda w, c, r: _conference(w, c), ADMINS, "POST"),
    ("conference/fetch_livestream_viewer_count", lambda w, c, r: _conference(w, c), ADMINS, "POST"),
    ("conference/stop_streaming", lambda w, c, r: _conference(w, c), ADMINS, "POST"),
    (
        "conference/dial_number",
        lambda w, c, r: {**_conference(w, c, live=True), "country_code": "CA", "phone_number": "14165551212"},
        ADMINS,
        "POST",
    ),
    (
        "conference/message/create",
        lambda w, c, r: {**_conference(w, c, live=True), "message": "Hi"},
        ADMINS,
        "POST",
    ),
    ("conference/delete_recordings", lambda w, c, r: _conference(w, c, past=True), ADMINS, "POST"),
    ("conference/delete_transcriptions", lambda w, c, r: _conference(w, c, past=True), ADMINS, "POST"),
    ("host/conferences", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    ("host/cdrs", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    ("host/active_calls", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    ("drive/fetch_all", lambda w, c, r: {"host_id": w.new_host(c)}, ADMINS, "POST"),
    ("drive/create", lambda w, c, r: {"host_id": w.new_host(c), "filename": "a.pdf"}, ADMINS, "POST"),
    ("drive/file/fetch", lambda w, c, r: _drive_file(w, c), ADMINS, "POST"),
    # finish_upload before any upload: the caller's scope is checked first (403), then the state (422).
    (
        "drive/file/finish_upload",
        lambda w, c, r: _drive_file(w, c),
        _with(ADMINS, RA_own=422, CA_own=422),
        "POST",
    ),
    ("drive/file/delete", lambda w, c, r: _drive_file(w, c), _with(ADMINS, RA_own=204, CA_own=204), "POST"),
    ("chat/create", lambda w, c, r: _room(w, c), RA_ONLY, "POST"),
    # A company admin's company_id is ignored; the other company's channel is unknown in its own.
    ("chat/fetch", lambda w, c, r: _room(w, c), _with(ADMINS, CA_foreign=404), "POST"),
    (
        "webhook/create",
        lambda w, c, r: {"company_id": c, "url": "https://example.com/h", "events": ["conference_end"]},
        ADMINS_COMPANY_IGNORED,
        "POST",
    ),
    ("webhook/fetch_all", lambda w, c, r: {"company_id": c}, ADMINS_COMPANY_IGNORED, "POST"),
    ("webhook/delete", lambda w, c, r: _webhook(w, c), _with(ADMINS, CA_foreign=404), "POST"),
    ("webhook/deliveries", lambda w, c, r: _webhook(w, c), _with(ADMINS, CA_foreign=404), "POST"),
]
CASES = CASES + PART_TWO


def _contact(w: World, company_id: int) -> dict[str, Any]:
    host_id = w.new_host(company_id)
    return {"host_id": host_id, "contact_id": w.new_contact(company_id, host_id)}


@pytest.mark.parametrize("target", ["own", "foreign"])
@pytest.mark.parametrize("role", ["RA", "CA", "HOST"])
@pytest.mark.parametrize(("path", "prepare", "expected", "method"), CASES, ids=[c[0] for c in CASES])
def test_matrix(
    app_client: TestClient,
    world: World,
    path: str,
    prepare: Prepare,
    expected: dict[tuple[str, str], int],
    method: str,
    role: str,
    target: str,
) -> None:
    company_id = world.company_id if target == "own" else world.foreign.admin_company_id
    reseller_id = world.home.reseller_id if target == "own" else world.foreign.reseller_id
    body = prepare(world, company_id, reseller_id)
    response = api(app_client, path, world.token(role), method=method, **body)
    assert response.status_code == expected[(role, target)], response.text
    if response.status_code >= 400:
        assert response.json()["message"]


@pytest.mark.parametrize(("path", "prepare", "expected", "method"), CASES, ids=[c[0] for c in CASES])
def test_every_endpoint_needs_a_token(
    app_client: TestClient,
    world: World,
    path: str,
    prepare: Prepare,
    expected: dict[tuple[str, str], int],
    method: str,
) -> None:
    missing = app_client.request(method, f"/enterprise_api/{path}", json={})
    assert (missing.status_code, missing.json()["message"]) == (401, "Missing auth_token")
    invalid = api(app_client, path, "00000000-0000-0000-0000-000000000000", method=method)
    assert (invalid.status_code, invalid.json()["message"]) == (401, "Invalid token")


def test_reseller_admin_reaches_descendant_companies(app_client: TestClient, world: World) -> None:
    fetched = api(app_client, "company/fetch", world.home.ra, company_id=world.child_company_id)
    assert fetched.status_code == 200
    ids = [c["id"] for c in api(app_client, "company/fetch_all", world.home.ra).json()]
    assert world.child_company_id in ids and world.company_id in ids
    assert world.foreign.admin_company_id not in ids
    tree = api(app_client, "domain/descendants", world.home.ra).json()
    assert tree["id"] == world.home.reseller_id
    assert [d["id"] for d in tree["descendants"]] == [world.child_reseller_id]


def test_only_reseller_admins_grant_the_reseller_admin_role(app_client: TestClient, world: World) -> None:
    body = {"name": "Boss", "email": f"boss-{secrets.token_hex(4)}@example.com", "role": "RESELLER_ADMIN"}
    assert api(app_client, "host/create", world.ca, **body).status_code == 403
    assert (
        api(app_client, "host/create", world.home.ra, company_id=world.company_id, **body).status_code == 200
    )
    ra_host = world.new_host(world.company_id, role=Role.RESELLER_ADMIN)
    assert api(app_client, "host/update", world.ca, host_id=ra_host, name="x").status_code == 403
    plain = world.new_host(world.company_id)
    assert api(app_client, "host/update", world.ca, host_id=plain, role="RESELLER_ADMIN").status_code == 403
    assert api(app_client, "host/update", world.ca, host_id=plain, role="COMPANY_ADMIN").status_code == 200


def test_unknown_objects_are_404(app_client: TestClient, world: World) -> None:
    for path, body in [
        ("company/fetch", {"company_id": 10**9}),
        ("host/fetch", {"host_id": 10**9}),
        ("contact/fetch", {"company_id": world.company_id, "contact_id": 10**9}),
    ]:
        response = api(app_client, path, world.home.ra, **body)
        assert response.status_code == 404, response.text
