from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class ApiSession(Timestamped, Base):
    """An Iotum ``auth_token``: valid until 60 minutes after its last successful use."""

    __tablename__ = "api_sessions"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), index=True)
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id"))
    last_used_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class OAuthClient(Timestamped, Base):
    """An application registered for OAuth 2; it acts as ``host_id`` in client-credentials grants."""

    __tablename__ = "oauth_clients"
    __table_args__ = (UniqueConstraint("client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[str] = mapped_column(String(255), default="read write")
    confidential: Mapped[bool] = mapped_column(Boolean, default=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class OAuthAuthorizationCode(Timestamped, Base):
    __tablename__ = "oauth_codes"
    __table_args__ = (UniqueConstraint("code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(255))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class OAuthToken(Timestamped, Base):
    __tablename__ = "oauth_tokens"
    __table_args__ = (
        UniqueConstraint("access_hash"),
        UniqueConstraint("refresh_hash"),
        Index("ix_oauth_tokens_client", "client_pk"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    access_hash: Mapped[str] = mapped_column(String(64))
    refresh_hash: Mapped[str | None] = mapped_column(String(64))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    scopes: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
