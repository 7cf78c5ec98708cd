"""Boomstream lives: a media of kind Live (``media.media_type = "live"``) and its RTMP ingest state.

The media row is what watch pages, paywalls and statistics already know (code, title, company,
folder); this row holds what only a live has: the hash of its stream key, whether it is on air and
through which RTMP connection, and the latest recording.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped

LIVE_MEDIA_TYPE = "live"


class LiveState(StrEnum):
    WAITING = "waiting"  # never on air yet
    LIVE = "live"  # a publisher is on air
    ENDED = "ended"  # was on air; may go on air again (a new broadcast, a new recording)


class Live(Timestamped, Base):
    __tablename__ = "lives"
    __table_args__ = (UniqueConstraint("media_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    # SHA-256 of the stream key's secret part: the key itself is shown once (create, reset_key).
    key_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8), default=LiveState.WAITING.value)
    # The RTMP connection on air ("<server instance>:<client id>") and when the RTMP server last
    # said it still publishes (on_publish, then on_update every few seconds).
    publisher: Mapped[str | None] = mapped_column(String(64))
    publisher_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    broadcasts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Whether broadcasts are recorded into the library (a conference's stream records elsewhere).
    record: Mapped[bool] = mapped_column(Boolean, default=True)
    # The latest broadcast's recording: a video of the library (transcoded like an upload).
    recording_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    record_failure: Mapped[str] = mapped_column(Text, default="")
    # Made for a publisher inside Podium (a conference's stream), not for an API client's encoder.
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
