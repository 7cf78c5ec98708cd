"""Contacts: a host's own address book, or one shared by the whole company."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.contacts.repository import ContactRepository
from podium.kit import coerce
from podium.kit.errors import InvalidInput, NotFound
from podium.kit.validation import normalise_email
from podium.models.contact import Contact
from podium.models.tenancy import Company, Host

PHONE_FIELDS = ("business_phone", "mobile_phone", "home_phone", "other_phone")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{2,30}$")
MAX_PER_CALL = 100


@dataclass(frozen=True)
class Book:
    """Whose contacts: a host's (``host`` set) or the company's shared book."""

    company: Company
    host: Host | None = None

    @property
    def host_id(self) -> int | None:
        return self.host.id if self.host else None


@dataclass(frozen=True)
class ContactView:
    contact: Contact
    has_host: bool


def _fields(given: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise InvalidInput("each contact must be an object", field="contacts")
    values: dict[str, Any] = {}
    if creating or "name" in given:
        name = coerce.to_str("name", given.get("name") or "")
        if not name:
            raise InvalidInput("name is required", field="name")
        values["name"] = name
    if creating or "email" in given:
        values["email"] = normalise_email(
            coerce.to_str("email", given.get("email") or "", maximum=254), required=True
        )
    for key in PHONE_FIELDS:
        if key in given:
            phone = coerce.to_str(key, given[key] or "", maximum=32)
            if phone and not PHONE_RE.match(phone):
                raise InvalidInput(f"{key} is not a phone number", field=key)
            values[key] = phone or None
    if "time_zone" in given:
        values["time_zone"] = (
            coerce.time_zone("time_zone", given["time_zone"]) if given["time_zone"] else None
        )
    return values


class ContactService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = ContactRepository(session)

    def _views(self, book: Book, contacts: Sequence[Contact]) -> list[ContactView]:
        hosts = self.repo.host_emails(book.company.id, [c.email for c in contacts])
        return [ContactView(c, c.email.lower() in hosts) for c in contacts]

    def create(self, actor: Actor, book: Book, contacts: Any) -> list[ContactView]:
        """Create several contacts at once; one invalid entry writes none of them."""
        if not isinstance(contacts, list) or not contacts:
            raise InvalidInput("contacts must be a non-empty array", field="contacts")
        if len(contacts) > MAX_PER_CALL:
            raise InvalidInput(f"at most {MAX_PER_CALL} contacts per call", field="contacts")
        created = []
        for index, given in enumerate(contacts):
            try:
                values = _fields(given, creating=True)
            except InvalidInput as error:
                raise InvalidInput(f"contacts[{index}]: {error.message}", **error.data) from None
            contact = Contact(company_id=book.company.id, host_id=book.host_id, **values)
            self.repo.add(contact)
            created.append(contact)
        log_action(
            self.session,
            "contact.created",
            actor=actor.label,
            ref=f"company:{book.company.id}",
            company_id=book.company.id,
            ids=[c.id for c in created],
            host=book.host_id,
        )
        return self._views(book, created)

    def get(self, book: Book, contact_id: int) -> Contact:
        contact = self.repo.by_id(contact_id)
        if contact is None or contact.company_id != book.company.id or contact.host_id != book.host_id:
            raise NotFound("Contact not found")
        return contact

    def view(self, book: Book, contact: Contact) -> ContactView:
        return self._views(book, [contact])[0]

    def list(self, book: Book) -> list[ContactView]:
        return self._views(book, self.repo.in_book(book.company.id, book.host_id))

    def update(self, actor: Actor, book: Book, contact_id: int, changes: dict[str, Any]) -> ContactView:
        contact = self.get(book, contact_id)
        for key, value in _fields(changes, creating=False).items():
            setattr(contact, key, value)
        self.session.flush()
        log_action(
            self.session,
            "contact.updated",
            actor=actor.label,
            ref=f"contact:{contact.id}",
            company_id=book.company.id,
        )
        return self.view(book, contact)

    def visible_to(self, host: Host, contact_id: int) -> Contact | None:
        """A contact in the host's own book or in its company's shared book."""
        contact = self.repo.by_id(contact_id)
        if contact is None or contact.company_id != host.company_id or contact.host_id not in (host.id, None):
            return None
        return contact

    def find_or_add(self, host: Host, email: str, name: str = "") -> Contact:
        """The host's contact with this email, added to its book when it has none."""
        email = normalise_email(email, required=True)
        for contact in self.repo.in_book(host.company_id, host.id):
            if contact.email.lower() == email.lower():
                return contact
        contact = Contact(
            company_id=host.company_id, host_id=host.id, email=email, name=name.strip() or email.split("@")[0]
        )
        self.repo.add(contact)
        return contact

    def delete(self, actor: Actor, book: Book, contact_id: int) -> None:
        contact = self.get(book, contact_id)
        self.repo.delete(contact)
        log_action(
            self.session,
            "contact.deleted",
            actor=actor.label,
            ref=f"contact:{contact_id}",
            company_id=book.company.id,
        )
