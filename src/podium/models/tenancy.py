from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class Role(enum.StrEnum):
    RESELLER_ADMIN = "RESELLER_ADMIN"
    COMPANY_ADMIN = "COMPANY_ADMIN"
    HOST = "HOST"


class CredentialKind(enum.StrEnum):
    BOOMSTREAM_APIKEY = "boomstream_apikey"
    IOTUM_API_TOKEN = "iotum_api_token"
    LIVEMINUTES = "liveminutes"


class Reseller(Timestamped, Base):
    __tablename__ = "resellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("resellers.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))


class Company(Timestamped, Base):
    __tablename__ = "companies"
    __table_args__ = (UniqueConstraint("reseller_id", "subdomain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    subdomain: Mapped[str] = mapped_column(String(63))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class Host(Timestamped, Base):
    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class Credential(Timestamped, Base):
    """A secret of one dialect's kind. Only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("kind", "secret_hash"),
        UniqueConstraint("public_id"),
        Index("ix_credentials_company_kind", "company_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    kind: Mapped[CredentialKind] = mapped_column(Enum(CredentialKind, native_enum=False, length=30))
    # The non-secret half where a dialect has one (LiveMinutes AccountSid).
    public_id: Mapped[str | None] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
