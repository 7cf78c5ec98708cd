from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models.tenancy import Company, Credential, CredentialKind, Host, Reseller


class TenancyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: Reseller | Company | Host | Credential) -> None:
        self.session.add(obj)
        self.session.flush()

    def reseller(self, reseller_id: int) -> Reseller | None:
        return self.session.get(Reseller, reseller_id)

    def company(self, company_id: int) -> Company | None:
        return self.session.get(Company, company_id)

    def subdomain_taken(self, reseller_id: int, subdomain: str) -> bool:
        stmt = select(Company.id).where(Company.reseller_id == reseller_id, Company.subdomain == subdomain)
        return self.session.scalar(stmt) is not None

    def email_taken(self, email: str) -> bool:
        return self.session.scalar(select(Host.id).where(Host.email == email)) is not None

    def live_credential_by_hash(self, kind: CredentialKind, secret_hash: str) -> Credential | None:
        stmt = select(Credential).where(
            Credential.kind == kind, Credential.secret_hash == secret_hash, Credential.revoked_at.is_(None)
        )
        return self.session.scalar(stmt)

    def live_credential_by_public_id(self, kind: CredentialKind, public_id: str) -> Credential | None:
        stmt = select(Credential).where(
            Credential.kind == kind, Credential.public_id == public_id, Credential.revoked_at.is_(None)
        )
        return self.session.scalar(stmt)
