from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
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
    # Media folders nest (Boomstream ``media/folder``); conference folders stay at the top.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id"), index=True)


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
        # The stream keepers look for broadcasts due to start every few seconds.
        Index("ix_conferences_broadcast", "broadcast_state", "starts_at"),
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

    # --- scheduling and room options (Iotum) -----------------------------------------------
    # The organising host, when the conference was made for one (Iotum); None for Boomstream/LiveMinutes.
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    reservationless: Mapped[bool] = mapped_column(Boolean, default=False)
    # The code in room_url: the host's dedicated code or a one-time code shared by a series.
    access_code: Mapped[str | None] = mapped_column(String(9), index=True)
    one_time_code: Mapped[bool] = mapped_column(Boolean, default=False)
    code_valid_until: Mapped[datetime | None] = mapped_column(DateTime)
    secure_url: Mapped[bool] = mapped_column(Boolean, default=False)
    security_pin: Mapped[str | None] = mapped_column(String(16))
    mute_mode: Mapped[str] = mapped_column(String(16), default="conversation")
    auto_record: Mapped[str] = mapped_column(String(8), default="none")
    auto_stream: Mapped[str] = mapped_column(String(8), default="none")
    auto_transcribe: Mapped[bool] = mapped_column(Boolean, default=False)
    host_initiated_recording: Mapped[bool] = mapped_column(Boolean, default=False)
    broadcast_stream_url: Mapped[str | None] = mapped_column(String(2048))
    # NEW | STARTED | STOPPED | FAILED (domain/streams/broadcasts.py); why it FAILED.
    broadcast_state: Mapped[str | None] = mapped_column(String(8))
    broadcast_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The server process preparing or playing the broadcast, and until when it holds it (renewed).
    broadcast_owner: Mapped[str | None] = mapped_column(String(64))
    broadcast_lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    is_streaming: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who shares a screen now (media publisher ids, comma-separated): a compositor or a recording that
    # starts mid-share gives the share the stage from its first frame.
    screen_sharers: Mapped[str] = mapped_column(String(255), default="", server_default="")
    moderator_token: Mapped[str | None] = mapped_column(String(32), index=True)
    # Recurrence: the master holds the RRULE; instances point at it.
    schedule: Mapped[str | None] = mapped_column(String(255))
    master_id: Mapped[int | None] = mapped_column(ForeignKey("conferences.id"), index=True)
    materialized_until: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The media server's room, made when the conference is first joined.
    media_room: Mapped[int | None] = mapped_column(BigInteger)
    media_secret: Mapped[str | None] = mapped_column(String(64))
    media_server: Mapped[str | None] = mapped_column(String(255))  # the Janus (API URL) the room lives on
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Conference emails (domain/conferences/emails.py). A series' instance: the occurrence of the
    # master's rule it stands for (its iCalendar RECURRENCE-ID, even after it moves).
    occurrence_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The invitation as last announced: its iCalendar SEQUENCE and a digest of what it shows.
    calendar_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calendar_digest: Mapped[str | None] = mapped_column(String(64))
    # The start the last reminder announced (a conference moved since is reminded again).
    reminder_sent_for: Mapped[datetime | None] = mapped_column(DateTime)
