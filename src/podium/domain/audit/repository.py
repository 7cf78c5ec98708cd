from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models.audit import AuditEntry


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entry: AuditEntry) -> AuditEntry:
        self.session.add(entry)
        return entry

    def for_company(self, company_id: int) -> Sequence[AuditEntry]:
        stmt = select(AuditEntry).where(AuditEntry.company_id == company_id).order_by(AuditEntry.id)
        return self.session.scalars(stmt).all()
