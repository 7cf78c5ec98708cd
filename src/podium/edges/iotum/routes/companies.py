"""Iotum enterprise API: companies and the reseller tree."""

from __future__ import annotations

from typing import Any

from podium.edges.iotum import present
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint


def descendants(call: Call) -> Answer:
    return Answer(present.reseller_tree(call.companies.descendants(call.actor)))


def _company_answer(call: Call, company: Any) -> Answer:
    return Answer(present.company(company, call.companies.host_ids([company])[company.id]))


def company_create(call: Call) -> Answer:
    company = call.companies.create(call.actor, call.body.without("auth_token"))
    return Answer({"id": company.id})


def company_fetch(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    return _company_answer(call, call.policy.company(call.body.id_("company_id")))


def company_update(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    company = call.policy.company(call.body.id_("company_id"))
    fields = {
        k: v
        for k, v in call.body.values.items()
        if k
        in (
            "subdomain",
            "name",
            "partner_id",
            "customer_id",
            "openid_provider",
            "primary_color",
            "accent_color",
            "currency",
        )
    }
    return _company_answer(call, call.companies.update(call.actor, company, fields))


def company_fetch_all(call: Call) -> Answer:
    companies = call.companies.in_scope(call.actor)
    host_ids = call.companies.host_ids(companies)
    return Answer([present.company(c, host_ids[c.id]) for c in companies])


def company_delete(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    call.companies.delete(call.actor, call.policy.company(call.body.id_("company_id")))
    return MESSAGE_OK


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("domain/descendants", "Sub-resellers of the reseller", descendants, "read"),
    Endpoint("company/create", "Create a company", company_create, "write"),
    Endpoint("company/fetch", "A company", company_fetch, "read"),
    Endpoint("company/update", "Update a company", company_update, "write"),
    Endpoint("company/fetch_all", "All companies of the reseller tree", company_fetch_all, "read"),
    Endpoint("company/delete", "Delete a company", company_delete, "write"),
)
