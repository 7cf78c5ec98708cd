from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Enum, ForeignKey, Index, String, UniqueConstraint
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
    # Iotum: the reseller's domain (abc-conferencing.com) and its public name.
    domain: Mapped[str] = mapped_column(String(253), default="")


class Company(Timestamped, Base):
    __tablename__ = "companies"
    __table_args__ = (UniqueConstraint("reseller_id", "subdomain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    subdomain: Mapped[str] = mapped_column(String(63))
    partner_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(255))
    openid_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    primary_color: Mapped[str | None] = mapped_column(String(7))
    accent_color: Mapped[str | None] = mapped_column(String(7))
    currency: Mapped[str | None] = mapped_column(String(3))
    # When set, assigning hosts beyond a subscription's host limit fails instead of raising the limit.
    host_limits_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Upper bounds of what the quotas count (domain/tenancy/usage.py): raised with every row added,
    # in the same transaction; set to the exact count when one is made; None until then.
    conference_rows_bound: Mapped[int | None] = mapped_column(BigInteger)
    user_rows_bound: Mapped[int | None] = mapped_column(BigInteger)


class Host(Timestamped, Base):
    """A user account. Emails are unique among hosts that log in; ``no_login`` hosts may share one."""

    __tablename__ = "hosts"
    __table_args__ = (
        UniqueConstraint("access_code"),
        UniqueConstraint("moderator_pin"),
        UniqueConstraint("login_token_public_key"),
        Index("ix_hosts_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Bumped when the password changes, so password-creation links issued before stop working.
    password_version: Mapped[int] = mapped_column(default=0)
    no_login: Mapped[bool] = mapped_column(Boolean, default=False)
    access_code: Mapped[str] = mapped_column(String(9))
    moderator_pin: Mapped[str] = mapped_column(String(9))
    login_token_public_key: Mapped[str] = mapped_column(String(64))
    openid_sub: Mapped[str | None] = mapped_column(String(255))
    public_username: Mapped[str | None] = mapped_column(String(255))
    image_url: Mapped[str | None] = mapped_column(String(2048))
    locale: Mapped[str] = mapped_column(String(35), default="en-US")
    country_code: Mapped[str | None] = mapped_column(String(2))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Meeting preferences and display settings, as the Iotum reference names them.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
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
