"""Pay-per-view: paywalls (Boomstream PPV subscriptions), their media, access passes (buyers),
viewer sessions, watched-time rollups and the seller's contacts."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.clock import utcnow
from podium.kit.db import Base, Timestamped


class AccessKind(enum.StrEnum):
    """Boomstream ``subscription_type``: how a viewer gets in."""

    PAY_PER_VIEW = "subscription"
    PASSWORD = "password"
    REGISTRATION = "collection"


class Paywall(Timestamped, Base):
    __tablename__ = "paywalls"
    __table_args__ = (UniqueConstraint("code"), Index("ix_paywalls_company_live", "company_id", "deleted_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255))
    access_kind: Mapped[str] = mapped_column(String(12))
    scope: Mapped[str] = mapped_column(String(8), default="single")  # single | group (Boomstream ``type``)
    collection_type: Mapped[str | None] = mapped_column(String(8))  # collect | protect
    description: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    period_days: Mapped[int | None] = mapped_column(Integer)
    access_start: Mapped[datetime | None] = mapped_column(DateTime)
    access_expire: Mapped[datetime | None] = mapped_column(DateTime)
    activations: Mapped[int | None] = mapped_column(Integer)  # device activations per password
    materials: Mapped[str] = mapped_column(Text, default="")
    buy_redirect_url: Mapped[str] = mapped_column(String(2048), default="")
    custom_url: Mapped[str] = mapped_column(String(2048), default="")
    ip_recovery: Mapped[bool] = mapped_column(Boolean, default=False)
    device_ban: Mapped[bool] = mapped_column(Boolean, default=False)
    buyer_commission: Mapped[bool] = mapped_column(Boolean, default=False)
    downloadable_origin: Mapped[bool] = mapped_column(Boolean, default=False)
    preview_seconds: Mapped[int | None] = mapped_column(Integer)
    watermark: Mapped[bool] = mapped_column(Boolean, default=False)
    watermark_email: Mapped[bool] = mapped_column(Boolean, default=False)
    watermark_name: Mapped[bool] = mapped_column(Boolean, default=False)
    watermark_ip: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised by every transaction that adds buyers, under the paywall's lock, just before its commit:
    # a work that finds it one above what it read knows no rival added one meanwhile (domain/paywall).
    buyers_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class PaywallMedia(Base):
    __tablename__ = "paywall_media"
    __table_args__ = (
        UniqueConstraint("paywall_id", "media_id"),
        Index("ix_paywall_media_media", "media_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    paywall_id: Mapped[int] = mapped_column(ForeignKey("paywalls.id"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccessPass(Timestamped, Base):
    """A buyer: an access password (Boomstream ``hash``) to one paywall, with its own window and limits."""

    __tablename__ = "access_passes"
    __table_args__ = (
        # One live buyer per password in a subscription: a deleted buyer's password may be given again
        # (a shop that chose it re-adds its customer), so the rule leaves deleted rows out.
        Index(
            "uq_access_passes_live_password",
            "paywall_id",
            "password",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_access_passes_paywall_password", "paywall_id", "password"),
        # A buyer is found by its email, case-insensitively, else by its phone (domain/paywall).
        Index("ix_access_passes_paywall_email", "paywall_id", text("lower(email)")),
        Index("ix_access_passes_paywall_phone", "paywall_id", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    paywall_id: Mapped[int] = mapped_column(ForeignKey("paywalls.id"))
    # The media named when the buyer was added: the only one a "single" paywall opens.
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    # Made by Podium (12 characters) or chosen by the shop (``addbuyer`` with ``hash``).
    password: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    activations: Mapped[int | None] = mapped_column(Integer)  # None: the paywall's limit (or none)
    activations_used: Mapped[int] = mapped_column(Integer, default=0)
    access_start: Mapped[datetime | None] = mapped_column(DateTime)
    access_expire: Mapped[datetime | None] = mapped_column(DateTime)
    custom_url: Mapped[str] = mapped_column(String(2048), default="")
    source: Mapped[str] = mapped_column(String(8), default="api")  # api | form (registration)
    purchased_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class ViewSession(Base):
    """One device watching one media: activations, device rules, heartbeats and ``ppv/sessions`` rows."""

    __tablename__ = "view_sessions"
    __table_args__ = (
        UniqueConstraint("session_key"),
        Index("ix_view_sessions_pass", "pass_id", "started_at"),
        Index("ix_view_sessions_media", "media_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("access_passes.id"))
    paywall_id: Mapped[int | None] = mapped_column(ForeignKey("paywalls.id"))
    kind: Mapped[str] = mapped_column(String(8))  # free | pass | preview
    # The browser's device cookie (its SHA-256) and the secret the page proves the session with.
    device_hash: Mapped[str] = mapped_column(String(64))
    session_key: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(45), default="")
    country: Mapped[str] = mapped_column(String(64), default="Unknown")
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    left_activations: Mapped[int | None] = mapped_column(Integer)  # after this session's activation
    watched_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str] = mapped_column(String(64), default="")


class ViewRollup(Base):
    """Watched milliseconds per hour, per media and per project (``media_id`` 0), added as they arrive."""

    __tablename__ = "view_rollups"
    __table_args__ = (UniqueConstraint("company_id", "media_id", "hour"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    media_id: Mapped[int] = mapped_column(BigInteger)  # 0: the whole project (not a foreign key)
    hour: Mapped[datetime] = mapped_column(DateTime)
    watched_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class ViewDailyRollup(Base):
    """Watched milliseconds per UTC day, per media and per project (``media_id`` 0): the sum of that
    day's hourly rollups, kept by the same upsert, so a query by day reads one row per day."""

    __tablename__ = "view_daily_rollups"
    __table_args__ = (UniqueConstraint("company_id", "media_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    media_id: Mapped[int] = mapped_column(BigInteger)  # 0: the whole project (not a foreign key)
    day: Mapped[date] = mapped_column(Date)
    watched_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class SellerContacts(Base):
    __tablename__ = "seller_contacts"
    __table_args__ = (UniqueConstraint("company_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    site: Mapped[str] = mapped_column(String(2048), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
