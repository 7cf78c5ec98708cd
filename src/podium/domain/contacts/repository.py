from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.models.contact import Contact
from podium.models.tenancy import Host


class ContactRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, contact: Contact) -> None:
        self.session.add(contact)
        self.session.flush()

    def delete(self, contact: Contact) -> None:
        self.session.delete(contact)
        self.session.flush()

    def in_book(self, company_id: int, host_id: int | None) -> Sequence[Contact]:
        stmt = select(Contact).where(Contact.company_id == company_id)
        stmt = stmt.where(Contact.host_id == host_id if host_id is not None else Contact.host_id.is_(None))
        return self.session.scalars(stmt.order_by(Contact.id)).all()

    def by_id(self, contact_id: int) -> Contact | None:
        return self.session.get(Contact, contact_id)

    def host_emails(self, company_id: int, emails: Sequence[str]) -> set[str]:
        """Which of ``emails`` belong to live hosts of the company (lower-cased)."""
        lowered = {e.lower() for e in emails if e}
        if not lowered:
            return set()
        stmt = select(func.lower(Host.email)).where(
            Host.company_id == company_id, Host.deleted_at.is_(None), func.lower(Host.email).in_(lowered)
        )
        return set(self.session.scalars(stmt).all())
