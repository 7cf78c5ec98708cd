"""The signature every webhook delivery carries, so a receiver can reject tampered and replayed calls.

``X-Podium-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(signing token, "<t>.<body>")>``: the
receiver recomputes the HMAC over the raw body with the endpoint's signing token (the one shown once
at creation, also sent as the reference's ``x-signing-token`` header), compares in constant time,
and refuses a ``t`` older than a few minutes. See docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Podium-Signature"


def sign_body(token: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(token.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(token: str, body: bytes, header: str, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (used by our tests; receivers write the same few lines)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign_body(token, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
