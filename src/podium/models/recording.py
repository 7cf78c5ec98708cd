"""What a meeting leaves behind: recordings (one per segment of recording) and their transcripts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class RecordingState(StrEnum):
    RECORDING = "recording"  # the media server is writing its tracks
    PROCESSING = "processing"  # stopped; the media worker composes the tracks into one file
    PUBLISHED = "published"  # the file is ready (Iotum publishing_state)
    FAILED = "failed"


class TranscriptState(StrEnum):
    NONE = "none"  # not asked for (auto_transcribe off)
    PENDING = "pending"  # asked for: made once the recording is published
    READY = "ready"
    FAILED = "failed"


class Recording(Timestamped, Base):
    """One recorded segment of a conference: from a start to a stop (or the meeting's end).

    ``storage_key`` names its folder under the data directory: ``raw/`` holds the media server's
    per-track files, the rest is what post-processing made (the composed file, each participant's
    audio, the transcript). The row is the queue of the media worker while ``state`` is processing
    (or a transcript is pending), held by ``lease_until`` like a media's transcoding job.
    """

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_conference", "conference_id", "started_at"),
        Index("ix_recordings_due", "state", "transcript_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # video | audio
    state: Mapped[str] = mapped_column(String(16), default=RecordingState.RECORDING.value)
    started_by: Mapped[str] = mapped_column(String(64), default="")  # auto | host | moderator:<name>
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    media_server: Mapped[str | None] = mapped_column(String(255))  # the Janus that records it
    file_name: Mapped[str] = mapped_column(String(64), default="")  # recording.mp4 | recording.mp3
    file_size: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    has_video: Mapped[bool] = mapped_column(default=False)
    has_audio: Mapped[bool] = mapped_column(default=False)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Boomstream: the media of the project's library this recording became.
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    transcript_state: Mapped[str] = mapped_column(String(16), default=TranscriptState.NONE.value)
    transcript_text: Mapped[str] = mapped_column(Text, default="")
    transcript_engine: Mapped[str] = mapped_column(String(32), default="")
