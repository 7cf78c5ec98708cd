"""The web app's sign-in: a signed, HttpOnly session cookie; and the rule for where we may redirect."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from podium.config import Settings
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import DomainError

COOKIE = "podium_session"
AUDIENCE = "podium:web"
LIFETIME = timedelta(hours=12)


def sign_in(response: Response, host_id: int, settings: Settings) -> None:
    token = tokens.sign(
        {"aud": AUDIENCE, "sub": str(host_id)}, settings.signing_key(), expires_at=utcnow() + LIFETIME
    )
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
        path="/",
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def signed_in_host_id(request: Request, settings: Settings) -> int | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        claims = tokens.verify(token, settings.signing_key(), audience=AUDIENCE)
        return int(claims["sub"])
    except (DomainError, KeyError, ValueError):
        return None


def csrf_token(request: Request, settings: Settings) -> str:
    """Bound to the session cookie, so a form posted from elsewhere cannot carry it."""
    cookie = request.cookies.get(COOKIE, "")
    return hmac.new(settings.signing_key().encode(), f"csrf:{cookie}".encode(), hashlib.sha256).hexdigest()


def safe_redirect(target: str, settings: Settings) -> str | None:
    """A redirect target on this server (a path, or an absolute URL of PUBLIC_URL), else None."""
    if not target:
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    own = urlsplit(settings.public_url)
    if parts.scheme or parts.netloc:
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
            return None
    elif not target.startswith("/") or target.startswith("//"):
        return None
    path = parts.path or "/"
    return (
        path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    )
