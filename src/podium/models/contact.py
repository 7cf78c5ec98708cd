from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class Contact(Timestamped, Base):
    """An address-book entry of a host (``host_id`` set) or of a whole company."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_company_host", "company_id", "host_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    business_phone: Mapped[str | None] = mapped_column(String(32))
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    home_phone: Mapped[str | None] = mapped_column(String(32))
    other_phone: Mapped[str | None] = mapped_column(String(32))
    time_zone: Mapped[str | None] = mapped_column(String(64))
