"""Iotum enterprise API: companies and the reseller tree."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podium.domain.tenancy.schemas import CompanyChanges, NewCompany
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes_base import BOOLEAN, INTEGER, MESSAGE_OK, TEXT, Answer, Call, Endpoint
from podium.kit import coerce
from podium.kit.unset import UNSET
from podium.models.tenancy import Company


def _company_changes(body: Body, *, creating: bool) -> CompanyChanges:
    """The company fields the body gives, their loose types read (trimming and rules are the service's).

    On create an empty name or subdomain is "missing"; colours and currency read empty as "clear".
    """
    values: dict[str, Any] = {}
    for key in ("name", "subdomain"):
        if creating:
            raw = body.get(key)
            values[key] = coerce.to_text(key, raw) if raw else UNSET
        elif body.has(key):
            values[key] = coerce.to_text(key, body.get(key))
    for key in ("partner_id", "customer_id"):
        if body.has(key):
            raw = body.get(key)
            values[key] = None if raw is None else coerce.to_text(key, raw)
    if body.has("openid_provider"):
        values["openid_provider"] = coerce.to_bool("openid_provider", body.get("openid_provider"))
    for key in ("primary_color", "accent_color", "currency"):
        if body.has(key):
            values[key] = coerce.to_text(key, body.get(key) or "")
    return CompanyChanges(**values)


COMPANY_ID = Param("company_id", "Company id", required=True, schema=INTEGER)
# Where the access policy picks the company: a company admin always acts on its own.
ADMINS_COMPANY_ID = Param(
    "company_id",
    "Company id (required of a reseller admin; a company admin acts on its own company)",
    schema=INTEGER,
)
NAME = Param("name", "Company name as displayed for billing purposes", schema=TEXT)
SUBDOMAIN = Param(
    "subdomain", "Subdomain used in the company's meeting URLs, unique within the reseller", schema=TEXT
)
# What ``_company_changes`` reads besides name and subdomain.
COMPANY_FIELDS = (
    Param("partner_id", "An ID for internal reporting, not visible in the UI (null clears it)", schema=TEXT),
    Param("customer_id", "Any string for your own purposes (null clears it)", schema=TEXT),
    Param("openid_provider", "Whether to use OpenID Connect for authentication", schema=BOOLEAN),
    Param("primary_color", "CSS hex color such as #00ff00 (empty clears it)", schema=TEXT),
    Param("accent_color", "CSS hex color such as #00ff00 (empty clears it)", schema=TEXT),
    Param("currency", "Lower-case ISO 4217 code such as usd (empty clears it)", schema=TEXT),
)


def _company_answer(call: Call, company: Company) -> Answer:
    return Answer(present.company(company, call.companies.host_ids([company])[company.id]))


def descendants(call: Call) -> Answer:
    """Sub-resellers of the reseller."""
    return Answer(present.reseller_tree(call.companies.descendants(call.actor)))


def company_create(call: Call) -> Answer:
    """Create a company."""
    fields = _company_changes(call.body, creating=True)
    raw_product = call.body.get("product_id")
    product_id = None if raw_product is None else coerce.to_int("product_id", raw_product)
    company = call.companies.create(call.actor, NewCompany(fields, product_id))
    return Answer({"id": company.id})


def company_fetch(call: Call) -> Answer:
    """A company."""
    return _company_answer(call, call.companies.fetch(call.actor, call.body.id_("company_id")))


def company_update(call: Call) -> Answer:
    """Update a company."""
    company_id = call.body.id_("company_id")
    changes = _company_changes(call.body, creating=False)
    return _company_answer(call, call.companies.update(call.actor, company_id, changes))


def company_fetch_all(call: Call) -> Answer:
    """All companies of the reseller tree."""
    companies = call.companies.in_scope(call.actor)
    host_ids = call.companies.host_ids(companies)
    return Answer([present.company(c, host_ids[c.id]) for c in companies])


def company_delete(call: Call) -> Answer:
    """Delete a company."""
    call.companies.delete(call.actor, call.body.id_("company_id"))
    return MESSAGE_OK


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("domain/descendants", "Sub-resellers of the reseller", descendants, "read"),
    Endpoint(
        "company/create",
        "Create a company",
        company_create,
        "write",
        params=(
            replace(NAME, required=True),
            replace(SUBDOMAIN, required=True),
            *COMPANY_FIELDS,
            Param(
                "product_id",
                "Product to subscribe the company to (default: the reseller's default product)",
                schema=INTEGER,
            ),
        ),
    ),
    Endpoint("company/fetch", "A company", company_fetch, "read", params=(COMPANY_ID,)),
    Endpoint(
        "company/update",
        "Update a company",
        company_update,
        "write",
        params=(COMPANY_ID, NAME, SUBDOMAIN, *COMPANY_FIELDS),
    ),
    Endpoint(
        "company/fetch_all", "All companies of the reseller tree", company_fetch_all, "read", cached=True
    ),
    Endpoint("company/delete", "Delete a company", company_delete, "write", params=(COMPANY_ID,)),
)
