"""OAuth 2 authorization server (client credentials; authorization code with PKCE; refresh), built on
oauthlib: this module only tells oauthlib where clients, codes and tokens live and which rules apply.

Access tokens are opaque random strings stored as SHA-256 hashes; a token acts as a host (the
client's owner for client credentials, the approving host for authorization codes) with the scopes
``read`` and/or ``write``.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

from oauthlib.oauth2 import RequestValidator, Server
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import SYSTEM_LABEL, Actor
from podium.domain.audit.service import log_action
from podium.domain.auth.repository import AuthRepository
from podium.domain.auth.service import AuthService
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput, NotFound, Unauthenticated
from podium.kit.ids import hash_secret
from podium.kit.text import same_secret
from podium.models.auth import OAuthAuthorizationCode, OAuthClient, OAuthToken

SCOPES = ("read", "write")
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
CODE_LIFETIME = timedelta(minutes=10)


class PodiumRequestValidator(RequestValidator):
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = AuthRepository(session)

    # --- clients ---------------------------------------------------------------------

    def _client(self, client_id: str | None) -> OAuthClient | None:
        return self.repo.oauth_client(client_id) if client_id else None

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        client = self._client(request.client_id)
        return client is None or client.confidential

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        client_id, client_secret = request.client_id, request.client_secret
        header = (request.headers or {}).get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
        client = self._client(client_id)
        if client is None or client.secret_hash is None or not client_secret:
            return False
        if not same_secret(hash_secret(client_secret), client.secret_hash):
            return False
        request.client = client
        request.client_id = client.client_id
        return True

    def authenticate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        client = self._client(client_id)
        if client is None or client.confidential:
            return False
        request.client = client
        return True

    def validate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        client = self._client(client_id)
        if client is None:
            return False
        request.client = client
        return True

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        client = self._client(client_id)
        return client is not None and redirect_uri in client.redirect_uris

    def get_default_redirect_uri(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> str | None:
        client = self._client(client_id)
        return client.redirect_uris[0] if client and client.redirect_uris else None

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        known = client or self._client(client_id)
        if known is None:
            return False
        return bool(scopes) and set(scopes) <= set(known.scopes.split()) & set(SCOPES)

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        client = self._client(client_id)
        return client.scopes.split() if client else []

    def validate_response_type(
        self, client_id: str, response_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        known = client or self._client(client_id)
        return known is not None and response_type == "code" and "authorization_code" in known.grant_types

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        known = client or self._client(client_id)
        return known is not None and grant_type in known.grant_types

    # --- authorization codes (PKCE required of public clients) -------------------------------

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        """Public clients must use PKCE; a confidential one authenticates with its secret instead
        (RFC 6749 §4.1), and its PKCE, when sent, is still checked."""
        client = self._client(client_id)
        return client is None or not client.confidential

    def save_authorization_code(
        self, client_id: str, code: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        client = self._client(client_id)
        assert client is not None
        self.repo.add(
            OAuthAuthorizationCode(
                code_hash=hash_secret(code["code"]),
                client_pk=client.id,
                host_id=int(request.user),
                redirect_uri=request.redirect_uri or "",
                scopes=" ".join(request.scopes),
                code_challenge=request.code_challenge,
                code_challenge_method=request.code_challenge_method,
                expires_at=utcnow() + CODE_LIFETIME,
            )
        )

    def _code(self, code: str) -> OAuthAuthorizationCode | None:
        return self.repo.authorization_code(hash_secret(code))

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        stored = self._code(code)
        if (
            stored is None
            or stored.used_at is not None
            or stored.expires_at < utcnow()
            or stored.client_pk != client.id
        ):
            return False
        request.user = stored.host_id
        request.scopes = stored.scopes.split()
        return True

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        stored = self._code(code)
        return stored is not None and stored.redirect_uri == (redirect_uri or "")

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        stored = self._code(code)
        return stored.code_challenge if stored else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        stored = self._code(code)
        return stored.code_challenge_method if stored else None

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        stored = self._code(code)
        if stored is not None:
            stored.used_at = utcnow()

    # --- tokens ----------------------------------------------------------------------------

    def save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any) -> None:
        client: OAuthClient = request.client
        host_id = int(request.user) if getattr(request, "user", None) is not None else client.host_id
        self.repo.add(
            OAuthToken(
                access_hash=hash_secret(token["access_token"]),
                refresh_hash=hash_secret(token["refresh_token"]) if token.get("refresh_token") else None,
                client_pk=client.id,
                host_id=host_id,
                scopes=token.get("scope", " ".join(request.scopes or [])),
                expires_at=utcnow() + timedelta(seconds=int(token["expires_in"])),
            )
        )
        log_action(
            self.session,
            "oauth.token_issued",
            actor=f"oauth:client:{client.client_id}",
            ref=f"host:{host_id}",
            company_id=None,
            grant=request.grant_type,
        )

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        stored = self.repo.token_by_refresh(hash_secret(refresh_token))
        if stored is None or stored.revoked_at is not None or stored.client_pk != client.id:
            return False
        request.user = stored.host_id
        stored.revoked_at = utcnow()  # refresh tokens rotate: the old pair ends here
        return True

    def get_original_scopes(self, refresh_token: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        stored = self.repo.token_by_refresh(hash_secret(refresh_token))
        return stored.scopes.split() if stored else []

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        return False  # resources check tokens through OAuthService.actor_for_token


class OAuthService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = AuthRepository(session)

    def server(self) -> Server:
        return Server(
            PodiumRequestValidator(self.session),
            token_expires_in=self.settings.oauth_access_token_seconds,
            token_generator=lambda _request: secrets.token_urlsafe(32),
            refresh_token_generator=lambda _request: secrets.token_urlsafe(32),
        )

    def actor_for_token(self, access_token: str) -> Actor:
        """The host and scopes behind a Bearer access token."""
        stored = self.repo.token_by_access(hash_secret(access_token)) if access_token else None
        if stored is None or stored.revoked_at is not None:
            raise Unauthenticated("Invalid token")
        if stored.expires_at <= utcnow():
            raise Unauthenticated("Session expired")
        client = self.repo.oauth_client_by_pk(stored.client_pk)
        if client is None or client.revoked_at is not None:
            raise Unauthenticated("Invalid token")
        return AuthService(self.session, self.settings).actor_for_host(
            self.repo.host(stored.host_id), "oauth", scopes=frozenset(stored.scopes.split())
        )

    def create_client(
        self,
        *,
        host_id: int,
        name: str,
        redirect_uris: list[str],
        grant_types: list[str],
        scopes: list[str],
        confidential: bool = True,
    ) -> tuple[OAuthClient, str | None]:
        """Register an application (command line); its secret is shown once."""
        host = self.repo.host(host_id)
        if host is None or host.deleted_at is not None:
            raise NotFound("Host not found")
        if set(grant_types) - set(GRANT_TYPES) or not grant_types:
            raise InvalidInput(f"grant types must be among {', '.join(GRANT_TYPES)}")
        if set(scopes) - set(SCOPES) or not scopes:
            raise InvalidInput("scopes must be among read, write")
        if "client_credentials" in grant_types and not confidential:
            raise InvalidInput("client credentials need a confidential client")
        if "authorization_code" in grant_types and not redirect_uris:
            raise InvalidInput("authorization code clients need at least one redirect URI")
        secret = secrets.token_urlsafe(32) if confidential else None
        client = OAuthClient(
            client_id=secrets.token_hex(12),
            secret_hash=hash_secret(secret) if secret else None,
            name=name,
            host_id=host.id,
            redirect_uris=redirect_uris,
            grant_types=grant_types,
            scopes=" ".join(scopes),
            confidential=confidential,
        )
        self.repo.add(client)
        log_action(
            self.session,
            "oauth.client_created",
            actor=SYSTEM_LABEL,
            ref=f"oauth_client:{client.id}",
            company_id=host.company_id,
        )
        return client, secret
