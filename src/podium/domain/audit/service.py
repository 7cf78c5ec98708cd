"""Audit trail: every state change records one action (webhooks will fan out from here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from podium.domain.audit.repository import AuditRepository
from podium.domain.webhooks.service import fan_out
from podium.models.audit import AuditEntry


def log_action(
    session: Session, action: str, *, actor: str, ref: str, company_id: int | None, **data: Any
) -> AuditEntry:
    """Record ``action`` (e.g. ``conference.created``) by ``actor`` on ``ref``; webhooks fan out from it."""
    entry = AuditRepository(session).add(
        AuditEntry(action=action, actor=actor, ref=ref, company_id=company_id, data=data)
    )
    fan_out(session, entry)
    return entry
