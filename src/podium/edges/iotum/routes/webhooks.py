"""Iotum enterprise API: webhook endpoints (an extension of ours; see docs/webhooks.md)."""

from __future__ import annotations

from podium.domain.webhooks.service import WebhookService
from podium.edges.iotum import present
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint
from podium.kit import coerce


def webhook_create(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    events = coerce.to_str_list("events", call.body.get("events") or [])
    endpoint = WebhookService(call.ctx.session).create(
        company.id, call.body.str_("url", required=True), events, style="iotum"
    )
    return Answer(present.webhook(endpoint, with_token=True))


def webhook_fetch_all(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    return Answer(
        [present.webhook(e, with_token=False) for e in WebhookService(call.ctx.session).list(company.id)]
    )


def webhook_delete(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    WebhookService(call.ctx.session).delete(company.id, call.body.id_("id"))
    return MESSAGE_OK


def webhook_deliveries(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    rows = WebhookService(call.ctx.session).deliveries(company.id, call.body.id_("id"))
    return Answer([present.webhook_delivery(d) for d in rows])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("webhook/create", "Register a webhook endpoint (extension)", webhook_create, "write"),
    Endpoint("webhook/fetch_all", "The company's webhook endpoints (extension)", webhook_fetch_all, "read"),
    Endpoint("webhook/delete", "Remove a webhook endpoint (extension)", webhook_delete, "write"),
    Endpoint(
        "webhook/deliveries", "Delivery log of a webhook endpoint (extension)", webhook_deliveries, "read"
    ),
)
