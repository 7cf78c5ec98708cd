"""Phone legs: a call between a room and a phone, placed through the SIP trunk (ADR 0014)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class LegStatus(StrEnum):
    """Iotum's ``dialout_status``: new → ringing → answered → ended, or busy / no_answer / failed."""

    NEW = "new"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


FINAL = frozenset({LegStatus.ENDED, LegStatus.BUSY, LegStatus.NO_ANSWER, LegStatus.FAILED})


class PhoneLeg(Timestamped, Base):
    """One call. The row is the desired state, as a stream's (ADR 0012): while it is not final some
    server process must run its gateway, and the one that does holds ``lease_until``. A call cannot
    move between processes (its media lives in one), so a lease that lapses ends the call as failed.
    """

    __tablename__ = "phone_legs"
    __table_args__ = (
        Index("ix_phone_legs_conference", "conference_id", "requested_at"),
        Index("ix_phone_legs_open", "ended_at", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    direction: Mapped[str] = mapped_column(String(4), default="out")  # out (dial_number) | in (dial-in)
    phone_number: Mapped[str] = mapped_column(String(20))  # E.164 digits, no "+"
    country_code: Mapped[str] = mapped_column(String(2), default="")
    name: Mapped[str] = mapped_column(String(255))
    invitation_text: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(12), default=LegStatus.NEW.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The SIP code of the call's end (200 for a normal hang-up), 0 while it lasts or when none came.
    sip_code: Mapped[int] = mapped_column(Integer, default=0)
    publisher: Mapped[int | None] = mapped_column(BigInteger)  # its VideoRoom publisher while in the room
    # Its attendance while in the room (CDRs with the number as ``ani``, minutes per leg).
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendances.id"))
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    # A dial-in caller's role in the room: guest, or moderator with the host's moderator PIN.
    role: Mapped[str] = mapped_column(String(16), default="guest", server_default="guest")
    # A dial-in caller's SIP From URI (its ``ani`` in CDRs when it carries no number).
    caller_uri: Mapped[str] = mapped_column(String(255), default="", server_default="")
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    hangup_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
