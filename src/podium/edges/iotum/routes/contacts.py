"""Iotum enterprise API: contacts of a host or a company."""

from __future__ import annotations

from typing import Any

from podium.domain.contacts.schemas import BookRef, ContactFields
from podium.domain.contacts.service import PHONE_FIELDS, ContactService
from podium.edges.iotum import present
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint
from podium.kit import coerce
from podium.kit.errors import InvalidInput


def _book(body: Body) -> BookRef:
    """A host's book when ``host_id`` is given (``company_id`` is then not read), else a company's.

    Neither named: one's own company's company-level book, for a company admin (as the reference
    says) and for a reseller admin alike.
    """
    host_id = body.int_("host_id", required=False)
    if host_id is not None:
        return BookRef(host_id=host_id)
    return BookRef(company_id=body.int_("company_id", required=False))


def _contact_fields(given: dict[str, Any]) -> ContactFields:
    """One contact's fields, their loose types read (trimming and rules are the service's)."""
    values: dict[str, Any] = {}
    for key in ("name", "email", *PHONE_FIELDS):
        if key in given:
            values[key] = coerce.to_text(key, given[key] or "")
    if "time_zone" in given:
        zone = given["time_zone"]
        values["time_zone"] = coerce.time_zone("time_zone", zone) if zone else None
    return ContactFields(**values)


def _new_contacts(body: Body) -> list[ContactFields]:
    given = body.get("contacts")
    if not isinstance(given, list):
        raise InvalidInput("contacts must be a non-empty array", field="contacts")
    contacts = []
    for index, item in enumerate(given):
        try:
            if not isinstance(item, dict):
                raise InvalidInput("each contact must be an object", field="contacts")
            contacts.append(_contact_fields(item))
        except InvalidInput as error:
            raise InvalidInput(f"contacts[{index}]: {error.message}", **error.data) from None
    return contacts


def _service(call: Call) -> ContactService:
    return ContactService(call.ctx.session)


def contact_create(call: Call) -> Answer:
    """Create contacts of a host or company."""
    book, contacts = _book(call.body), _new_contacts(call.body)
    return Answer([present.contact(v) for v in _service(call).create(call.actor, book, contacts)])


def contact_fetch(call: Call) -> Answer:
    """A contact."""
    view = _service(call).fetch(call.actor, _book(call.body), call.body.id_("contact_id"))
    return Answer(present.contact(view))


def contact_fetch_all(call: Call) -> Answer:
    """Contacts of a host or company."""
    return Answer([present.contact(v) for v in _service(call).in_book(call.actor, _book(call.body))])


def contact_update(call: Call) -> Answer:
    """Update a contact."""
    book, contact_id = _book(call.body), call.body.id_("contact_id")
    view = _service(call).update(call.actor, book, contact_id, _contact_fields(call.body.values))
    return Answer(present.contact(view))


def contact_delete(call: Call) -> Answer:
    """Delete a contact."""
    _service(call).delete(call.actor, _book(call.body), call.body.id_("contact_id"))
    return MESSAGE_OK


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("contact/create", "Create contacts of a host or company", contact_create, "write"),
    Endpoint("contact/fetch", "A contact", contact_fetch, "read"),
    Endpoint("contact/fetch_all", "Contacts of a host or company", contact_fetch_all, "read"),
    Endpoint("contact/update", "Update a contact", contact_update, "write"),
    Endpoint("contact/delete", "Delete a contact", contact_delete, "write"),
)
