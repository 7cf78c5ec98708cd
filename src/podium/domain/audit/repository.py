from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.kit import uow
from podium.models.audit import AuditEntry


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(
        self, *, action: str, actor: str, ref: str, company_id: int | None, data: dict[str, Any]
    ) -> None:
        """An entry, inserted together with the transaction's others (``uow.append_row``)."""
        values = {"action": action, "actor": actor, "ref": ref, "company_id": company_id, "data": data}
        uow.append_row(self.session, AuditEntry, values)

    def for_company(self, company_id: int) -> Sequence[AuditEntry]:
        stmt = select(AuditEntry).where(AuditEntry.company_id == company_id).order_by(AuditEntry.id)
        return self.session.scalars(stmt).all()
