"""Iotum enterprise API: webhook endpoints (an extension of ours; see docs/webhooks.md)."""

from __future__ import annotations

from podium.domain.webhooks.service import EVENTS, WebhookService
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.routes.companies import ADMINS_COMPANY_ID
from podium.edges.iotum.routes_base import INTEGER, MESSAGE_OK, TEXT, Answer, Call, Endpoint
from podium.kit import coerce

WEBHOOK_ID = Param("id", "Webhook endpoint id", required=True, schema=INTEGER)


def webhook_create(call: Call) -> Answer:
    """Register a webhook endpoint (extension)."""
    company_id = call.body.int_("company_id", required=False)
    events = coerce.to_str_list("events", call.body.get("events") or [])
    endpoint = WebhookService(call.ctx.session).register(
        call.actor,
        company_id,
        call.body.str_("url"),
        events,
        allow_private=call.ctx.settings.webhook_private_networks,
    )
    return Answer(present.webhook(endpoint, with_token=True))


def webhook_fetch_all(call: Call) -> Answer:
    """The company's webhook endpoints (extension)."""
    endpoints = WebhookService(call.ctx.session).endpoints(
        call.actor, call.body.int_("company_id", required=False)
    )
    return Answer([present.webhook(e, with_token=False) for e in endpoints])


def webhook_delete(call: Call) -> Answer:
    """Remove a webhook endpoint (extension)."""
    WebhookService(call.ctx.session).remove(
        call.actor, call.body.int_("company_id", required=False), call.body.id_("id")
    )
    return MESSAGE_OK


def webhook_deliveries(call: Call) -> Answer:
    """Delivery log of a webhook endpoint (extension)."""
    rows = WebhookService(call.ctx.session).delivery_log(
        call.actor, call.body.int_("company_id", required=False), call.body.id_("id")
    )
    return Answer([present.webhook_delivery(d) for d in rows])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "webhook/create",
        "Register a webhook endpoint (extension)",
        webhook_create,
        "write",
        params=(
            ADMINS_COMPANY_ID,
            Param("url", "http(s) URL the deliveries are posted to", required=True, schema=TEXT),
            Param(
                "events",
                "Events to deliver (at least one)",
                required=True,
                schema={"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
            ),
        ),
    ),
    Endpoint(
        "webhook/fetch_all",
        "The company's webhook endpoints (extension)",
        webhook_fetch_all,
        "read",
        params=(ADMINS_COMPANY_ID,),
    ),
    Endpoint(
        "webhook/delete",
        "Remove a webhook endpoint (extension)",
        webhook_delete,
        "write",
        params=(ADMINS_COMPANY_ID, WEBHOOK_ID),
    ),
    Endpoint(
        "webhook/deliveries",
        "Delivery log of a webhook endpoint (extension)",
        webhook_deliveries,
        "read",
        params=(ADMINS_COMPANY_ID, WEBHOOK_ID),
    ),
)
