"""Iotum authentication on every call but ``authenticate``: ``auth_token`` or an OAuth Bearer token."""

from __future__ import annotations

from fastapi import Request

from podium.domain.actor import Actor
from podium.domain.auth.oauth import OAuthService
from podium.domain.auth.service import AuthService
from podium.edges.iotum.params import Body
from podium.kit.uow import Context


def presents_credential(request: Request, body: Body) -> bool:
    """Whether the call carries a credential at all (only a wrong one is a failed attempt)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return bool(body.get("auth_token")) or (scheme.lower() == "bearer" and bool(token.strip()))


def actor_from(request: Request, body: Body, ctx: Context) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    auth_token = body.get("auth_token")
    if scheme.lower() == "bearer" and token.strip() and not auth_token:
        return OAuthService(ctx.session, ctx.settings).actor_for_token(token.strip())
    return AuthService(ctx.session, ctx.settings).resolve_auth_token(str(auth_token or ""))
