"""LiveMinutes authentication: HTTP Basic with AccountSid : AuthToken."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from podium.kit.errors import Unauthenticated


def basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthenticated("Authentication required (HTTP Basic: AccountSid and AuthToken)")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated("Malformed HTTP Basic credentials") from exc
    account_sid, sep, auth_token = decoded.partition(":")
    if not sep or not account_sid:
        raise Unauthenticated("Malformed HTTP Basic credentials")
    return account_sid, auth_token
