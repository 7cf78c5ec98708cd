"""Iotum enterprise API: products and subscriptions."""

from __future__ import annotations

from collections.abc import Callable

from podium.domain.outbox.service import enqueue
from podium.domain.subscriptions.service import OMITTED
from podium.edges.iotum import present
from podium.edges.iotum.routes_base import OK, Answer, Call, Endpoint
from podium.models.subscription import SubscriptionStatus


def fetch_products(call: Call) -> Answer:
    call.policy.require_admin()
    with_description = call.body.bool_("include_description", False)
    products = call.subscriptions.products(call.actor.reseller_id or 0)
    return Answer([present.product(p, description=with_description) for p in products])


def subscription_create(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    switch_plan = (
        OMITTED if not call.body.has("switch_plan") else call.body.int_("switch_plan", required=False)
    )
    call.subscriptions.subscribe(
        call.actor,
        company,
        call.body.str_("slug", required=True),
        switch_plan=switch_plan,
        host_limit=call.body.int_("host_limit", required=False),
        subscribe_all_hosts=call.body.bool_("subscribe_all_hosts", True),
    )
    return OK


def subscription_update(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    call.subscriptions.update(
        call.actor, company, call.body.str_("slug", required=True), host_limit=call.body.id_("host_limit")
    )
    return OK


def _set_status(status: SubscriptionStatus) -> Callable[[Call], Answer]:
    def handler(call: Call) -> Answer:
        call.policy.require_reseller_admin()
        company = call.policy.company(call.body.id_("company_id"))
        call.subscriptions.set_status(call.actor, company, call.body.str_("slug", required=True), status)
        return OK

    return handler


def _set_all(from_status: SubscriptionStatus, to_status: SubscriptionStatus) -> Callable[[Call], Answer]:
    def handler(call: Call) -> Answer:
        call.policy.require_reseller_admin()
        company = call.policy.company(call.body.id_("company_id"))
        # Accepted now, done by the outbox worker: the reference makes these asynchronous.
        enqueue(
            call.ctx.session,
            "job",
            {
                "job": "subscriptions.set_all",
                "company_id": company.id,
                "from": from_status.value,
                "to": to_status.value,
                "actor": call.actor.label,
            },
        )
        return Answer("OK", status=202)

    return handler


def subscription_fetch(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    company = call.policy.company(call.body.id_("company_id"))
    return Answer([present.subscription(s, p) for s, p in call.subscriptions.live(company)])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("subscription/fetch_products", "Plans and add-ons", fetch_products, "read"),
    Endpoint("subscription/create", "Subscribe a company to a product", subscription_create, "write"),
    Endpoint(
        "subscription/update",
        "Change a subscription's host limit",
        subscription_update,
        "write",
        ("PUT", "POST"),
    ),
    Endpoint(
        "subscription/suspend", "Suspend a subscription", _set_status(SubscriptionStatus.SUSPENDED), "write"
    ),
    Endpoint(
        "subscription/reactivate",
        "Reactivate a subscription",
        _set_status(SubscriptionStatus.ACTIVE),
        "write",
    ),
    Endpoint(
        "subscription/cancel",
        "Cancel a subscription (final)",
        _set_status(SubscriptionStatus.CANCELLED),
        "write",
    ),
    Endpoint(
        "subscription/suspend_all",
        "Suspend every active subscription (202, background)",
        _set_all(SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED),
        "write",
    ),
    Endpoint(
        "subscription/reactivate_all",
        "Reactivate every suspended subscription (202, background)",
        _set_all(SubscriptionStatus.SUSPENDED, SubscriptionStatus.ACTIVE),
        "write",
    ),
    Endpoint("subscription/fetch", "A company's subscriptions", subscription_fetch, "read"),
)
