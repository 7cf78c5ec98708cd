"""Companies as resellers manage them (Iotum): create, update, delete, list within the reseller tree."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.repository import AccessRepository
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.hosts.service import HostService
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.repository import TenancyRepository
from podium.domain.tenancy.schemas import CompanyChanges, NewCompany
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.kit.unset import Unset
from podium.kit.validation import clean_text
from podium.models.tenancy import Company, Reseller

SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
CURRENCY_RE = re.compile(r"^[a-z]{3}$")


@dataclass(frozen=True)
class ResellerNode:
    reseller: Reseller
    descendants: list[ResellerNode]


def _given(value: str | Unset) -> bool:
    """A required text field counts as missing when not given or empty (before trimming)."""
    return not isinstance(value, Unset) and bool(value)


class CompanyService:
    """Companies as resellers manage them.

    The API methods (``descendants``, ``create``, ``fetch``, ``update``, ``delete``, ``in_scope``)
    take the actor and check it through the access policy: reseller admins only, within their
    reseller tree. ``create_in`` and ``set_host_limits_locked`` are the command line's (trusted);
    ``host_ids`` reads for companies the caller holds.
    """

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = TenancyRepository(session)
        self.access = AccessRepository(session)

    # --- the API: the actor's scope is checked here ------------------------------------------

    def descendants(self, actor: Actor) -> ResellerNode:
        """The actor's reseller with its tree of sub-resellers.

        Raises:
            Forbidden: not a reseller admin.
        """
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()

        def node(reseller: Reseller) -> ResellerNode:
            return ResellerNode(reseller, [node(child) for child in self.access.children(reseller.id)])

        return node(policy.own_reseller())

    def create(self, actor: Actor, command: NewCompany) -> Company:
        """Create a company under the reseller admin's reseller, subscribed to a product.

        Args:
            actor: who is calling (a reseller admin).
            command: the company's fields and, optionally, the product to subscribe it to.

        Raises:
            Forbidden: not a reseller admin.
            InvalidInput: a field is missing or malformed.
            Conflict: the subdomain is taken within the reseller.
            NotFound: ``product_id`` names no product of the catalogue.
        """
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        reseller = policy.own_reseller()
        company = self.create_in(reseller.id, command.fields, actor_label=actor.label)
        subscriptions = SubscriptionService(self.session)
        if command.product_id is not None:
            product_id = command.product_id
            product = next((p for p in subscriptions.products(reseller.id) if p.id == product_id), None)
            if product is None:
                raise NotFound("Product not found")
            subscriptions.subscribe(actor, company, product.slug)
        else:
            subscriptions.subscribe_to_default(actor, company)
        return company

    def fetch(self, actor: Actor, company_id: int) -> Company:
        """A company of the reseller admin's tree.

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company does not exist or is deleted.
        """
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        return policy.company(company_id)

    def update(self, actor: Actor, company_id: int, changes: CompanyChanges) -> Company:
        """Change the fields given.

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company does not exist or is deleted.
            InvalidInput: a field is malformed.
            Conflict: the new subdomain is taken within the reseller.
        """
        company = self.fetch(actor, company_id)
        if not isinstance(changes.subdomain, Unset):
            company.subdomain = self._subdomain(company.reseller_id, changes.subdomain, company_id=company.id)
        self._apply(company, changes)
        self.session.flush()
        log_action(
            self.session,
            "company.updated",
            actor=actor.label,
            ref=f"company:{company.id}",
            company_id=company.id,
            fields=changes.given(),
        )
        return company

    def delete(self, actor: Actor, company_id: int) -> None:
        """Cancel every subscription, delete every host, mark the company deleted.

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company does not exist or is deleted.
            Conflict: the reseller admin's own company.
        """
        company = self.fetch(actor, company_id)
        if company.id == actor.company_id:
            raise Conflict("A reseller admin cannot delete its own company")
        SubscriptionService(self.session).cancel_all(actor, company.id)
        HostService(self.session, self.settings).delete_all(actor, company.id)
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
        """Every live company of the reseller admin's tree.

        Raises:
            Forbidden: not a reseller admin.
        """
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        return self.repo.live_companies(policy.reseller_ids())

    def looked_after(self, actor: Actor) -> Sequence[Company]:
        """The companies an admin looks after: a reseller admin's whole tree, a company admin's own.

        Raises:
            Forbidden: a plain host.
        """
        policy = AccessPolicy(self.session, actor)
        policy.require_admin()
        if actor.is_reseller_admin:
            return self.repo.live_companies(policy.reseller_ids())
        return [policy.company(None)]

    def named(self, actor: Actor, company_id: int) -> Company:
        """One company an admin looks after, by id (a company admin: its own only).

        Raises:
            Forbidden: a plain host, another company of a company admin, beyond a reseller's tree.
            NotFound: the company does not exist or is deleted.
        """
        return AccessPolicy(self.session, actor).named_company(company_id)

    # --- trusted: the command line and views ------------------------------------------------

    def create_in(self, reseller_id: int, fields: CompanyChanges, *, actor_label: str) -> Company:
        """Create a company whose subdomain is unique within its reseller (no access check).

        Raises:
            NotFound: the reseller does not exist.
            InvalidInput: a field is missing or malformed.
            Conflict: the subdomain is taken within the reseller.
        """
        if self.access.reseller(reseller_id) is None:
            raise NotFound("Reseller not found")
        if not _given(fields.name):
            raise InvalidInput("name is required", field="name")
        if isinstance(fields.subdomain, Unset) or not _given(fields.subdomain):
            raise InvalidInput("subdomain is required", field="subdomain")
        company = Company(
            reseller_id=reseller_id, name="", subdomain=self._subdomain(reseller_id, fields.subdomain)
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

    def host_ids(self, companies: Sequence[Company]) -> dict[int, list[int]]:
        """The live hosts of each company, by company id."""
        return self.repo.live_host_ids_by_company([c.id for c in companies])

    def set_host_limits_locked(self, company_id: int, locked: bool) -> Company:
        """Lock (or unlock) the company's host limits: a full subscription then refuses new hosts.

        Raises:
            NotFound: the company does not exist or is deleted.
        """
        company = self.repo.company(company_id)
        if company is None or company.deleted_at is not None:
            raise NotFound("Company not found")
        company.host_limits_locked = locked
        self.session.flush()
        return company

    # --- rules ---------------------------------------------------------------------------------

    def _subdomain(self, reseller_id: int, value: str, *, company_id: int | None = None) -> str:
        subdomain = clean_text("subdomain", value, 63).lower()
        if not SUBDOMAIN_RE.match(subdomain):
            raise InvalidInput(
                "subdomain must be 1 to 63 lowercase letters, digits or hyphens", field="subdomain"
            )
        existing = self.repo.company_by_subdomain(reseller_id, subdomain)
        if existing is not None and existing.id != company_id:
            raise Conflict("Subdomain is already taken", field="subdomain")
        return subdomain

    def _apply(self, company: Company, changes: CompanyChanges) -> None:
        if not isinstance(changes.name, Unset):
            name = clean_text("name", changes.name)
            if not name:
                raise InvalidInput("name must not be empty", field="name")
            company.name = name
        for key in ("partner_id", "customer_id"):
            value = getattr(changes, key)
            if not isinstance(value, Unset):
                setattr(company, key, None if value is None else clean_text(key, value) or None)
        if not isinstance(changes.openid_provider, Unset):
            company.openid_provider = changes.openid_provider
        for key in ("primary_color", "accent_color"):
            given = getattr(changes, key)
            if not isinstance(given, Unset):
                color = clean_text(key, given, 7)
                if color and not COLOR_RE.match(color):
                    raise InvalidInput(f"{key} must be a CSS hex color such as #00ff00", field=key)
                setattr(company, key, color or None)
        if not isinstance(changes.currency, Unset):
            currency = clean_text("currency", changes.currency, 3)
            if currency and not CURRENCY_RE.match(currency):
                raise InvalidInput(
                    "currency must be a lower-case ISO 4217 code such as usd", field="currency"
                )
            company.currency = currency or None
