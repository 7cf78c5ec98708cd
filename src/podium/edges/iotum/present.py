"""JSON shapes of the Iotum reference."""

from __future__ import annotations

from typing import Any

from podium.domain.contacts.service import ContactView
from podium.domain.hosts.service import HostView
from podium.domain.tenancy.companies import ResellerNode
from podium.models.subscription import Product, Subscription
from podium.models.tenancy import Company

_CODE_PADDING = (
    "id",
    "participant_id",
    "lock_version",
    "updated_at",
    "conference_call_id",
    "person_id",
    "account_id",
    "recording_id",
    "site_domain_id",
    "organization_id",
)


def reseller_tree(node: ResellerNode) -> dict[str, Any]:
    return {
        "id": node.reseller.id,
        "domain": node.reseller.domain,
        "display_name": node.reseller.name,
        "descendants": [reseller_tree(child) for child in node.descendants],
    }


def company(company: Company, host_ids: list[int]) -> dict[str, Any]:
    return {
        "id": company.id,
        "subdomain": company.subdomain,
        "name": company.name,
        "host_count": len(host_ids),
        "hosts": host_ids,
        "partner_id": company.partner_id,
        "customer_id": company.customer_id,
        "openid_provider": company.openid_provider,
        "primary_color": company.primary_color,
        "accent_color": company.accent_color,
        "currency": company.currency,
    }


def product(product: Product, *, description: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"slug": product.slug, "name": product.name, "plan": product.is_plan}
    if description:
        body["description"] = product.description
    return body


def subscription(subscription: Subscription, product_: Product) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "status": subscription.status.value,
        "host_limit": subscription.host_limit,
        "product": product(product_, description=False),
    }


def _code(number: str) -> dict[str, Any]:
    return {"number": number, **{key: None for key in _CODE_PADDING}}


def host(view: HostView) -> dict[str, Any]:
    h, settings = view.host, view.settings
    return {
        "host_id": h.id,
        "company_id": h.company_id,
        "name": h.name,
        "email": h.email,
        "primary_dialin_number": view.primary_dialin_number,
        "meeting_url": view.meeting_url,
        "role": h.role.value,
        "openid_sub": h.openid_sub,
        "access_code": _code(h.access_code),
        "moderator_pin": _code(h.moderator_pin),
        "password_creation_link": None if h.no_login else view.password_creation_link,
        "login_token_public_key": h.login_token_public_key,
        "plan_slug": view.plan.plan_slug,
        "add_on_slugs": view.plan.add_on_slugs,
        "subscription_ids": view.plan.subscription_ids,
        "sip_uri": view.sip_uri,
        "no_login": h.no_login,
        "native_streaming": settings["native_streaming"],
        "auto_record": settings["auto_record"],
        "auto_stream": settings["auto_stream"],
        "host_initiated_recording": settings["host_initiated_recording"],
        "waiting_room": settings["waiting_room"],
        "stream_preview": settings["stream_preview"],
        "disable_emails": settings["disable_emails"],
        "time_format": settings["time_format"],
        "public_username": h.public_username,
        "image_url": h.image_url,
        "locale": h.locale,
        "country_code": h.country_code,
        "time_zone": h.time_zone,
    }


def host_summary(view: HostView) -> dict[str, Any]:
    return {
        "host_id": view.host.id,
        "name": view.host.name,
        "email": view.host.email,
        "meeting_url": view.meeting_url,
        "role": view.host.role.value,
        "access_code": view.host.access_code,
        "plan_slug": view.plan.plan_slug,
        "add_on_slugs": view.plan.add_on_slugs,
    }


def contact(view: ContactView) -> dict[str, Any]:
    c = view.contact
    return {
        "contact_id": c.id,
        "name": c.name,
        "email": c.email,
        "business_phone": c.business_phone,
        "mobile_phone": c.mobile_phone,
        "home_phone": c.home_phone,
        "other_phone": c.other_phone,
        "time_zone": c.time_zone,
        "has_host": view.has_host,
    }
