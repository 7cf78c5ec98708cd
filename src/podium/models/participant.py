from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.clock import utcnow
from podium.kit.db import Base, Timestamped


class ParticipantRole(enum.StrEnum):
    HOST = "host"
    MODERATOR = "moderator"
    PARTICIPANT = "participant"


class Participant(Timestamped, Base):
    """An invitation that can join a conference, whichever dialect issued it."""

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("url_token"),
        UniqueConstraint("conference_id", "external_id"),
        Index("ix_participants_conference_email", "conference_id", text("lower(email)")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    url_token: Mapped[str] = mapped_column(String(32))
    # The client's own user id (LiveMinutes puid); None for Boomstream invitees.
    external_id: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(254), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[ParticipantRole] = mapped_column(Enum(ParticipantRole, native_enum=False, length=20))
    avatar_url: Mapped[str] = mapped_column(String(2048), default="")
    # Iotum: the contact this participant was invited as, and whether it is the organiser.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    # Bumped whenever the participant is removed, so links issued before stay revoked.
    token_revision: Mapped[int] = mapped_column(Integer, default=0)
    # The iCalendar SEQUENCE of the invitation last emailed to this participant; None: none was (or
    # its cancellation was sent). Whoever holds an invitation is told of changes and cancellation.
    calendar_sequence: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
