"""The admin services behind the console's companies, API keys and pay-per-view pages: credentials
issued, rotated and revoked (the API then refuses the old secret), subscriptions' hosts used against
their limits, and a company's paywalls with their buyers and sales."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from podium.domain.actor import Actor
from podium.domain.auth.service import AuthService
from podium.domain.hosts.schemas import HostChanges
from podium.domain.hosts.service import HostService
from podium.domain.media.service import MediaService
from podium.domain.paywall.service import PaywallChanges, PaywallService
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.credentials import CredentialService, credential_kind
from podium.domain.tenancy.service import TenancyService
from podium.kit.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from podium.models.tenancy import CredentialKind, Host, Role


@dataclass
class Company:
    company_id: int
    other_company_id: int
    ids: dict[str, int]


@pytest.fixture
def company(client: TestClient) -> Company:
    """A bootstrapped company (its reseller admin) with a company admin and a plain host, and
    another reseller's company."""
    app: Any = client.app
    suffix = secrets.token_hex(4)
    with app.state.sessions() as session:
        tenancy = TenancyService(session, app.state.settings)
        made = tenancy.bootstrap(
            reseller_name=f"R {suffix}",
            company_name=f"C {suffix}",
            subdomain=f"c-{suffix}",
            admin_email=f"ra-{suffix}@example.com",
        )
        other = tenancy.bootstrap(
            reseller_name=f"O {suffix}",
            company_name=f"O {suffix}",
            subdomain=f"o-{suffix}",
            admin_email=f"ora-{suffix}@example.com",
        )
        company_id = int(str(made["company_id"]))
        ids = {"RA": int(str(made["host_id"]))}
        for role, label in ((Role.COMPANY_ADMIN, "CA"), (Role.HOST, "HOST")):
            changes = HostChanges(
                name=label, email=f"{label.lower()}-{suffix}@example.com", role=role, no_welcome_email=True
            )
            ids[label] = HostService(session, app.state.settings).create(None, company_id, changes).id
        session.commit()
    return Company(company_id, int(str(other["company_id"])), ids)


def _actor(session: Session, client: TestClient, host_id: int) -> Actor:
    settings: Any = client.app.state.settings  # type: ignore[attr-defined]
    return AuthService(session, settings).actor_for_host(session.get(Host, host_id), "test")


def test_credentials_issued_rotated_and_revoked(client: TestClient, company: Company) -> None:
    app: Any = client.app
    settings = app.state.settings
    with app.state.sessions() as session:
        ca = _actor(session, client, company.ids["CA"])
        credentials = CredentialService(session, settings)
        tenancy = TenancyService(session, settings)
        auth = AuthService(session, settings)

        key = credentials.issue(ca, company.company_id, CredentialKind.BOOMSTREAM_APIKEY)
        assert tenancy.authenticate_boomstream(key.secret).company_id == company.company_id
        listed = {v.credential.id: v for v in credentials.in_company(ca, company.company_id)}
        assert listed[key.credential.id].fingerprint == key.credential.secret_hash[:8]
        assert key.secret not in {v.credential.secret_hash for v in listed.values()}

        rotated = credentials.rotate(ca, key.credential.id)
        assert rotated.credential.id == key.credential.id and rotated.secret != key.secret
        with pytest.raises(Unauthenticated):
            tenancy.authenticate_boomstream(key.secret)
        assert tenancy.authenticate_boomstream(rotated.secret).company_id == company.company_id

        # A LiveMinutes account keeps its AccountSid: only the AuthToken changes.
        account = credentials.issue(ca, company.company_id, credential_kind("liveminutes"))
        assert account.public_id and account.public_id.startswith("AC")
        new_token = credentials.rotate(ca, account.credential.id)
        assert new_token.public_id == account.public_id
        with pytest.raises(Unauthenticated):
            tenancy.authenticate_liveminutes(account.public_id, account.secret)
        tenancy.authenticate_liveminutes(account.public_id, new_token.secret)

        # An Iotum token: rotation ends the sessions the old token opened.
        token = credentials.issue(
            ca, company.company_id, CredentialKind.IOTUM_API_TOKEN, host_id=company.ids["CA"]
        )
        opened = auth.authenticate_api_token(token.secret)
        assert auth.resolve_auth_token(opened).host_id == company.ids["CA"]
        fresh = credentials.rotate(ca, token.credential.id)
        session.commit()
        with pytest.raises(Unauthenticated):
            auth.resolve_auth_token(opened)
        with pytest.raises(Unauthenticated):
            auth.authenticate_api_token(token.secret)
        auth.authenticate_api_token(fresh.secret)

        credentials.revoke(ca, key.credential.id)
        with pytest.raises(Unauthenticated):
            tenancy.authenticate_boomstream(rotated.secret)
        with pytest.raises(Conflict):
            credentials.rotate(ca, key.credential.id)
        session.commit()


def test_credential_rules(client: TestClient, company: Company) -> None:
    app: Any = client.app
    settings = app.state.settings
    with app.state.sessions() as session:
        ca = _actor(session, client, company.ids["CA"])
        host = _actor(session, client, company.ids["HOST"])
        credentials = CredentialService(session, settings)
        # A plain host, and another reseller's company, are refused.
        with pytest.raises(Forbidden):
            credentials.in_company(host, company.company_id)
        with pytest.raises(Forbidden):
            credentials.issue(host, company.company_id, CredentialKind.BOOMSTREAM_APIKEY)
        with pytest.raises(Forbidden):
            credentials.in_company(ca, company.other_company_id)
        # Iotum tokens are for admin hosts, and a reseller admin's is a reseller admin's to touch.
        with pytest.raises(InvalidInput):
            credentials.issue(ca, company.company_id, CredentialKind.IOTUM_API_TOKEN)
        with pytest.raises(InvalidInput):
            credentials.issue(
                ca, company.company_id, CredentialKind.IOTUM_API_TOKEN, host_id=company.ids["HOST"]
            )
        ra_token = next(
            v.credential
            for v in credentials.in_company(ca, company.company_id)
            if v.host is not None and v.host.role == Role.RESELLER_ADMIN
        )
        with pytest.raises(Forbidden):
            credentials.rotate(ca, ra_token.id)
        with pytest.raises(Forbidden):
            credentials.revoke(host, ra_token.id)
        ra = _actor(session, client, company.ids["RA"])
        assert credentials.rotate(ra, ra_token.id).secret
        with pytest.raises(InvalidInput):
            credential_kind("oauth")
        session.rollback()


def test_subscription_usage_and_paywall_sales(client: TestClient, company: Company) -> None:
    app: Any = client.app
    settings = app.state.settings
    with app.state.sessions() as session:
        ca = _actor(session, client, company.ids["CA"])
        usage = {u.product.slug: u for u in SubscriptionService(session).usage(ca, company.company_id)}
        assert (usage["small_plan"].used, usage["small_plan"].limit) == (3, 3)

        boomstream = TenancyService(session, settings).authenticate_boomstream(
            TenancyService(session, settings).issue_boomstream_apikey(company.company_id).secret
        )
        paywalls = PaywallService(session, settings)
        media = MediaService(session, settings).create(boomstream, title="Paid")
        paywall = paywalls.create(
            boomstream, access_kind="", changes=PaywallChanges(name="Paid", cost="4.25", period_days=7)
        )
        paywalls.add_media(boomstream, paywall, media)
        sold = ("test", paywall.company_id, paywall.code, media.code)
        paywalls.add_buyer(paywalls.checked_buyer(*sold, email="a@example.com"))
        gone = paywalls.add_buyer(paywalls.checked_buyer(*sold, email="b@example.com")).buyer
        paywalls.delete_buyer(boomstream, paywall, gone)

        [totals] = paywalls.company_totals(ca, company.company_id)
        assert (totals.media, totals.buyers, totals.sales, totals.revenue) == (1, 1, 2, Decimal("8.50"))
        detail, sales = paywalls.company_sales(ca, company.company_id, paywall.code)
        assert detail.sales == 2 and [s.buyer.email for s in sales if s.live] == ["a@example.com"]
        assert sales[0].window.expire is not None
        with pytest.raises(Forbidden):
            paywalls.company_totals(_actor(session, client, company.ids["HOST"]), company.company_id)
        with pytest.raises(Forbidden):
            paywalls.company_sales(ca, company.other_company_id, paywall.code)
        session.rollback()
