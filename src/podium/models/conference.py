from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.clock import utcnow
from podium.kit.db import Base, Timestamped


class Folder(Timestamped, Base):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("company_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")


class Conference(Timestamped, Base):
    """A meeting room instance: a Boomstream conference and a LiveMinutes meeting alike."""

    __tablename__ = "conferences"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("short_code"),
        UniqueConstraint("host_token"),
        # A meeting key is unique among a company's live conferences; a deleted or
        # cancelled meeting frees its key for reuse.
        Index(
            "uq_conferences_company_meeting_key_live",
            "company_id",
            "meeting_key",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_conferences_company_live", "company_id", "deleted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    code: Mapped[str] = mapped_column(String(12))
    short_code: Mapped[str] = mapped_column(String(12))
    host_token: Mapped[str] = mapped_column(String(32))
    meeting_key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id"))
    host_external_id: Mapped[str | None] = mapped_column(String(50))
    host_nickname: Mapped[str] = mapped_column(String(255), default="")
    host_email: Mapped[str] = mapped_column(String(254), default="")
    lang: Mapped[str] = mapped_column(String(16), default="")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration_minutes: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
