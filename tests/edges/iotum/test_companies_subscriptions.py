"""Companies and subscriptions: optional fields, conflicts, deletion, switch_plan, host limits,
suspension (also in the background), cancellation, and what suspension does to hosting."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.companies import CompanyService
from podium.domain.tenancy.service import TenancyService
from podium.kit.errors import Forbidden
from podium.models.tenancy import Company, Host
from tests.edges.boomstream.helpers import boom
from tests.fixtures.iotum import World, api, build_world


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    yield build_world(app_client)


def _company(client: TestClient, world: World, **fields: Any) -> int:
    response = api(
        client, "company/create", world.home.ra, name="Co", subdomain=f"co-{secrets.token_hex(4)}", **fields
    )
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def _subscriptions(client: TestClient, world: World, company_id: int) -> list[tuple[str, str, Any]]:
    rows = api(client, "subscription/fetch", world.home.ra, company_id=company_id).json()
    return [(r["product"]["slug"], r["status"], r["host_limit"]) for r in rows]


def test_company_fields_and_conflicts(client: TestClient, world: World) -> None:
    subdomain = f"acme-{secrets.token_hex(3)}"
    created = api(
        client,
        "company/create",
        world.home.ra,
        subdomain=subdomain.upper(),
        name="Acme",
        customer_id="C-1",
        partner_id=99,
        openid_provider="false",
        primary_color="#112233",
    )
    company_id = created.json()["id"]
    fetched = api(client, "company/fetch", world.home.ra, company_id=str(company_id)).json()
    assert (fetched["subdomain"], fetched["partner_id"], fetched["primary_color"]) == (
        subdomain,
        "99",
        "#112233",
    )
    taken = api(client, "company/create", world.home.ra, subdomain=subdomain, name="Again")
    assert (taken.status_code, taken.json()["message"]) == (409, "Subdomain is already taken")
    # The same subdomain is free under another reseller.
    assert (
        api(client, "company/create", world.foreign.ra, subdomain=subdomain, name="Elsewhere").status_code
        == 200
    )
    other = _company(client, world)
    clash = api(client, "company/update", world.home.ra, company_id=other, subdomain=subdomain)
    assert clash.status_code == 409
    for bad in ({"subdomain": "Not valid!"}, {"primary_color": "green"}, {"currency": "USD$"}, {"name": ""}):
        response = api(client, "company/update", world.home.ra, company_id=other, **bad)
        assert response.status_code == 422 and response.json()["message"], bad
    missing = api(client, "company/create", world.home.ra, name="No subdomain")
    assert (missing.status_code, missing.json()["message"]) == (422, "subdomain is required")
    assert api(client, "company/fetch", world.home.ra, company_id="abc").status_code == 422


def test_company_create_subscribes_to_the_default_or_given_product(client: TestClient, world: World) -> None:
    default = _company(client, world)
    assert _subscriptions(client, world, default) == [("small_plan", "Active", 1)]
    products = {p["slug"]: p for p in api(client, "subscription/fetch_products", world.home.ra).json()}
    assert set(products) == {"small_plan", "large_plan", "recording"}
    with world.sessions() as session:
        large = next(
            p for p in SubscriptionService(session).products(world.home.reseller_id) if p.slug == "large_plan"
        )
    chosen = _company(client, world, product_id=large.id)
    assert _subscriptions(client, world, chosen) == [("large_plan", "Active", 1)]
    unknown = api(
        client,
        "company/create",
        world.home.ra,
        name="X",
        subdomain=f"x-{secrets.token_hex(3)}",
        product_id=10**9,
    )
    assert unknown.status_code == 404
    # Nothing of the failed call was kept.
    assert all(c["name"] != "X" for c in api(client, "company/fetch_all", world.home.ra).json())


def test_company_delete_cancels_subscriptions_deletes_hosts_and_credentials(
    client: TestClient, world: World
) -> None:
    with world.sessions() as session:
        provisioned = TenancyService(session, world.settings).provision_company(
            world.home.reseller_id, "Doomed", f"doomed-{secrets.token_hex(3)}"
        )
        session.commit()
    company_id = int(str(provisioned["company_id"]))
    host_id = world.new_host(company_id)
    assert boom(client, "conference/list", str(provisioned["boomstream_apikey"]))["Status"] == "Success"
    assert api(client, "company/delete", world.home.ra, company_id=company_id).status_code == 200
    assert api(client, "company/fetch", world.home.ra, company_id=company_id).status_code == 404
    assert api(client, "host/fetch", world.home.ra, host_id=host_id).status_code == 404
    assert boom(client, "conference/list", str(provisioned["boomstream_apikey"]))["Status"] == "Failed"
    with world.sessions() as session:
        company = session.get(Company, company_id)
        assert company is not None and company.deleted_at is not None
        assert session.get(Host, host_id).deleted_at is not None  # type: ignore[union-attr]
        statuses = {s.status.value for s, _ in SubscriptionService(session).repo.live_for_company(company_id)}
        assert statuses == set()
    assert (
        api(client, "company/delete", world.home.ra, company_id=world.home.admin_company_id).status_code
        == 409
    )


def test_switch_plan_semantics(client: TestClient, world: World) -> None:
    company_id = _company(client, world)  # on small_plan
    hosts = [world.new_host(company_id), world.new_host(company_id)]
    small_id = api(client, "subscription/fetch", world.home.ra, company_id=company_id).json()[0]["id"]
    # Omitted: the current plan is replaced and its hosts move to the new one.
    assert (
        api(
            client,
            "subscription/create",
            world.home.ra,
            company_id=company_id,
            slug="large_plan",
            subscribe_all_hosts=False,
        ).status_code
        == 200
    )
    assert _subscriptions(client, world, company_id) == [("large_plan", "Active", 2)]
    for host_id in hosts:
        assert api(client, "host/fetch", world.home.ra, host_id=host_id).json()["plan_slug"] == "large_plan"
    # null: subscribe beside the current plan.
    assert (
        api(
            client,
            "subscription/create",
            world.home.ra,
            company_id=company_id,
            slug="small_plan",
            switch_plan=None,
            subscribe_all_hosts=False,
        ).status_code
        == 200
    )
    assert [s[0] for s in _subscriptions(client, world, company_id)] == ["large_plan", "small_plan"]
    # An id: replace exactly that plan.
    rows = api(client, "subscription/fetch", world.home.ra, company_id=company_id).json()
    large_id = next(r["id"] for r in rows if r["product"]["slug"] == "large_plan")
    stale = api(
        client,
        "subscription/create",
        world.home.ra,
        company_id=company_id,
        slug="recording",
        switch_plan=small_id,
    )
    assert stale.status_code == 200  # switch_plan means nothing for an add-on
    wrong = api(
        client,
        "subscription/create",
        world.home.ra,
        company_id=company_id,
        slug="small_plan",
        switch_plan=small_id,
    )
    assert wrong.status_code == 409  # already subscribed to small_plan
    cancelled = api(client, "subscription/cancel", world.home.ra, company_id=company_id, slug="small_plan")
    assert cancelled.status_code == 200
    again = api(
        client,
        "subscription/create",
        world.home.ra,
        company_id=company_id,
        slug="small_plan",
        switch_plan=large_id,
    )
    assert again.status_code == 200
    assert [s[0] for s in _subscriptions(client, world, company_id)] == ["recording", "small_plan"]
    bad = api(
        client,
        "subscription/create",
        world.home.ra,
        company_id=company_id,
        slug="large_plan",
        switch_plan=10**9,
    )
    assert bad.status_code == 404
    unknown = api(client, "subscription/create", world.home.ra, company_id=company_id, slug="gold")
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Product 'gold' not found")


def test_host_limits_increment_unless_locked(client: TestClient, world: World) -> None:
    company_id = _company(client, world)
    api(
        client,
        "subscription/update",
        world.home.ra,
        company_id=company_id,
        slug="small_plan",
        host_limit=2,
        method="PUT",
    )
    for _ in range(3):
        assert (
            api(
                client,
                "host/create",
                world.home.ra,
                company_id=company_id,
                name="H",
                email=f"h-{secrets.token_hex(4)}@example.com",
                plan_slug="small_plan",
            ).status_code
            == 200
        )
    assert _subscriptions(client, world, company_id) == [("small_plan", "Active", 3)]
    too_low = api(
        client, "subscription/update", world.home.ra, company_id=company_id, slug="small_plan", host_limit=2
    )
    assert too_low.status_code == 422
    assert (
        api(
            client,
            "subscription/update",
            world.home.ra,
            company_id=company_id,
            slug="small_plan",
            host_limit=0,
        ).status_code
        == 422
    )
    with world.sessions() as session:
        CompanyService(session, world.settings).set_host_limits_locked(company_id, True)
        session.commit()
    locked = api(
        client,
        "host/create",
        world.home.ra,
        company_id=company_id,
        name="H",
        email=f"locked-{secrets.token_hex(4)}@example.com",
        plan_slug="small_plan",
    )
    assert locked.status_code == 409 and "locked" in locked.json()["message"]
    assert (
        len(api(client, "host/fetch_all", world.home.ra, company_id=company_id).json()) == 3
    )  # nothing written


def test_suspension_stops_hosting_and_background_jobs(client: TestClient, world: World) -> None:
    company_id = _company(client, world)
    host_id = world.new_host(company_id)
    api(client, "subscription/create", world.home.ra, company_id=company_id, slug="recording")

    def can_host() -> bool:
        with world.sessions() as session:
            host = session.get(Host, host_id)
            try:
                SubscriptionService(session).ensure_can_host(host)  # type: ignore[arg-type]
            except Forbidden:
                return False
            return True

    assert can_host()
    api(client, "subscription/suspend", world.home.ra, company_id=company_id, slug="small_plan")
    assert not can_host()
    assert api(client, "host/fetch", world.home.ra, host_id=host_id).json()["plan_slug"] == "small_plan"
    api(client, "subscription/reactivate", world.home.ra, company_id=company_id, slug="small_plan")
    assert can_host()

    accepted = api(client, "subscription/suspend_all", world.home.ra, company_id=company_id)
    assert (accepted.status_code, accepted.json()) == (202, "OK")
    assert {s[1] for s in _subscriptions(client, world, company_id)} == {"Active"}  # not yet
    client.app.state.outbox_worker.deliver_due()  # type: ignore[attr-defined]
    assert {s[1] for s in _subscriptions(client, world, company_id)} == {"Suspended"}
    assert not can_host()
    api(client, "subscription/reactivate_all", world.home.ra, company_id=company_id)
    client.app.state.outbox_worker.deliver_due()  # type: ignore[attr-defined]
    assert {s[1] for s in _subscriptions(client, world, company_id)} == {"Active"}

    api(client, "subscription/cancel", world.home.ra, company_id=company_id, slug="recording")
    final = api(client, "subscription/reactivate", world.home.ra, company_id=company_id, slug="recording")
    assert final.status_code == 404  # cancelled is final
    assert [s[0] for s in _subscriptions(client, world, company_id)] == ["small_plan"]
