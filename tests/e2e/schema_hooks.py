"""Schemathesis hooks for tests/e2e/test_schema.py: each generated request carries its dialect's
credential (from PODIUM_SCHEMA_CREDENTIALS), so it reaches the method's own checks."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import schemathesis

CREDENTIALS: dict[str, str] = json.loads(os.environ.get("PODIUM_SCHEMA_CREDENTIALS") or "{}")


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    if not CREDENTIALS:
        return
    path: str = case.operation.path
    if path.startswith("/api/"):
        case.query = {**(case.query or {}), "apikey": CREDENTIALS["apikey"]}
    elif path.startswith("/liveminutes/"):
        basic = base64.b64encode(f"{CREDENTIALS['sid']}:{CREDENTIALS['token']}".encode()).decode()
        case.headers = {**(case.headers or {}), "Authorization": f"Basic {basic}"}
    elif path.startswith("/enterprise_api/") and path != "/enterprise_api/authenticate":
        # A generated body that is not an object (or none) is replaced: it could carry no credential.
        body = case.body if isinstance(case.body, dict) else {}
        case.body = {**body, "auth_token": CREDENTIALS["auth_token"]}
        case.media_type = "application/json"
