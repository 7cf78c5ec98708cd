"""Signed tokens (HS256 JWT through PyJWT)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jwt

from podium.kit.clock import utcnow
from podium.kit.errors import LinkExpired, LinkInvalid

ALGORITHM = "HS256"


def sign(claims: dict[str, Any], key: str, *, expires_at: datetime) -> str:
    now = utcnow()
    payload = {**claims, "iat": int(_epoch(now)), "exp": int(_epoch(expires_at))}
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def verify(token: str, key: str, *, audience: str) -> dict[str, Any]:
    """Check signature, audience and expiry against our clock; raise a link error otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            # Time is checked below against our clock (replaceable in tests), not PyJWT's.
            options={
                "require": ["exp", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise LinkInvalid("This link is not valid") from exc
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= _epoch(utcnow()):
        raise LinkExpired("This link has expired")
    return claims


def _epoch(moment: datetime) -> float:
    from datetime import UTC

    return moment.replace(tzinfo=UTC).timestamp()
