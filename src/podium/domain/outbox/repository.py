from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from podium.models.outbox import OutboxMessage


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, message: OutboxMessage) -> OutboxMessage:
        self.session.add(message)
        return message

    def due_ids(self, now: datetime, limit: int = 50) -> Sequence[int]:
        stmt = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def claim(self, message_id: int, now: datetime, lease_until: datetime) -> OutboxMessage | None:
        """Take one message for delivery; returns None when another worker got it first.

        The lease is written as next_attempt_at, so a worker that dies mid-delivery
        leaves a message that becomes due again when the lease runs out.
        """
        result = self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
            )
            .values(next_attempt_at=lease_until, attempts=OutboxMessage.attempts + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return self.session.get(OutboxMessage, message_id, populate_existing=True)

    def backlog(self) -> dict[tuple[str, str], int]:
        """(kind, status) → how many messages are pending or failed (``/metrics``; the due index)."""
        stmt = (
            select(OutboxMessage.kind, OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_(("pending", "failed")))
            .group_by(OutboxMessage.kind, OutboxMessage.status)
        )
        return {(kind, status): count for kind, status, count in self.session.execute(stmt).all()}

    def due_count(self, now: datetime) -> int:
        """Pending messages whose attempt is due now (what the worker has yet to take)."""
        stmt = select(func.count()).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
        )
        return int(self.session.scalar(stmt) or 0)

    def by_id(self, message_id: int) -> OutboxMessage | None:
        return self.session.get(OutboxMessage, message_id)

    def all(self) -> Sequence[OutboxMessage]:
        return self.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
