"""Companies as resellers manage them (Iotum): create, update, delete, list within the reseller tree."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.repository import AccessRepository
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.hosts.service import HostService
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.repository import TenancyRepository
from podium.domain.tenancy.service import SUBDOMAIN_RE
from podium.kit import coerce
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.models.tenancy import Company, Reseller

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
CURRENCY_RE = re.compile(r"^[a-z]{3}$")


@dataclass(frozen=True)
class ResellerNode:
    reseller: Reseller
    descendants: list[ResellerNode]


class CompanyService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = TenancyRepository(session)
        self.access = AccessRepository(session)

    def descendants(self, actor: Actor) -> ResellerNode:
        """The actor's reseller with its tree of sub-resellers."""
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()

        def node(reseller: Reseller) -> ResellerNode:
            return ResellerNode(reseller, [node(child) for child in self.access.children(reseller.id)])

        return node(policy.own_reseller())

    def _subdomain(self, reseller_id: int, value: Any, *, company_id: int | None = None) -> str:
        subdomain = coerce.to_str("subdomain", value, maximum=63).lower()
        if not SUBDOMAIN_RE.match(subdomain):
            raise InvalidInput(
                "subdomain must be 1 to 63 lowercase letters, digits or hyphens", field="subdomain"
            )
        existing = self.repo.company_by_subdomain(reseller_id, subdomain)
        if existing is not None and existing.id != company_id:
            raise Conflict("Subdomain is already taken", field="subdomain")
        return subdomain

    def _apply(self, company: Company, fields: dict[str, Any]) -> None:
        if "name" in fields:
            name = coerce.to_str("name", fields["name"])
            if not name:
                raise InvalidInput("name must not be empty", field="name")
            company.name = name
        for key in ("partner_id", "customer_id"):
            if key in fields:
                value = fields[key]
                company.__setattr__(key, None if value is None else coerce.to_str(key, value) or None)
        if "openid_provider" in fields:
            company.openid_provider = coerce.to_bool("openid_provider", fields["openid_provider"])
        for key in ("primary_color", "accent_color"):
            if key in fields:
                color = coerce.to_str(key, fields[key] or "", maximum=7)
                if color and not COLOR_RE.match(color):
                    raise InvalidInput(f"{key} must be a CSS hex color such as #00ff00", field=key)
                setattr(company, key, color or None)
        if "currency" in fields:
            currency = coerce.to_str("currency", fields["currency"] or "", maximum=3)
            if currency and not CURRENCY_RE.match(currency):
                raise InvalidInput(
                    "currency must be a lower-case ISO 4217 code such as usd", field="currency"
                )
            company.currency = currency or None

    def create_in(self, reseller_id: int, fields: dict[str, Any], *, actor_label: str) -> Company:
        """Create a company whose subdomain is unique within its reseller.

        Raises:
            NotFound: the reseller does not exist.
            InvalidInput: a field is malformed.
            Conflict: the subdomain is taken within the reseller.
        """
        if self.access.reseller(reseller_id) is None:
            raise NotFound("Reseller not found")
        if not fields.get("name"):
            raise InvalidInput("name is required", field="name")
        if not fields.get("subdomain"):
            raise InvalidInput("subdomain is required", field="subdomain")
        company = Company(
            reseller_id=reseller_id, name="", subdomain=self._subdomain(reseller_id, fields["subdomain"])
        )
        self._apply(company, fields)
        self.repo.add(company)
        log_action(
            self.session,
            "company.created",
            actor=actor_label,
            ref=f"company:{company.id}",
            company_id=company.id,
        )
        return company

    def create(self, actor: Actor, fields: dict[str, Any]) -> Company:
        """Create a company under the reseller admin's reseller, subscribed to a product."""
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        reseller = policy.own_reseller()
        company = self.create_in(reseller.id, fields, actor_label=actor.label)
        subscriptions = SubscriptionService(self.session)
        if fields.get("product_id") is not None:
            product_id = coerce.to_int("product_id", fields["product_id"])
            product = next((p for p in subscriptions.products(reseller.id) if p.id == product_id), None)
            if product is None:
                raise NotFound("Product not found")
            subscriptions.subscribe(actor, company, product.slug)
        else:
            subscriptions.subscribe_to_default(actor, company)
        return company

    def update(self, actor: Actor, company: Company, fields: dict[str, Any]) -> Company:
        AccessPolicy(self.session, actor).require_reseller_admin()
        if "subdomain" in fields:
            company.subdomain = self._subdomain(
                company.reseller_id, fields["subdomain"], company_id=company.id
            )
        self._apply(company, fields)
        self.session.flush()
        log_action(
            self.session,
            "company.updated",
            actor=actor.label,
            ref=f"company:{company.id}",
            company_id=company.id,
            fields=sorted(fields),
        )
        return company

    def delete(self, actor: Actor, company: Company) -> None:
        """Cancel every subscription, delete every host, mark the company deleted."""
        AccessPolicy(self.session, actor).require_reseller_admin()
        if company.id == actor.company_id:
            raise Conflict("A reseller admin cannot delete its own company")
        SubscriptionService(self.session).cancel_all(actor, company)
        HostService(self.session, self.settings).delete_all(actor, company)
        company.deleted_at = utcnow()
        self.session.flush()
        log_action(
            self.session,
            "company.deleted",
            actor=actor.label,
            ref=f"company:{company.id}",
            company_id=company.id,
        )

    def in_scope(self, actor: Actor) -> Sequence[Company]:
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        return self.repo.live_companies(policy.reseller_ids())

    def host_ids(self, companies: Sequence[Company]) -> dict[int, list[int]]:
        return self.repo.live_host_ids_by_company([c.id for c in companies])

    def set_host_limits_locked(self, company_id: int, locked: bool) -> Company:
        company = self.repo.company(company_id)
        if company is None or company.deleted_at is not None:
            raise NotFound("Company not found")
        company.host_limits_locked = locked
        self.session.flush()
        return company
