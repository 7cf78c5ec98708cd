"""Iotum enterprise API: contacts of a host or a company."""

from __future__ import annotations

from podium.domain.contacts.service import Book, ContactService
from podium.edges.iotum import present
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint


def _book(call: Call) -> Book:
    host_id = call.body.int_("host_id", required=False)
    if host_id is not None:
        host = call.policy.host(host_id)
        return Book(call.policy.company_or_own(host.company_id), host)
    company_id = call.body.int_("company_id", required=False)
    # Neither named: one's own company's company-level book, for a company admin (as the reference
    # says) and for a reseller admin alike.
    return Book(call.policy.company_or_own(company_id))


def contact_create(call: Call) -> Answer:
    book = _book(call)
    views = ContactService(call.ctx.session).create(call.actor, book, call.body.get("contacts"))
    return Answer([present.contact(v) for v in views])


def contact_fetch(call: Call) -> Answer:
    book = _book(call)
    service = ContactService(call.ctx.session)
    return Answer(present.contact(service.view(book, service.get(book, call.body.id_("contact_id")))))


def contact_fetch_all(call: Call) -> Answer:
    return Answer([present.contact(v) for v in ContactService(call.ctx.session).list(_book(call))])


def contact_update(call: Call) -> Answer:
    book = _book(call)
    changes = {
        k: v
        for k, v in call.body.values.items()
        if k in ("name", "email", "business_phone", "mobile_phone", "home_phone", "other_phone", "time_zone")
    }
    view = ContactService(call.ctx.session).update(call.actor, book, call.body.id_("contact_id"), changes)
    return Answer(present.contact(view))


def contact_delete(call: Call) -> Answer:
    book = _book(call)
    ContactService(call.ctx.session).delete(call.actor, book, call.body.id_("contact_id"))
    return MESSAGE_OK


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("contact/create", "Create contacts of a host or company", contact_create, "write"),
    Endpoint("contact/fetch", "A contact", contact_fetch, "read"),
    Endpoint("contact/fetch_all", "Contacts of a host or company", contact_fetch_all, "read"),
    Endpoint("contact/update", "Update a contact", contact_update, "write"),
    Endpoint("contact/delete", "Delete a contact", contact_delete, "write"),
)
