"""Buyers made in one batch (``PaywallService.make_buyers``, the group commit's write for
``ppv/addbuyer``) come out as if they had been added one after the other, in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.conferences.service import UNSET
from podium.domain.media.service import MediaService
from podium.domain.paywall.service import AddedBuyer, NewBuyer, PaywallChanges, PaywallService
from podium.domain.tenancy.service import TenancyService
from podium.kit import uow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.models.audit import AuditEntry
from podium.models.media import Media
from podium.models.paywall import AccessPass, Paywall
from tests.fixtures.racing import side_by_side
from tests.fixtures.tenants import Tenant, TenantFactory


def _new(company_id: int, paywall: str, media: str, **given: Any) -> NewBuyer:
    values: dict[str, Any] = {
        "actor_label": "test",
        "company_id": company_id,
        "paywall_code": paywall,
        "media_code": media,
        "email": "",
        "phone": "",
        "name": "",
        "password": None,
        "activations": UNSET,
        "access_start": UNSET,
        "access_expire": UNSET,
        "custom_url": "",
        "use_subscription_custom_url": False,
        "notify": False,
        "source": "api",
    }
    return NewBuyer(**{**values, **given})


def _paywall_with_media(
    session: Session, settings: Settings, tenant: Tenant, name: str
) -> tuple[Actor, PaywallService, Paywall, Media]:
    """The tenant's caller, a new subscription (30 days) with a new media in it, committed."""
    actor = TenancyService(session, settings).authenticate_boomstream(tenant.boomstream_apikey)
    media = MediaService(session, settings).create(actor, title=name)
    paywalls = PaywallService(session, settings)
    paywall = paywalls.create(actor, access_kind="", changes=PaywallChanges(name=name, period_days=30))
    paywalls.add_media(actor, paywall, media)
    session.commit()
    return actor, paywalls, paywall, media


def test_a_batch_is_made_as_if_one_buyer_came_after_the_other(
    client: TestClient, tenants: TenantFactory
) -> None:
    app: Any = client.app
    tenant = tenants()
    with app.state.sessions() as session:
        settings = app.state.settings
        actor, paywalls, paywall, media = _paywall_with_media(session, settings, tenant, "Batch")
        elsewhere = MediaService(session, settings).create(actor, title="Not in it")
        session.commit()

        def new(**given: Any) -> NewBuyer:
            return _new(tenant.company_id, paywall.code, media.code, **given)

        first = paywalls.make_buyers([new(email="Ann@Example.com", phone="+1 555 0001", password="chosen-1")])
        session.commit()
        assert isinstance(first[0], AddedBuyer)
        made = paywalls.make_buyers(
            [
                new(email="ann@example.com", name="Ann"),
                # Ann again: her phone changes; her password stays hers.
                new(email="ann@example.com", phone="+1 555 0002"),
                # The phone Ann gave up is nobody's now: a new buyer, with a password drawn then (at
                # first that phone was Ann's, so none was drawn for it).
                new(phone="+1 555 0001", name="Old phone"),
                new(email="ANN@example.com", name="Ann by phone"),
                # Ann's password, for someone else: refused by name, nothing made.
                new(email="bob@example.com", password="chosen-1"),
                # Ann lets it go; then Bob may have it.
                new(email="ann@example.com", password="chosen-2"),
                new(email="bob@example.com", password="chosen-1", access_expire=datetime(2030, 1, 1)),
                new(email="cy@example.com", media_code="nomedia"),
                new(email="cy@example.com", paywall_code="nowall00"),
                new(email="cy@example.com", media_code=elsewhere.code),
            ]
        )
        session.commit()
        assert all(isinstance(m, AddedBuyer) for i, m in enumerate(made) if i not in (4, 7, 8, 9)), made
        ann = [m.buyer for m in (made[0], made[1], made[3], made[5]) if isinstance(m, AddedBuyer)]
        assert len(ann) == 4 and {id(b) for b in ann} == {id(first[0].buyer)}
        assert (ann[0].phone, ann[0].password, ann[0].name) == ("+1 555 0002", "chosen-2", "Ann by phone")
        old_phone = made[2]
        assert isinstance(old_phone, AddedBuyer) and old_phone.buyer is not ann[0]
        assert len(old_phone.buyer.password) == 12
        refused = made[4]
        assert isinstance(refused, uow.Refused) and isinstance(refused.error, Conflict)
        bob = made[6]
        assert isinstance(bob, AddedBuyer) and bob.buyer.password == "chosen-1"
        assert isinstance(made[7], uow.Refused) and isinstance(made[7].error, NotFound)
        assert "Media nomedia not found" in str(made[7].error)
        assert isinstance(made[8], uow.Refused) and "Subscription nowall00 not found" in str(made[8].error)
        assert isinstance(made[9], uow.Refused)
        assert f"Media {elsewhere.code} is not in subscription {paywall.code}" in str(made[9].error)

        listed = {b.password: b.phone for b in paywalls.all_buyers(paywall)}
        assert listed == {"chosen-2": "+1 555 0002", old_phone.buyer.password: "+1 555 0001", "chosen-1": ""}

        # A start after the buyer's own stored expiry is refused before anything changes for it.
        later = paywalls.make_buyers(
            [new(email="bob@example.com", name="Bobby", access_start=datetime(2031, 1, 1))]
        )
        assert isinstance(later[0], uow.Refused) and isinstance(later[0].error, InvalidInput)
        session.commit()
        assert (bob.buyer.name, bob.buyer.access_start) == ("", None)


def test_one_person_added_by_two_transactions_at_once_is_one_buyer(
    client: TestClient, tenants: TenantFactory
) -> None:
    """Two batches that add one person at once — each looked it up, without a lock, before either
    committed — end with one buyer: the later one finds, under the paywall's lock, that its buyers'
    version moved past the one it read, looks again, runs again, and updates the other's buyer.
    Every transaction that added buyers raised the version by one. (Real threads, real database;
    each work is held at its first writing statement until both have looked.)"""
    app: Any = client.app
    tenant = tenants()
    with app.state.sessions() as session:
        _, _, paywall, media = _paywall_with_media(session, app.state.settings, tenant, "Race")
        paywall_id, before = paywall.id, paywall.buyers_version

    def add(email: str, name: str, other: str) -> Callable[[uow.Context], list[AddedBuyer | uow.Refused]]:
        batch = [
            _new(tenant.company_id, paywall.code, media.code, email=email, name=name),
            _new(tenant.company_id, paywall.code, media.code, email=other),
        ]
        return lambda ctx: list(PaywallService(ctx.session, ctx.settings).make_buyers(batch))

    first = add("Same@Example.com", "First", "one@example.com")
    answers = side_by_side(app, [first, add("same@example.com", "Second", "two@example.com")])
    made = [a for answer in answers if isinstance(answer, list) for a in answer]
    assert len(made) == 4 and all(isinstance(m, AddedBuyer) for m in made), answers
    same = [m.buyer.id for m in made if isinstance(m, AddedBuyer) and m.buyer.name in ("First", "Second")]
    assert same[0] == same[1], made
    with app.state.sessions() as session:
        live = session.scalars(
            select(AccessPass).where(AccessPass.paywall_id == paywall_id, AccessPass.deleted_at.is_(None))
        ).all()
        emails = sorted(b.email.lower() for b in live)
        assert emails == ["one@example.com", "same@example.com", "two@example.com"], emails
        # The one that ran again found the other's buyer: bought once, then updated.
        actions = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.action.in_(["ppv.bought", "paywall.buyer_updated"]),
                AuditEntry.company_id == tenant.company_id,
            )
        ).all()
        assert sorted(actions) == ["paywall.buyer_updated", "ppv.bought", "ppv.bought", "ppv.bought"], actions
        stored = session.get(Paywall, paywall_id)
        assert stored is not None and stored.buyers_version == before + 2
