"""Products (plans and add-ons) and a company's subscriptions to them, with host assignment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from podium.domain.access.repository import AccessRepository
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import SYSTEM_LABEL, Actor
from podium.domain.audit.service import log_action
from podium.domain.conferences.lifecycle import stop_live
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.outbox.service import enqueue
from podium.domain.subscriptions.repository import SubscriptionRepository
from podium.domain.subscriptions.schemas import NewSubscription
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from podium.kit.unset import UNSET, Unset
from podium.models.subscription import Feature, Pricing, Product, Subscription, SubscriptionStatus
from podium.models.tenancy import Company, Host

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# The reference's example catalogue, seeded by `podium admin bootstrap`. Its default product is
# small_plan: the plan every host of the reference's examples is on (host/create, host/fetch), the one
# its subscription samples subscribe, and the least a company needs to host (large_plan grants every
# feature, which a reseller sells on purpose rather than by default).
EXAMPLE_CATALOGUE: tuple[dict[str, object], ...] = (
    {
        "slug": "small_plan",
        "name": "Small Conference Plan",
        "is_plan": True,
        "pricing": Pricing.PER_HOST,
        "description": "Description of the Small Conference Plan",
        "features": [Feature.HOSTING, Feature.ONE_TIME_ACCESS_CODE],
        "is_default": True,
    },
    {
        "slug": "large_plan",
        "name": "Large Conference Plan",
        "is_plan": True,
        "pricing": Pricing.PER_HOST,
        "description": "Description of the Large Conference Plan",
        "features": list(Feature),
    },
    {
        "slug": "recording",
        "name": "Recording Add-On",
        "is_plan": False,
        "pricing": Pricing.PER_HOST,
        "description": "Description of the Recording Add-On",
        "features": [Feature.RECORDING, Feature.VIDEO_RECORDING, Feature.TRANSCRIPTION],
    },
)


@dataclass(frozen=True)
class HostPlan:
    """What a host is subscribed to, and what that grants."""

    subscriptions: list[tuple[Subscription, Product]]

    @property
    def plan_slug(self) -> str | None:
        plans = [p.slug for s, p in self.subscriptions if p.is_plan]
        return plans[0] if plans else None

    @property
    def add_on_slugs(self) -> list[str]:
        return [p.slug for _, p in self.subscriptions if not p.is_plan]

    @property
    def subscription_ids(self) -> list[int]:
        return [s.id for s, _ in self.subscriptions]

    def features(self) -> set[str]:
        """Features of active subscriptions only: a suspended subscription grants nothing."""
        granted: set[str] = set()
        for subscription, product in self.subscriptions:
            if subscription.status == SubscriptionStatus.ACTIVE:
                granted.update(product.features)
                if product.is_plan:
                    granted.add(Feature.HOSTING)
        return granted

    def can_host(self) -> bool:
        return Feature.HOSTING in self.features()


@dataclass(frozen=True)
class SubscriptionUsage:
    """A current subscription, its product, and how many live hosts are on it (``used``)."""

    subscription: Subscription
    product: Product
    used: int

    @property
    def limit(self) -> int | None:
        """The host limit (None: a flat-priced product has none)."""
        return self.subscription.host_limit


class SubscriptionService:
    """Catalogues, company subscriptions and which hosts are on them.

    The API methods (``catalogue``, ``create``, ``update``, ``set_status``, ``schedule_set_all``,
    ``for_company``, ``cancel_all``) take the actor and the company's id and check it through the
    access policy. The rest is trusted: the catalogue commands are the command line's, ``subscribe``
    and ``set_host_subscriptions`` are called once the company and host are checked (company and
    host creation, set-up), ``set_all`` is the background job, and ``host_plan``, ``host_plans``,
    ``ensure_can_host``, ``live`` and ``products`` read for callers that hold the objects.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = SubscriptionRepository(session)
        self.access = AccessRepository(session)

    # --- the API: the actor's scope is checked here ------------------------------------------

    def catalogue(self, actor: Actor) -> Sequence[Product]:
        """The plans and add-ons an admin's reseller sells (its own catalogue or its nearest ancestor's).

        Raises:
            Forbidden: a plain host.
        """
        AccessPolicy(self.session, actor).require_admin()
        return self.products(actor.reseller_id or 0)

    def create(self, actor: Actor, company_id: int | None, command: NewSubscription) -> Subscription:
        """Subscribe a company to a product of its catalogue (see ``subscribe``).

        Args:
            actor: who is calling; a company admin always acts on its own company.
            company_id: the company (required of a reseller admin).
            command: the product and how hosts and current plans are handled.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company, the product or the ``switch_plan`` subscription does not exist.
            InvalidInput: no slug, a host limit below 1, a ``switch_plan`` that is not a plan.
            Conflict: the company already holds the product, or a locked host limit is reached.
        """
        company = AccessPolicy(self.session, actor).company(company_id)
        return self.subscribe(
            actor,
            company,
            _slug(command.slug),
            switch_plan=command.switch_plan,
            host_limit=command.host_limit,
            subscribe_all_hosts=command.subscribe_all_hosts,
        )

    def update(self, actor: Actor, company_id: int | None, slug: str, *, host_limit: int) -> Subscription:
        """Change the host limit of a company's subscription.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company or the subscription does not exist.
            InvalidInput: no slug, a limit below 1 or below the hosts assigned.
        """
        company = AccessPolicy(self.session, actor).company(company_id)
        subscription = self.by_slug(company, _slug(slug))
        if host_limit < 1:
            raise InvalidInput("host_limit must be a positive integer", field="host_limit")
        assigned = self.repo.assigned_count(subscription.id)
        if host_limit < assigned:
            raise InvalidInput(
                f"host_limit cannot be below the {assigned} hosts assigned", field="host_limit"
            )
        subscription.host_limit = host_limit
        self.session.flush()
        log_action(
            self.session,
            "subscription.updated",
            actor=actor.label,
            ref=f"subscription:{subscription.id}",
            company_id=company.id,
            host_limit=host_limit,
        )
        return subscription

    def set_status(
        self, actor: Actor, company_id: int, slug: str, status: SubscriptionStatus
    ) -> Subscription:
        """Suspend, reactivate or cancel (final) one subscription (reseller admins only).

        Live conferences whose organiser can no longer host end at once.

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company or the subscription does not exist.
            InvalidInput: no slug.
        """
        company = self._reseller_company(actor, company_id)
        subscription = self.by_slug(company, _slug(slug))
        if status == SubscriptionStatus.CANCELLED:
            self._cancel(actor, company, subscription, reason="cancelled")
        else:
            subscription.status = status
            log_action(
                self.session,
                f"subscription.{status.value.lower()}",
                actor=actor.label,
                ref=f"subscription:{subscription.id}",
                company_id=company.id,
            )
        self.session.flush()
        if status != SubscriptionStatus.ACTIVE:
            self.stop_unhostable(company.id, actor.label)
        return subscription

    def schedule_set_all(
        self,
        actor: Actor,
        company_id: int,
        from_status: SubscriptionStatus,
        to_status: SubscriptionStatus,
    ) -> None:
        """Accept moving every subscription of a company from one status to another (reseller admins
        only); the outbox worker does it (``set_all``), as the reference makes it asynchronous.

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company does not exist.
        """
        company = self._reseller_company(actor, company_id)
        enqueue(
            self.session,
            "job",
            {
                "job": "subscriptions.set_all",
                "company_id": company.id,
                "from": from_status.value,
                "to": to_status.value,
                "actor": actor.label,
            },
        )

    def for_company(self, actor: Actor, company_id: int) -> Sequence[tuple[Subscription, Product]]:
        """A company's current (not cancelled) subscriptions with their products (reseller admins only).

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company does not exist.
        """
        return self.live(self._reseller_company(actor, company_id))

    def usage(self, actor: Actor, company_id: int) -> list[SubscriptionUsage]:
        """A company's current subscriptions with their hosts used against their limits (company and
        reseller admins; the company named by id, see ``AccessPolicy.named_company``).

        Raises:
            Forbidden: a plain host, another company of a company admin, beyond a reseller's tree.
            NotFound: the company does not exist.
        """
        company = AccessPolicy(self.session, actor).named_company(company_id)
        rows = self.repo.live_for_company(company.id)
        counts = self.repo.assigned_counts([s.id for s, _ in rows])
        return [SubscriptionUsage(s, p, counts.get(s.id, 0)) for s, p in rows]

    def cancel_all(self, actor: Actor, company_id: int) -> None:
        """Cancel every subscription of a company (reseller admins only; company deletion).

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company does not exist.
        """
        company = self._reseller_company(actor, company_id)
        for subscription, _ in self.repo.live_for_company(company.id):
            self._cancel(actor, company, subscription, reason="cancelled")
        self.session.flush()
        self.stop_unhostable(company.id, actor.label)

    def _reseller_company(self, actor: Actor, company_id: int) -> Company:
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        return policy.company(company_id)

    # --- trusted: the command line, set-up, the job and other services ------------------------

    # --- catalogue ---------------------------------------------------------------------

    def catalogue_reseller(self, reseller_id: int) -> int:
        """The reseller whose catalogue applies: the nearest one up the tree that has products."""
        current: int | None = reseller_id
        while current is not None:
            if self.repo.products(current):
                return current
            reseller = self.access.reseller(current)
            current = reseller.parent_id if reseller else None
        return reseller_id

    def products(self, reseller_id: int) -> Sequence[Product]:
        """The catalogue that applies to the reseller (its own, or its nearest ancestor's)."""
        return self.repo.products(self.catalogue_reseller(reseller_id))

    def create_product(
        self,
        reseller_id: int,
        *,
        slug: str,
        name: str,
        is_plan: bool,
        pricing: Pricing,
        price_cents: int = 0,
        description: str = "",
        features: Sequence[str] = (),
        is_default: bool = False,
    ) -> Product:
        """Add a plan or add-on to a reseller's catalogue (command line only).

        The first plan of a catalogue becomes its default product; ``is_default`` makes this plan
        the default instead of the current one.

        Raises:
            InvalidInput: a malformed slug, unknown features, a negative price, an add-on as default.
        """
        if self.access.reseller(reseller_id) is None:
            raise NotFound("Reseller not found")
        if is_default and not is_plan:
            raise InvalidInput("Only a plan can be the default product")
        if not SLUG_RE.match(slug):
            raise InvalidInput(
                "slug must be lowercase letters, digits and underscores, starting with a letter"
            )
        unknown = set(features) - {f.value for f in Feature}
        if unknown:
            raise InvalidInput(f"Unknown features: {', '.join(sorted(unknown))}")
        if price_cents < 0:
            raise InvalidInput("price must not be negative")
        if self.repo.product_by_slug(reseller_id, slug) is not None:
            raise Conflict("A product with this slug already exists")
        granted = sorted(set(features) | ({Feature.HOSTING.value} if is_plan else set()))
        product = Product(
            reseller_id=reseller_id,
            slug=slug,
            name=name.strip() or slug,
            is_plan=is_plan,
            pricing=pricing,
            price_cents=price_cents,
            description=description,
            features=granted,
        )
        self.repo.add(product)
        log_action(
            self.session,
            "product.created",
            actor=SYSTEM_LABEL,
            ref=f"product:{product.id}",
            company_id=None,
            slug=slug,
        )
        if is_plan and (is_default or self.repo.default_product(reseller_id) is None):
            self._make_default(product)
        return product

    def _make_default(self, product: Product) -> None:
        current = self.repo.default_product(product.reseller_id)
        if current is not None and current.id != product.id:
            current.is_default = False
            self.session.flush()  # the unique index allows one default per catalogue at any moment
        product.is_default = True
        self.session.flush()
        log_action(
            self.session,
            "product.default",
            actor=SYSTEM_LABEL,
            ref=f"product:{product.id}",
            company_id=None,
            slug=product.slug,
        )

    def set_default_plan(self, reseller_id: int, slug: str) -> Product:
        """Make one plan of the reseller's own catalogue its default product (command line only)."""
        if self.access.reseller(reseller_id) is None:
            raise NotFound("Reseller not found")
        product = self.repo.product_by_slug(reseller_id, slug) if slug else None
        if product is None:
            raise NotFound(f"Product '{slug}' not found")
        if not product.is_plan:
            raise InvalidInput("Only a plan can be the default product")
        self._make_default(product)
        return product

    def default_plan(self, reseller_id: int) -> Product | None:
        """The default product of the catalogue that applies to the reseller (None when it has none).

        The reference's company/create subscribes "the default product defined in the reseller
        domain": a sub-reseller without a catalogue of its own uses its nearest ancestor's, default
        included.
        """
        return self.repo.default_product(self.catalogue_reseller(reseller_id))

    def subscribe_to_default(self, actor: Actor | None, company: Company) -> Subscription | None:
        """Subscribe a new company to its reseller's default plan, if the catalogue has one."""
        plan = self.default_plan(company.reseller_id)
        return self.subscribe(actor, company, plan.slug) if plan is not None else None

    def seed_example_catalogue(self, reseller_id: int) -> list[Product]:
        """Add the reference's example products the reseller's catalogue lacks (bootstrap)."""
        return [
            self.create_product(reseller_id, **spec)  # type: ignore[arg-type]
            for spec in EXAMPLE_CATALOGUE
            if self.repo.product_by_slug(reseller_id, str(spec["slug"])) is None
        ]

    def _product(self, company: Company, slug: str) -> Product:
        product = (
            self.repo.product_by_slug(self.catalogue_reseller(company.reseller_id), slug) if slug else None
        )
        if product is None:
            raise NotFound(f"Product '{slug}' not found")
        return product

    # --- subscriptions -------------------------------------------------------------------

    def live(self, company: Company) -> Sequence[tuple[Subscription, Product]]:
        """The company's current (not cancelled) subscriptions with their products."""
        return self.repo.live_for_company(company.id)

    def by_slug(self, company: Company, slug: str) -> Subscription:
        """The company's current subscription to the product ``slug``.

        Raises:
            NotFound: the company holds no current subscription to it.
        """
        subscription = self.repo.live_by_slug(company.id, slug) if slug else None
        if subscription is None:
            raise NotFound(f"Subscription to '{slug}' not found")
        return subscription

    def subscribe(
        self,
        actor: Actor | None,
        company: Company,
        slug: str,
        *,
        switch_plan: int | None | Unset = UNSET,
        host_limit: int | None = None,
        subscribe_all_hosts: bool = True,
    ) -> Subscription:
        """Subscribe a company the caller has checked to a product (trusted; ``create`` checks).

        For a plan, ``switch_plan`` omitted replaces the company's current plans, an id replaces
        that plan only, and None adds the plan beside the others. Hosts on a replaced plan move to
        the new one. ``actor`` None is the command line; any object with a ``label`` will do.

        Raises:
            NotFound: the product or the ``switch_plan`` subscription does not exist.
            InvalidInput: a host limit below 1, or a ``switch_plan`` that is not a plan.
            Conflict: the company already holds a live subscription to it, or a locked limit is hit.
        """
        product = self._product(company, slug)
        if host_limit is not None and host_limit < 1:
            raise InvalidInput("host_limit must be a positive integer", field="host_limit")
        if self.repo.live_by_slug(company.id, slug) is not None:
            raise Conflict(f"The company is already subscribed to '{slug}'")
        replaced: list[Subscription] = []
        if product.is_plan and not isinstance(switch_plan, Unset) and switch_plan is not None:
            target = self.repo.subscription(switch_plan)
            if (
                target is None
                or target.company_id != company.id
                or target.status == SubscriptionStatus.CANCELLED
            ):
                raise NotFound("switch_plan does not name a current subscription of this company")
            target_product = self.repo.product(target.product_id)
            if target_product is None or not target_product.is_plan:
                raise InvalidInput("switch_plan must name a plan subscription", field="switch_plan")
            replaced = [target]
        elif product.is_plan and isinstance(switch_plan, Unset):
            replaced = [s for s, p in self.repo.live_for_company(company.id) if p.is_plan]
        subscription = Subscription(
            company_id=company.id,
            product_id=product.id,
            status=SubscriptionStatus.ACTIVE,
            host_limit=host_limit if product.pricing == Pricing.PER_HOST else None,
        )
        self.repo.add(subscription)
        movers: list[int] = []
        for old in replaced:
            movers.extend(self.repo.assigned_host_ids(old.id))
            self._cancel(actor, company, old, reason="switched")
        hosts = self.repo.live_host_ids(company.id) if subscribe_all_hosts else movers
        for host_id in dict.fromkeys(hosts):
            self._assign(company, host_id, subscription, product)
        if product.pricing == Pricing.PER_HOST and subscription.host_limit is None:
            subscription.host_limit = max(1, self.repo.assigned_count(subscription.id))
        self.session.flush()
        log_action(
            self.session,
            "subscription.created",
            actor=actor.label if actor is not None else SYSTEM_LABEL,
            ref=f"subscription:{subscription.id}",
            company_id=company.id,
            slug=slug,
            replaced=[s.id for s in replaced],
        )
        return subscription

    def stop_unhostable(self, company_id: int, actor_label: str) -> None:
        """Live conferences whose organiser can no longer host (plan suspended or cancelled) end now."""
        now = utcnow()
        for conference in ConferenceRepository(self.session).running_for_company(company_id):
            if conference.host_id is None:
                continue
            if not HostPlan(list(self.repo.for_host(conference.host_id))).can_host():
                stop_live(self.session, conference, now, actor_label=actor_label, reason="suspended")

    def set_all(
        self,
        actor_label: str,
        company_id: int,
        from_status: SubscriptionStatus,
        to_status: SubscriptionStatus,
    ) -> int:
        """Move every subscription of a company in ``from_status`` to ``to_status`` (the background job)."""
        changed = 0
        for subscription, _ in self.repo.live_for_company(company_id):
            if subscription.status == from_status:
                subscription.status = to_status
                changed += 1
        self.session.flush()
        log_action(
            self.session,
            f"subscription.all_{to_status.value.lower()}",
            actor=actor_label,
            ref=f"company:{company_id}",
            company_id=company_id,
            changed=changed,
        )
        if to_status != SubscriptionStatus.ACTIVE:
            self.stop_unhostable(company_id, actor_label)
        return changed

    def _cancel(
        self, actor: Actor | None, company: Company, subscription: Subscription, *, reason: str
    ) -> None:
        subscription.status = SubscriptionStatus.CANCELLED
        subscription.cancelled_at = utcnow()
        for host_id in self.repo.assigned_host_ids(subscription.id):
            self.repo.unassign(host_id, subscription.id)
        log_action(
            self.session,
            f"subscription.{reason}",
            actor=actor.label if actor is not None else SYSTEM_LABEL,
            ref=f"subscription:{subscription.id}",
            company_id=company.id,
        )

    # --- hosts ---------------------------------------------------------------------------

    def _assign(self, company: Company, host_id: int, subscription: Subscription, product: Product) -> None:
        """Assign a host, raising a per-host subscription's limit unless the company locked limits."""
        if product.is_plan:
            # A host holds one plan at a time.
            for other, other_product in self.repo.for_host(host_id):
                if other_product.is_plan and other.id != subscription.id:
                    self.repo.unassign(host_id, other.id)
        self.repo.assign(host_id, subscription.id)
        if subscription.host_limit is not None:
            assigned = self.repo.assigned_count(subscription.id)
            if assigned > subscription.host_limit:
                if company.host_limits_locked:
                    raise Conflict(
                        f"Host limit of subscription {subscription.id} ({product.slug}) reached and "
                        "host limit changes are locked for this company"
                    )
                subscription.host_limit = assigned

    def set_host_subscriptions(
        self,
        company: Company,
        host: Host,
        *,
        subscription_ids: Sequence[int] | None = None,
        plan_slug: str | None = None,
        add_on_slugs: Sequence[str] | None = None,
    ) -> None:
        """Set exactly which subscriptions a host is on, by ids or by plan and add-on slugs."""
        if subscription_ids is not None and (plan_slug is not None or add_on_slugs is not None):
            raise InvalidInput("Give subscription_ids or plan_slug/add_on_slugs, not both")
        live = {s.id: (s, p) for s, p in self.repo.live_for_company(company.id)}
        wanted: list[tuple[Subscription, Product]] = []
        if subscription_ids is not None:
            for subscription_id in dict.fromkeys(subscription_ids):
                if subscription_id not in live:
                    raise NotFound(f"Subscription {subscription_id} not found in this company")
                wanted.append(live[subscription_id])
        else:
            by_slug = {p.slug: (s, p) for s, p in live.values()}
            current = self.repo.for_host(host.id)
            if plan_slug is None:
                wanted.extend((s, p) for s, p in current if p.is_plan)
            if add_on_slugs is None:
                wanted.extend((s, p) for s, p in current if not p.is_plan)
            for slug, must_be_plan in [(plan_slug, True)] + [(slug, False) for slug in (add_on_slugs or [])]:
                if slug is None:
                    continue
                if slug not in by_slug:
                    raise NotFound(f"The company has no subscription to '{slug}'")
                if by_slug[slug][1].is_plan != must_be_plan:
                    kind = "a plan" if must_be_plan else "an add-on"
                    raise InvalidInput(f"'{slug}' is not {kind}")
                wanted.append(by_slug[slug])
        if sum(1 for _, p in wanted if p.is_plan) > 1:
            raise InvalidInput("A host can be assigned to one plan only")
        self.repo.unassign_all(host.id)
        for subscription, product in wanted:
            self._assign(company, host.id, subscription, product)
        self.session.flush()

    def host_plan(self, host: Host) -> HostPlan:
        """What the host is subscribed to, and what that grants."""
        return HostPlan(list(self.repo.for_host(host.id)))

    def host_plans(self, hosts: Sequence[Host]) -> dict[int, HostPlan]:
        """``host_plan`` of many hosts in one query, by host id."""
        return {
            host_id: HostPlan(subs) for host_id, subs in self.repo.for_hosts([h.id for h in hosts]).items()
        }

    def ensure_can_host(self, host: Host) -> None:
        """A host hosts only while one of its plans is active (suspension stops hosting).

        Raises:
            Forbidden: no active plan.
        """
        if not self.host_plan(host).can_host():
            raise Forbidden("The host's plan is suspended or missing: hosting is not available")


def _slug(slug: str) -> str:
    if not slug:
        raise InvalidInput("slug is required", field="slug")
    return slug
