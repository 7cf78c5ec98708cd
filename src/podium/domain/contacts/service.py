"""Contacts: a host's own address book, or one shared by the whole company."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.contacts.repository import ContactRepository
from podium.domain.contacts.schemas import BookRef, ContactFields
from podium.kit.errors import InvalidInput, NotFound
from podium.kit.unset import Unset
from podium.kit.validation import clean_text, normalise_email
from podium.models.contact import Contact
from podium.models.tenancy import Company, Host

__all__ = ["Book", "BookRef", "ContactFields", "ContactService", "ContactView"]

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


def _values(given: ContactFields, *, creating: bool) -> dict[str, Any]:
    """The columns to set, each field's rule applied (create requires name and email)."""
    values: dict[str, Any] = {}
    if creating or not isinstance(given.name, Unset):
        name = clean_text("name", "" if isinstance(given.name, Unset) else given.name)
        if not name:
            raise InvalidInput("name is required", field="name")
        values["name"] = name
    if creating or not isinstance(given.email, Unset):
        email = clean_text("email", "" if isinstance(given.email, Unset) else given.email, 254)
        values["email"] = normalise_email(email, required=True)
    for key in PHONE_FIELDS:
        phone = getattr(given, key)
        if not isinstance(phone, Unset):
            phone = clean_text(key, phone, 32)
            if phone and not PHONE_RE.match(phone):
                raise InvalidInput(f"{key} is not a phone number", field=key)
            values[key] = phone or None
    if not isinstance(given.time_zone, Unset):
        values["time_zone"] = given.time_zone or None
    return values


class ContactService:
    """Address books: a host's own, or its company's shared one.

    The API methods (``create``, ``fetch``, ``in_book``, ``update``, ``delete``) take the actor and a
    ``BookRef`` and resolve the book through the access policy. The others are trusted, for callers
    that already checked the host or book (conference scheduling): ``view``, ``visible_to``,
    ``find_or_add``.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = ContactRepository(session)

    def book(self, actor: Actor, ref: BookRef) -> Book:
        """The address book ``ref`` names, checked against the actor's scope.

        A host's book when ``host_id`` is given; otherwise a company's shared book (a company
        admin's own company whatever it names; a reseller admin's own company when it names none).

        Raises:
            Forbidden: a plain host, or a host or company beyond the actor's scope.
            NotFound: the host or company does not exist.
        """
        policy = AccessPolicy(self.session, actor)
        if ref.host_id is not None:
            host = policy.host(ref.host_id)
            return Book(policy.company_or_own(host.company_id), host)
        return Book(policy.company_or_own(ref.company_id))

    def _views(self, book: Book, contacts: Sequence[Contact]) -> list[ContactView]:
        hosts = self.repo.host_emails(book.company.id, [c.email for c in contacts])
        return [ContactView(c, c.email.lower() in hosts) for c in contacts]

    # --- the API: the actor's scope is checked here ------------------------------------------

    def create(self, actor: Actor, ref: BookRef, contacts: Sequence[ContactFields]) -> list[ContactView]:
        """Create several contacts at once; one invalid entry writes none of them.

        Args:
            actor: who is calling.
            ref: the host's or company's book.
            contacts: 1 to 100 contacts, each with a name and an email.

        Raises:
            Forbidden: a plain host, or a book beyond the actor's scope.
            NotFound: the host or company does not exist.
            InvalidInput: no contacts, too many, or an invalid one (``contacts[i]: …``).
        """
        book = self.book(actor, ref)
        if not contacts:
            raise InvalidInput("contacts must be a non-empty array", field="contacts")
        if len(contacts) > MAX_PER_CALL:
            raise InvalidInput(f"at most {MAX_PER_CALL} contacts per call", field="contacts")
        created = []
        for index, given in enumerate(contacts):
            try:
                values = _values(given, creating=True)
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

    def fetch(self, actor: Actor, ref: BookRef, contact_id: int) -> ContactView:
        """A contact of the book.

        Raises:
            Forbidden: a plain host, or a book beyond the actor's scope.
            NotFound: the host, company or contact (in this book) does not exist.
        """
        book = self.book(actor, ref)
        return self.view(book, self._get(book, contact_id))

    def in_book(self, actor: Actor, ref: BookRef) -> list[ContactView]:
        """Every contact of the book.

        Raises:
            Forbidden: a plain host, or a book beyond the actor's scope.
            NotFound: the host or company does not exist.
        """
        book = self.book(actor, ref)
        return self._views(book, self.repo.in_book(book.company.id, book.host_id))

    def update(self, actor: Actor, ref: BookRef, contact_id: int, changes: ContactFields) -> ContactView:
        """Change only the fields given.

        Raises:
            Forbidden: a plain host, or a book beyond the actor's scope.
            NotFound: the host, company or contact (in this book) does not exist.
            InvalidInput: a field is malformed.
        """
        book = self.book(actor, ref)
        contact = self._get(book, contact_id)
        for key, value in _values(changes, creating=False).items():
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

    def delete(self, actor: Actor, ref: BookRef, contact_id: int) -> None:
        """Delete a contact of the book.

        Raises:
            Forbidden: a plain host, or a book beyond the actor's scope.
            NotFound: the host, company or contact (in this book) does not exist.
        """
        book = self.book(actor, ref)
        contact = self._get(book, contact_id)
        self.repo.delete(contact)
        log_action(
            self.session,
            "contact.deleted",
            actor=actor.label,
            ref=f"contact:{contact_id}",
            company_id=book.company.id,
        )

    # --- trusted: for callers that checked the host or book --------------------------------

    def _get(self, book: Book, contact_id: int) -> Contact:
        contact = self.repo.by_id(contact_id)
        if contact is None or contact.company_id != book.company.id or contact.host_id != book.host_id:
            raise NotFound("Contact not found")
        return contact

    def view(self, book: Book, contact: Contact) -> ContactView:
        """A contact of a checked book, with whether its email belongs to a host of the company."""
        return self._views(book, [contact])[0]

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
