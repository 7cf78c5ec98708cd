from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class Feature(enum.StrEnum):
    """What a product grants. Every plan grants hosting."""

    HOSTING = "hosting"
    RECORDING = "recording"
    VIDEO_RECORDING = "video_recording"
    TRANSCRIPTION = "transcription"
    ONE_TIME_ACCESS_CODE = "one_time_access_code"
    SIP_GATEWAY = "sip_gateway"
    STREAMING = "streaming"


class Pricing(enum.StrEnum):
    FLAT = "flat"
    PER_HOST = "per_host"


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    CANCELLED = "Cancelled"


class Product(Timestamped, Base):
    """A plan or add-on in a reseller's catalogue."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("reseller_id", "slug"),
        # At most one default product per catalogue.
        Index(
            "uq_products_reseller_default",
            "reseller_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    is_plan: Mapped[bool] = mapped_column(Boolean)
    pricing: Mapped[Pricing] = mapped_column(Enum(Pricing, native_enum=False, length=10))
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The catalogue's default product (always a plan): what a new company is subscribed to when
    # nobody names a product (Iotum company/create without product_id, podium admin bootstrap).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Subscription(Timestamped, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_company_status", "company_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    status: Mapped[SubscriptionStatus] = mapped_column(Enum(SubscriptionStatus, native_enum=False, length=10))
    host_limit: Mapped[int | None] = mapped_column(Integer)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)


class HostSubscription(Base):
    """Which hosts a subscription is assigned to."""

    __tablename__ = "host_subscriptions"

    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), primary_key=True, index=True)
