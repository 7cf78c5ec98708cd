"""Iotum authentication: API tokens and passwords open ``auth_token`` sessions; each use touches them."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import SYSTEM_LABEL, Actor
from podium.domain.audit.service import log_action
from podium.domain.auth.actors import SESSION_GRANTS, TOUCH_EVERY, SessionGrant
from podium.domain.auth.passwords import verify_password
from podium.domain.auth.repository import AuthRepository
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput, NotFound, Unauthenticated
from podium.kit.ids import hash_secret
from podium.kit.text import same_secret
from podium.models.auth import ApiSession
from podium.models.tenancy import Credential, CredentialKind, Host, Role


@dataclass(frozen=True)
class IssuedToken:
    credential: Credential
    token: str


class AuthService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = AuthRepository(session)

    def actor_for_host(
        self,
        host: Host | None,
        via: str,
        *,
        credential_id: int | None = None,
        scopes: frozenset[str] | None = None,
    ) -> Actor:
        """The actor a live host of a live company acts as; anything else is unauthenticated."""
        if host is None or host.deleted_at is not None:
            raise Unauthenticated("Invalid token")
        company = self.repo.company(host.company_id)
        if company is None or company.deleted_at is not None:
            raise Unauthenticated("Invalid token")
        return Actor(
            company_id=company.id,
            role=host.role,
            via=via,
            host_id=host.id,
            credential_id=credential_id,
            reseller_id=company.reseller_id,
            scopes=scopes,
        )

    # --- authenticate -----------------------------------------------------------------

    def _open_session(self, host: Host, credential_id: int | None) -> str:
        token = str(uuid.uuid4())
        self.repo.add(
            ApiSession(
                token_hash=hash_secret(token),
                host_id=host.id,
                credential_id=credential_id,
                last_used_at=utcnow(),
            )
        )
        log_action(
            self.session,
            "auth.session_opened",
            actor=f"iotum:host:{host.id}",
            ref=f"host:{host.id}",
            company_id=host.company_id,
            credential=credential_id,
        )
        return token

    def authenticate_api_token(self, api_token: str) -> str:
        digest = hash_secret(api_token)
        credential = self.repo.live_api_token(digest)
        if credential is None or not same_secret(credential.secret_hash, digest):
            raise Unauthenticated("Invalid credentials")
        host = self.repo.host(credential.host_id or 0)
        try:
            self.actor_for_host(host, "iotum")
        except Unauthenticated:
            raise Unauthenticated("Invalid credentials") from None
        assert host is not None
        return self._open_session(host, credential.id)

    def authenticate_password(self, email: str, password: str) -> str:
        """The deprecated email + password login (no_login hosts cannot use it)."""
        candidates = self.repo.login_hosts(email.strip())
        host = candidates[0] if len(candidates) == 1 else None
        if not verify_password(host.password_hash if host else None, password) or host is None:
            raise Unauthenticated("Invalid credentials")
        try:
            self.actor_for_host(host, "iotum")
        except Unauthenticated:
            raise Unauthenticated("Invalid credentials") from None
        return self._open_session(host, None)

    def check_password(self, email: str, password: str) -> Host:
        """For the web login form: the host these credentials belong to."""
        candidates = self.repo.login_hosts(email.strip())
        host = candidates[0] if len(candidates) == 1 else None
        if not verify_password(host.password_hash if host else None, password) or host is None:
            raise Unauthenticated("Wrong email or password")
        self.actor_for_host(host, "web")
        return host

    def resolve_auth_token(self, auth_token: str) -> Actor:
        """The actor behind an ``auth_token``, touching it: it lives 60 minutes past its last use
        (a use is written at most once a minute, so a session busy with reads is not a write each)."""
        if not auth_token:
            raise Unauthenticated("Missing auth_token")
        digest = hash_secret(auth_token)
        now = utcnow()
        lifetime = timedelta(minutes=self.settings.api_session_minutes)
        grant = SESSION_GRANTS.get(self.session, digest)
        if grant is not None and now - grant.last_used_at <= lifetime:
            if now - grant.last_used_at >= TOUCH_EVERY:
                self.repo.touch_api_session(grant.session_id, now)
                grant.last_used_at = now
            return grant.actor
        stamp = SESSION_GRANTS.stamp(self.session)
        api_session = self.repo.api_session(digest)
        if api_session is None or api_session.revoked_at is not None:
            raise Unauthenticated("Invalid token")
        if now - api_session.last_used_at > lifetime:
            raise Unauthenticated("Session expired")
        if api_session.credential_id is not None:
            credential = self.repo.credential(api_session.credential_id)
            if credential is None or credential.revoked_at is not None:
                raise Unauthenticated("Invalid token")
        actor = self.actor_for_host(
            self.repo.host(api_session.host_id), "iotum", credential_id=api_session.credential_id
        )
        api_session.last_used_at = now
        SESSION_GRANTS.put(self.session, digest, SessionGrant(actor, api_session.id, now), stamp)
        return actor

    def sso_host(self, host_id: int, login_token_public_key: str) -> Host:
        """The host a single-sign-on link names, if its login token key matches."""
        host = self.repo.host(host_id)
        expected = host.login_token_public_key if host is not None else secrets.token_hex(20)
        if not same_secret(login_token_public_key, expected) or host is None:
            raise Unauthenticated("This sign-in link is not valid")
        self.actor_for_host(host, "web")
        return host

    def web_host(self, host_id: int) -> Host:
        """The host of a web session, while it and its company are live."""
        host = self.repo.host(host_id)
        self.actor_for_host(host, "web")
        assert host is not None
        return host

    # --- API tokens (command line) --------------------------------------------------------------

    def create_api_token(self, host_id: int, *, actor_label: str = SYSTEM_LABEL) -> IssuedToken:
        """A new API token for an admin host; earlier ones stay active (rotation).

        ``actor_label`` names who issues it in the audit log (the command line by default).
        """
        host = self.repo.host(host_id)
        if host is None or host.deleted_at is not None:
            raise NotFound("Host not found")
        if host.role not in (Role.RESELLER_ADMIN, Role.COMPANY_ADMIN):
            raise InvalidInput("API tokens are for reseller and company admins")
        token = secrets.token_hex(24)
        credential = Credential(
            company_id=host.company_id,
            host_id=host.id,
            kind=CredentialKind.IOTUM_API_TOKEN,
            secret_hash=hash_secret(token),
        )
        self.repo.add(credential)
        log_action(
            self.session,
            "credential.issued",
            actor=actor_label,
            ref=f"credential:{credential.id}",
            company_id=host.company_id,
            kind=credential.kind.value,
        )
        return IssuedToken(credential, token)

    def revoke_api_token(self, credential_id: int, *, actor_label: str = SYSTEM_LABEL) -> Credential:
        """End an API token (its sessions end with it); ``actor_label`` as in ``create_api_token``."""
        credential = self.repo.credential(credential_id)
        if credential is None or credential.kind != CredentialKind.IOTUM_API_TOKEN:
            raise NotFound("API token not found")
        if credential.revoked_at is None:
            credential.revoked_at = utcnow()
            log_action(
                self.session,
                "credential.revoked",
                actor=actor_label,
                ref=f"credential:{credential.id}",
                company_id=credential.company_id,
            )
        self.session.flush()
        return credential
