"""Calling LiveMinutes from tests: a method with the tenant's Basic credentials, and its result."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant


def lm(client: TestClient, tenant: Tenant, method: str, **data: Any) -> dict[str, Any]:
    """POST a LiveMinutes method as a form and return the parsed answer."""
    response = client.post(f"/liveminutes/{method}", data=data, auth=tenant.basic)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert body["resultcode"] == 1, body
    return body


def failed(body: dict[str, Any], message_part: str) -> None:
    assert body["resultcode"] == 0, body
    assert message_part.lower() in body["message"].lower(), body
