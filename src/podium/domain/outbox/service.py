"""The outbox: side effects recorded in the caller's transaction, delivered later with retries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from podium.domain.outbox.repository import OutboxRepository
from podium.kit.uow import wake_outbox
from podium.models.outbox import OutboxMessage


@dataclass(frozen=True)
class Attachment:
    """A text file sent with an email (an ``.ics`` invitation, a transcript).

    Attributes:
        filename: The name the recipient sees.
        content_type: A ``text/*`` type with its parameters, e.g. ``text/calendar; method=REQUEST``.
        content: The text itself (sent as UTF-8).
    """

    filename: str
    content_type: str
    content: str

    def __post_init__(self) -> None:
        if not self.content_type.strip().lower().startswith("text/"):
            raise ValueError(f"an email attachment is text: {self.content_type!r}")


def enqueue(session: Session, kind: str, payload: dict[str, Any]) -> OutboxMessage:
    # The worker is woken once this transaction commits.
    wake_outbox(session)
    return OutboxRepository(session).add(OutboxMessage(kind=kind, payload=payload))


def enqueue_email(
    session: Session, *, to: str, subject: str, body: str, attachments: Sequence[Attachment] = ()
) -> OutboxMessage:
    """Queue a plain-text email, with text attachments if any; the worker sends it to the Maildir
    or SMTP."""
    payload: dict[str, Any] = {"to": to, "subject": subject, "body": body}
    if attachments:
        payload["attachments"] = [
            {"filename": a.filename, "content_type": a.content_type, "content": a.content}
            for a in attachments
        ]
    return enqueue(session, "email", payload)
