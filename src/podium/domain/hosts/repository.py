from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from podium.domain.auth.actors import TENANCY
from podium.kit.stamped import move
from podium.models.auth import ApiSession
from podium.models.tenancy import Credential, Host


class HostRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, host: Host) -> None:
        self.session.add(host)
        self.session.flush()

    def by_id(self, host_id: int) -> Host | None:
        return self.session.get(Host, host_id)

    def live_for_company(self, company_id: int) -> Sequence[Host]:
        stmt = select(Host).where(Host.company_id == company_id, Host.deleted_at.is_(None)).order_by(Host.id)
        return self.session.scalars(stmt).all()

    def live_with_email(self, email: str) -> Sequence[Host]:
        stmt = select(Host).where(func.lower(Host.email) == email.lower(), Host.deleted_at.is_(None))
        return self.session.scalars(stmt).all()

    def code_taken(self, column: str, value: str, *, except_host: int | None = None) -> bool:
        """Codes stay reserved by deleted hosts too: an old dial-in code never reaches a new room."""
        stmt = select(Host.id).where(getattr(Host, column) == value)
        if except_host is not None:
            stmt = stmt.where(Host.id != except_host)
        return self.session.scalar(stmt.limit(1)) is not None

    def live_with_code(self, code: str) -> Sequence[Host]:
        stmt = select(Host).where(Host.access_code == code, Host.deleted_at.is_(None))
        return self.session.scalars(stmt).all()

    def by_login_key(self, host_id: int, key: str) -> Host | None:
        stmt = select(Host).where(
            Host.id == host_id, Host.login_token_public_key == key, Host.deleted_at.is_(None)
        )
        return self.session.scalar(stmt)

    def revoke_access(self, host_id: int, now: datetime) -> None:
        """End every session and API token of a host."""
        self.session.execute(
            update(ApiSession)
            .where(ApiSession.host_id == host_id, ApiSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self.session.execute(
            update(Credential)
            .where(Credential.host_id == host_id, Credential.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        # Bulk statements bypass the ORM's change tracking: the cached actors must go explicitly.
        move(self.session, TENANCY)
