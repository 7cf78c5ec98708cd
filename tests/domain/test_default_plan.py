"""The reseller's default plan: what bootstrap and Iotum company/create subscribe a new company to."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.service import TenancyService
from podium.kit.errors import InvalidInput, NotFound
from podium.models.subscription import Pricing
from podium.models.tenancy import Host
from tests.fixtures.iotum import api


def _bootstrap(client: TestClient) -> dict[str, Any]:
    suffix = secrets.token_hex(4)
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        result = TenancyService(session).bootstrap(
            reseller_name=f"R {suffix}",
            company_name=f"C {suffix}",
            subdomain=f"dp-{suffix}",
            admin_email=f"ra-{suffix}@example.com",
        )
        session.commit()
    return result


def test_bootstrap_puts_the_company_and_its_admin_on_the_default_plan(client: TestClient) -> None:
    boot = _bootstrap(client)
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        subscriptions = SubscriptionService(session)
        default = subscriptions.default_plan(boot["reseller_id"])
        assert default is not None and default.slug == "small_plan"
        host = session.get(Host, boot["host_id"])
        assert host is not None
        plan = subscriptions.host_plan(host)
        assert plan.plan_slug == "small_plan" and plan.can_host()


def test_default_plan_rules(client: TestClient) -> None:
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        reseller = TenancyService(session).create_reseller(f"Catalogue {secrets.token_hex(3)}")
        subscriptions = SubscriptionService(session)

        def product(slug: str, is_plan: bool, **options: Any) -> Any:
            return subscriptions.create_product(
                reseller.id, slug=slug, name=slug, is_plan=is_plan, pricing=Pricing.FLAT, **options
            )

        product("extra", False)
        assert subscriptions.default_plan(reseller.id) is None  # an add-on is never the default
        with pytest.raises(InvalidInput, match="Only a plan"):
            product("extra_default", False, is_default=True)
        bronze = product("bronze", True)
        assert bronze.is_default  # the first plan of a catalogue is its default
        silver = product("silver", True)
        assert not silver.is_default and subscriptions.default_plan(reseller.id) == bronze
        gold = product("gold", True, is_default=True)
        assert subscriptions.default_plan(reseller.id) == gold and not bronze.is_default
        assert subscriptions.set_default_plan(reseller.id, "silver") == silver
        assert [p.slug for p in subscriptions.products(reseller.id) if p.is_default] == ["silver"]
        with pytest.raises(InvalidInput, match="Only a plan"):
            subscriptions.set_default_plan(reseller.id, "extra")
        with pytest.raises(NotFound):
            subscriptions.set_default_plan(reseller.id, "platinum")
        # A sub-reseller without a catalogue of its own uses its parent's, default included.
        child = TenancyService(session).create_reseller("Child", parent_id=reseller.id)
        assert subscriptions.default_plan(child.id) == silver
        session.rollback()


def test_iotum_company_create_uses_the_default_plan(client: TestClient) -> None:
    boot = _bootstrap(client)
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        SubscriptionService(session).set_default_plan(boot["reseller_id"], "large_plan")
        session.commit()
    token = api(client, "authenticate", api_token=boot["iotum_api_token"]).json()["auth_token"]
    created = api(client, "company/create", token, name="Customer", subdomain=f"cu-{secrets.token_hex(3)}")
    assert created.status_code == 200, created.text
    listed = api(client, "subscription/fetch", token, company_id=created.json()["id"]).json()
    assert [s["product"]["slug"] for s in listed] == ["large_plan"]
