"""Counters of failed guesses (domain/guard): one row per key that failed lately, shared by every
process through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base


class GuardCounter(Base):
    """Failed guesses at one key — a target (``<kind>:<digest>``) or a client (``client:<address>``) —
    in its current window, and its lock.

    Written only by failures (one upsert each); read by every attempt at a secret (the lock).
    """

    __tablename__ = "guard_counters"
    __table_args__ = (
        UniqueConstraint("key"),
        # The sweep forgets rows that have been quiet for a day.
        Index("ix_guard_counters_last_failure_at", "last_failure_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(96))
    # Failures since window_started_at (reset when the window passes and when the key locks).
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTime)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    # Lockouts in a row (the backoff doubles with each), forgotten after a quiet day.
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
