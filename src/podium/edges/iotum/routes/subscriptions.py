"""Iotum enterprise API: products and subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from podium.domain.subscriptions.schemas import NewSubscription
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.routes.companies import ADMINS_COMPANY_ID, COMPANY_ID
from podium.edges.iotum.routes_base import BOOLEAN, INTEGER, OK, TEXT, Answer, Call, Endpoint
from podium.kit.unset import UNSET
from podium.models.subscription import SubscriptionStatus

SLUG = Param("slug", "Product slug (see subscription/fetch_products)", required=True, schema=TEXT)
HOST_LIMIT = Param(
    "host_limit",
    "Host limit, a positive integer (per-host pricing multiplies the price by it)",
    schema=INTEGER,
)
# What ``_set_status`` reads.
STATUS_PARAMS = (COMPANY_ID, SLUG)


def fetch_products(call: Call) -> Answer:
    """Plans and add-ons."""
    with_description = call.body.bool_("include_description", False)
    products = call.subscriptions.catalogue(call.actor)
    return Answer([present.product(p, description=with_description) for p in products])


def subscription_create(call: Call) -> Answer:
    """Subscribe a company to a product."""
    company_id = call.body.int_("company_id", required=False)
    command = NewSubscription(
        slug=call.body.str_("slug"),
        # Absent means "replace the current plans"; an explicit null, "beside them".
        switch_plan=call.body.int_("switch_plan", required=False) if call.body.has("switch_plan") else UNSET,
        host_limit=call.body.int_("host_limit", required=False),
        subscribe_all_hosts=call.body.bool_("subscribe_all_hosts", True),
    )
    call.subscriptions.create(call.actor, company_id, command)
    return OK


def subscription_update(call: Call) -> Answer:
    """Change a subscription's host limit."""
    company_id = call.body.int_("company_id", required=False)
    slug = call.body.str_("slug")
    call.subscriptions.update(call.actor, company_id, slug, host_limit=call.body.id_("host_limit"))
    return OK


def _set_status(status: SubscriptionStatus) -> Callable[[Call], Answer]:
    def handler(call: Call) -> Answer:
        """Suspend, reactivate or cancel a subscription."""
        company_id = call.body.id_("company_id")
        call.subscriptions.set_status(call.actor, company_id, call.body.str_("slug"), status)
        return OK

    return handler


def _set_all(from_status: SubscriptionStatus, to_status: SubscriptionStatus) -> Callable[[Call], Answer]:
    def handler(call: Call) -> Answer:
        """Suspend or reactivate every subscription (202: the outbox worker does it)."""
        call.subscriptions.schedule_set_all(call.actor, call.body.id_("company_id"), from_status, to_status)
        return Answer("OK", status=202)

    return handler


def subscription_fetch(call: Call) -> Answer:
    """A company's subscriptions."""
    rows = call.subscriptions.for_company(call.actor, call.body.id_("company_id"))
    return Answer([present.subscription(s, p) for s, p in rows])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "subscription/fetch_products",
        "Plans and add-ons",
        fetch_products,
        "read",
        params=(Param("include_description", "Include each product's description", schema=BOOLEAN),),
    ),
    Endpoint(
        "subscription/create",
        "Subscribe a company to a product",
        subscription_create,
        "write",
        params=(
            ADMINS_COMPANY_ID,
            SLUG,
            Param(
                "switch_plan",
                "Plan subscription to replace; null: subscribe beside the current plans; omitted: replace "
                "the current plans",
                schema=INTEGER,
            ),
            HOST_LIMIT,
            Param(
                "subscribe_all_hosts",
                "Also subscribe every existing host (default true)",
                schema=BOOLEAN,
            ),
        ),
    ),
    Endpoint(
        "subscription/update",
        "Change a subscription's host limit",
        subscription_update,
        "write",
        ("PUT", "POST"),
        params=(ADMINS_COMPANY_ID, SLUG, replace(HOST_LIMIT, required=True)),
    ),
    Endpoint(
        "subscription/suspend",
        "Suspend a subscription",
        _set_status(SubscriptionStatus.SUSPENDED),
        "write",
        params=STATUS_PARAMS,
    ),
    Endpoint(
        "subscription/reactivate",
        "Reactivate a subscription",
        _set_status(SubscriptionStatus.ACTIVE),
        "write",
        params=STATUS_PARAMS,
    ),
    Endpoint(
        "subscription/cancel",
        "Cancel a subscription (final)",
        _set_status(SubscriptionStatus.CANCELLED),
        "write",
        params=STATUS_PARAMS,
    ),
    Endpoint(
        "subscription/suspend_all",
        "Suspend every active subscription (202, background)",
        _set_all(SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED),
        "write",
        params=(COMPANY_ID,),
        ok=202,
    ),
    Endpoint(
        "subscription/reactivate_all",
        "Reactivate every suspended subscription (202, background)",
        _set_all(SubscriptionStatus.SUSPENDED, SubscriptionStatus.ACTIVE),
        "write",
        params=(COMPANY_ID,),
        ok=202,
    ),
    Endpoint(
        "subscription/fetch", "A company's subscriptions", subscription_fetch, "read", params=(COMPANY_ID,)
    ),
)
