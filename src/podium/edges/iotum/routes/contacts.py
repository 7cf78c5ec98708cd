"""Iotum enterprise API: contacts of a host or a company."""

from __future__ import annotations

from typing import Any

from podium.domain.contacts.schemas import BookRef, ContactFields
from podium.domain.contacts.service import MAX_PER_CALL, PHONE_FIELDS, ContactService
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes_base import INTEGER, MESSAGE_OK, TEXT, Answer, Call, Endpoint
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


# What ``_book`` reads.
BOOK = (
    Param("host_id", "Host whose contacts these are (company_id is then not read)", schema=INTEGER),
    Param(
        "company_id",
        "Company whose shared contacts these are, when no host_id (default: the caller's own; a company "
        "admin's is always its own)",
        schema=INTEGER,
    ),
)
CONTACT_ID = Param("contact_id", "Contact id", required=True, schema=INTEGER)
# What ``_contact_fields`` reads (name and email are required on create).
CONTACT_FIELDS = (
    Param("name", "Contact name", schema=TEXT),
    Param("email", "Contact email", schema=TEXT),
    *(Param(key, f"{key.replace('_', ' ').capitalize()} number", schema=TEXT) for key in PHONE_FIELDS),
    Param("time_zone", "IANA time zone name such as US/Eastern (empty clears it)", schema=TEXT),
)
NEW_CONTACTS = Param(
    "contacts",
    f"The contacts to create (1 to {MAX_PER_CALL})",
    required=True,
    schema={
        "type": "array",
        "items": {
            "type": "object",
            "properties": {p.name: p.json_schema for p in CONTACT_FIELDS},
            "required": ["name", "email"],
        },
    },
)


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
    Endpoint(
        "contact/create",
        "Create contacts of a host or company",
        contact_create,
        "write",
        params=(*BOOK, NEW_CONTACTS),
    ),
    Endpoint("contact/fetch", "A contact", contact_fetch, "read", params=(*BOOK, CONTACT_ID)),
    Endpoint("contact/fetch_all", "Contacts of a host or company", contact_fetch_all, "read", params=BOOK),
    Endpoint(
        "contact/update",
        "Update a contact",
        contact_update,
        "write",
        params=(*BOOK, CONTACT_ID, *CONTACT_FIELDS),
    ),
    Endpoint("contact/delete", "Delete a contact", contact_delete, "write", params=(*BOOK, CONTACT_ID)),
)
