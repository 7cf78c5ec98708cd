"""The media library: uploaded files, their HLS renditions, posters and screenshots."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.clock import utcnow
from podium.kit.db import Base, Timestamped


class MediaStatus(enum.StrEnum):
    """Boomstream's ``MediaStatus`` values (Uploading is ours: the file has not arrived yet)."""

    UPLOADING = "Uploading"
    PROCESSING = "Processing"
    DONE = "Done"
    FAILED = "Failed"


class Media(Timestamped, Base):
    __tablename__ = "media"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("storage_key"),
        Index("ix_media_company_live", "company_id", "deleted_at"),
        # The transcoder's queue: media waiting for (or leased to) a worker.
        Index("ix_media_queue", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    code: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(8), default="video")  # video | audio
    status: Mapped[str] = mapped_column(String(12), default=MediaStatus.UPLOADING.value)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    # Where the original and its renditions live, under DATA_DIR/media/.
    storage_key: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    # media/create: the URL the worker fetches the file from before transcoding it.
    source_url: Mapped[str | None] = mapped_column(Text)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    # Upload progress: bytes received so far and, when the client declared it, the total.
    upload_received: Mapped[int] = mapped_column(BigInteger, default=0)
    upload_expected: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)  # seconds
    # Transcoding: percent done, attempts so far, and the lease of the worker holding the job.
    progress: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class MediaRendition(Base):
    """One HLS rendition (and its progressive MP4) of a media: Boomstream's ``Transcodes`` item."""

    __tablename__ = "media_renditions"
    __table_args__ = (UniqueConstraint("code"), UniqueConstraint("media_id", "title"))

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    code: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(16))  # 240p, 360p, 720p … or "audio"
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    bandwidth: Mapped[int] = mapped_column(Integer, default=0)  # bits per second, for the master playlist
    codecs: Mapped[str] = mapped_column(String(64), default="")


class MediaImage(Base):
    """A poster or a screenshot of a media."""

    __tablename__ = "media_images"
    __table_args__ = (UniqueConstraint("code"), Index("ix_media_images_media", "media_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    code: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(12))  # poster | screenshot
    position: Mapped[int] = mapped_column(Integer, default=0)
    at_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
