from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from podium.models.subscription import HostSubscription, Product, Subscription, SubscriptionStatus
from podium.models.tenancy import Host


class SubscriptionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: Product | Subscription | HostSubscription) -> None:
        self.session.add(obj)
        self.session.flush()

    def products(self, reseller_id: int) -> Sequence[Product]:
        stmt = select(Product).where(Product.reseller_id == reseller_id).order_by(Product.id)
        return self.session.scalars(stmt).all()

    def default_product(self, reseller_id: int) -> Product | None:
        stmt = select(Product).where(Product.reseller_id == reseller_id, Product.is_default.is_(True))
        return self.session.scalar(stmt)

    def product_by_slug(self, reseller_id: int, slug: str) -> Product | None:
        stmt = select(Product).where(Product.reseller_id == reseller_id, Product.slug == slug)
        return self.session.scalar(stmt)

    def product(self, product_id: int) -> Product | None:
        return self.session.get(Product, product_id)

    def subscription(self, subscription_id: int) -> Subscription | None:
        return self.session.get(Subscription, subscription_id)

    def live_for_company(self, company_id: int) -> Sequence[tuple[Subscription, Product]]:
        stmt = (
            select(Subscription, Product)
            .join(Product, Product.id == Subscription.product_id)
            .where(Subscription.company_id == company_id, Subscription.status != SubscriptionStatus.CANCELLED)
            .order_by(Subscription.id)
        )
        return [(row[0], row[1]) for row in self.session.execute(stmt).all()]

    def live_by_slug(self, company_id: int, slug: str) -> Subscription | None:
        stmt = (
            select(Subscription)
            .join(Product, Product.id == Subscription.product_id)
            .where(
                Subscription.company_id == company_id,
                Product.slug == slug,
                Subscription.status != SubscriptionStatus.CANCELLED,
            )
        )
        return self.session.scalar(stmt)

    def for_host(self, host_id: int) -> Sequence[tuple[Subscription, Product]]:
        stmt = (
            select(Subscription, Product)
            .join(HostSubscription, HostSubscription.subscription_id == Subscription.id)
            .join(Product, Product.id == Subscription.product_id)
            .where(HostSubscription.host_id == host_id, Subscription.status != SubscriptionStatus.CANCELLED)
            .order_by(Subscription.id)
        )
        return [(row[0], row[1]) for row in self.session.execute(stmt).all()]

    def for_hosts(self, host_ids: Sequence[int]) -> dict[int, list[tuple[Subscription, Product]]]:
        """Live subscriptions of many hosts in one query (for lists)."""
        result: dict[int, list[tuple[Subscription, Product]]] = {host_id: [] for host_id in host_ids}
        if not host_ids:
            return result
        stmt = (
            select(HostSubscription.host_id, Subscription, Product)
            .join(Subscription, HostSubscription.subscription_id == Subscription.id)
            .join(Product, Product.id == Subscription.product_id)
            .where(
                HostSubscription.host_id.in_(host_ids), Subscription.status != SubscriptionStatus.CANCELLED
            )
            .order_by(Subscription.id)
        )
        for host_id, subscription, product in self.session.execute(stmt).all():
            result[host_id].append((subscription, product))
        return result

    def assigned_host_ids(self, subscription_id: int) -> list[int]:
        stmt = (
            select(HostSubscription.host_id)
            .join(Host, Host.id == HostSubscription.host_id)
            .where(HostSubscription.subscription_id == subscription_id, Host.deleted_at.is_(None))
        )
        return list(self.session.scalars(stmt).all())

    def assigned_count(self, subscription_id: int) -> int:
        stmt = (
            select(func.count())
            .select_from(HostSubscription)
            .join(Host, Host.id == HostSubscription.host_id)
            .where(HostSubscription.subscription_id == subscription_id, Host.deleted_at.is_(None))
        )
        return int(self.session.scalar(stmt) or 0)

    def assigned_counts(self, subscription_ids: Sequence[int]) -> dict[int, int]:
        """``assigned_count`` of many subscriptions in one query (those with no host are left out)."""
        if not subscription_ids:
            return {}
        stmt = (
            select(HostSubscription.subscription_id, func.count())
            .join(Host, Host.id == HostSubscription.host_id)
            .where(HostSubscription.subscription_id.in_(list(subscription_ids)), Host.deleted_at.is_(None))
            .group_by(HostSubscription.subscription_id)
        )
        return {int(row[0]): int(row[1]) for row in self.session.execute(stmt).all()}

    def assign(self, host_id: int, subscription_id: int) -> None:
        if self.session.get(HostSubscription, (host_id, subscription_id)) is None:
            self.add(HostSubscription(host_id=host_id, subscription_id=subscription_id))

    def unassign(self, host_id: int, subscription_id: int) -> None:
        self.session.execute(
            delete(HostSubscription).where(
                HostSubscription.host_id == host_id, HostSubscription.subscription_id == subscription_id
            )
        )

    def unassign_all(self, host_id: int) -> None:
        self.session.execute(delete(HostSubscription).where(HostSubscription.host_id == host_id))

    def live_host_ids(self, company_id: int) -> list[int]:
        stmt = (
            select(Host.id).where(Host.company_id == company_id, Host.deleted_at.is_(None)).order_by(Host.id)
        )
        return list(self.session.scalars(stmt).all())
