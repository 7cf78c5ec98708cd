"""Audit trail: every state change records one action (webhooks will fan out from here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from podium.domain.audit.repository import AuditRepository
from podium.domain.webhooks.service import fan_out


def log_action(
    session: Session, action: str, *, actor: str, ref: str, company_id: int | None, **data: Any
) -> None:
    """Record ``action`` (e.g. ``conference.created``) by ``actor`` on ``ref``; webhooks fan out from it.
    The entry goes in with the transaction's next statement (``AuditRepository.append``)."""
    AuditRepository(session).append(action=action, actor=actor, ref=ref, company_id=company_id, data=data)
    fan_out(session, action, company_id, data)
