"""The outbox: side effects recorded in the caller's transaction, delivered later with retries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from podium.domain.outbox.repository import OutboxRepository
from podium.kit.uow import wake_outbox
from podium.models.outbox import OutboxMessage


def enqueue(session: Session, kind: str, payload: dict[str, Any]) -> OutboxMessage:
    # The worker is woken once this transaction commits.
    wake_outbox(session)
    return OutboxRepository(session).add(OutboxMessage(kind=kind, payload=payload))


def enqueue_email(session: Session, *, to: str, subject: str, body: str) -> OutboxMessage:
    """Queue a plain-text email; the worker sends it to the Maildir or SMTP."""
    return enqueue(session, "email", {"to": to, "subject": subject, "body": body})
