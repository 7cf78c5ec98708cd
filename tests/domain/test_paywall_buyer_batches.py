"""Buyers made in one batch (``PaywallService.make_buyers``, the group commit's write for
``ppv/addbuyer``) come out as if they had been added one after the other, in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from podium.domain.conferences.service import UNSET
from podium.domain.media.service import MediaService
from podium.domain.paywall.service import AddedBuyer, NewBuyer, PaywallChanges, PaywallService
from podium.domain.tenancy.service import TenancyService
from podium.kit import uow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from tests.fixtures.tenants import TenantFactory


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


def test_a_batch_is_made_as_if_one_buyer_came_after_the_other(
    client: TestClient, tenants: TenantFactory
) -> None:
    app: Any = client.app
    tenant = tenants()
    with app.state.sessions() as session:
        settings = app.state.settings
        actor = TenancyService(session, settings).authenticate_boomstream(tenant.boomstream_apikey)
        media = MediaService(session, settings).create(actor, title="Batch")
        paywalls = PaywallService(session, settings)
        paywall = paywalls.create(actor, access_kind="", changes=PaywallChanges(name="Batch", period_days=30))
        paywalls.add_media(actor, paywall, media)
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
            ]
        )
        session.commit()
        assert all(isinstance(m, AddedBuyer) for i, m in enumerate(made) if i not in (4, 7, 8)), made
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

        listed = {b.password: b.phone for b in paywalls.all_buyers(paywall)}
        assert listed == {"chosen-2": "+1 555 0002", old_phone.buyer.password: "+1 555 0001", "chosen-1": ""}

        # A start after the buyer's own stored expiry is refused before anything changes for it.
        later = paywalls.make_buyers(
            [new(email="bob@example.com", name="Bobby", access_start=datetime(2031, 1, 1))]
        )
        assert isinstance(later[0], uow.Refused) and isinstance(later[0].error, InvalidInput)
        session.commit()
        assert (bob.buyer.name, bob.buyer.access_start) == ("", None)
