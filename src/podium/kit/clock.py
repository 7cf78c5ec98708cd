"""One clock for the whole process, replaceable in tests that need to move time."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        """Naive UTC now: the database stores naive UTC on both SQLite and PostgreSQL."""
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC).replace(tzinfo=None)

    def freeze(self, at: datetime | None) -> None:
        self._frozen = at


clock = Clock()


def utcnow() -> datetime:
    return clock.now()
