"""A conference's live streams: the meeting composed and published to a live (a media of kind Live)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class StreamState(StrEnum):
    STARTING = "starting"  # asked for: a server process is bringing its compositor up
    LIVE = "live"  # the compositor publishes
    ENDED = "ended"
    FAILED = "failed"  # the compositor could not publish (``failure_reason`` says why)


class Stream(Timestamped, Base):
    """One run of a conference's stream, from a start to a stop (or the meeting's end).

    The row is the desired state: while ``ended_at`` is empty some server process must run the
    compositor, and the one that does holds ``lease_until`` (renewed every few seconds; a process
    that dies lets the lease lapse and another takes the stream over — rooms/streams.py).
    """

    __tablename__ = "streams"
    __table_args__ = (
        Index("ix_streams_conference", "conference_id", "started_at"),
        Index("ix_streams_running", "ended_at", "lease_until"),
        # One running row per conference, public or private: two keepers cannot both start one.
        Index(
            "ux_streams_one_running",
            "conference_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    # The live (media of kind Live) the stream feeds: one per conference, kept across its streams so
    # its streaming page's address stays the same. None for a private run.
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    # False: a private run, composed only for the host's stream_preview while the conference records
    # without streaming (no live, no streaming page, is_streaming stays false; ADR 0013).
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(8))  # video | audio
    state: Mapped[str] = mapped_column(String(12), default=StreamState.STARTING.value)
    started_by: Mapped[str] = mapped_column(String(64), default="")  # auto | api | moderator:<name>
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)


class StreamPreview(Timestamped, Base):
    """A preview of a running stream (a host's ``stream_preview``): a clip cut every interval, or an
    image taken on request. Its file lives under the data directory; both go after ``expires_at``."""

    __tablename__ = "stream_previews"
    __table_args__ = (
        Index("ix_stream_previews_conference", "conference_id", "id"),
        Index("ix_stream_previews_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(ForeignKey("streams.id"))
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    kind: Mapped[str] = mapped_column(String(8))  # clip | image
    file_name: Mapped[str] = mapped_column(String(64))
    # Where in the stream it starts (seconds since the stream went live) and how long it lasts.
    offset_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
