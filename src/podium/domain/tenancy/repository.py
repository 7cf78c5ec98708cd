from __future__ import annotations

from collections.abc import Sequence

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

    def company_by_subdomain(self, reseller_id: int, subdomain: str) -> Company | None:
        stmt = select(Company).where(Company.reseller_id == reseller_id, Company.subdomain == subdomain)
        return self.session.scalar(stmt)

    def live_companies(self, reseller_ids: set[int]) -> Sequence[Company]:
        stmt = (
            select(Company)
            .where(Company.reseller_id.in_(reseller_ids), Company.deleted_at.is_(None))
            .order_by(Company.id)
        )
        return self.session.scalars(stmt).all()

    def live_host_ids_by_company(self, company_ids: list[int]) -> dict[int, list[int]]:
        result: dict[int, list[int]] = {company_id: [] for company_id in company_ids}
        if company_ids:
            stmt = (
                select(Host.company_id, Host.id)
                .where(Host.company_id.in_(company_ids), Host.deleted_at.is_(None))
                .order_by(Host.id)
            )
            for company_id, host_id in self.session.execute(stmt).all():
                result[company_id].append(host_id)
        return result

    def credentials_for_company(self, company_id: int) -> Sequence[Credential]:
        """Every credential of a company, revoked ones too, oldest first."""
        stmt = select(Credential).where(Credential.company_id == company_id).order_by(Credential.id)
        return self.session.scalars(stmt).all()

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
