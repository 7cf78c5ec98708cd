from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from podium.domain.auth.actors import TENANCY
from podium.kit.stamped import move
from podium.models.auth import ApiSession, OAuthAuthorizationCode, OAuthClient, OAuthToken
from podium.models.tenancy import Company, Credential, CredentialKind, Host


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: ApiSession | OAuthClient | OAuthAuthorizationCode | OAuthToken | Credential) -> None:
        self.session.add(obj)
        self.session.flush()

    def api_session(self, token_hash: str) -> ApiSession | None:
        return self.session.scalar(select(ApiSession).where(ApiSession.token_hash == token_hash))

    def touch_api_session(self, session_id: int, now: datetime) -> None:
        """Write a use of an open session (its lifetime counts from its last use)."""
        self.session.execute(
            update(ApiSession)
            .where(ApiSession.id == session_id, ApiSession.revoked_at.is_(None))
            .values(last_used_at=now),
            execution_options={"synchronize_session": False},
        )

    def end_credential_sessions(self, credential_id: int, now: datetime) -> None:
        """End every open ``auth_token`` session a credential opened (its secret changed)."""
        self.session.execute(
            update(ApiSession)
            .where(ApiSession.credential_id == credential_id, ApiSession.revoked_at.is_(None))
            .values(revoked_at=now),
            execution_options={"synchronize_session": False},
        )
        # A bulk statement bypasses the ORM's change tracking: the cached sessions must go explicitly.
        move(self.session, TENANCY)

    def credential(self, credential_id: int) -> Credential | None:
        return self.session.get(Credential, credential_id)

    def live_api_token(self, secret_hash: str) -> Credential | None:
        stmt = select(Credential).where(
            Credential.kind == CredentialKind.IOTUM_API_TOKEN,
            Credential.secret_hash == secret_hash,
            Credential.revoked_at.is_(None),
        )
        return self.session.scalar(stmt)

    def host(self, host_id: int) -> Host | None:
        return self.session.get(Host, host_id)

    def company(self, company_id: int) -> Company | None:
        return self.session.get(Company, company_id)

    def login_hosts(self, email: str) -> list[Host]:
        from sqlalchemy import func

        stmt = select(Host).where(
            func.lower(Host.email) == email.lower(), Host.deleted_at.is_(None), Host.no_login.is_(False)
        )
        return list(self.session.scalars(stmt).all())

    def oauth_client(self, client_id: str) -> OAuthClient | None:
        stmt = select(OAuthClient).where(OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_(None))
        return self.session.scalar(stmt)

    def oauth_client_by_pk(self, pk: int) -> OAuthClient | None:
        return self.session.get(OAuthClient, pk)

    def authorization_code(self, code_hash: str) -> OAuthAuthorizationCode | None:
        stmt = select(OAuthAuthorizationCode).where(OAuthAuthorizationCode.code_hash == code_hash)
        return self.session.scalar(stmt)

    def token_by_access(self, access_hash: str) -> OAuthToken | None:
        return self.session.scalar(select(OAuthToken).where(OAuthToken.access_hash == access_hash))

    def token_by_refresh(self, refresh_hash: str) -> OAuthToken | None:
        return self.session.scalar(select(OAuthToken).where(OAuthToken.refresh_hash == refresh_hash))
