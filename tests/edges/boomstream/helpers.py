from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def boom(client: TestClient, method: str, apikey: str, **params: Any) -> dict[str, Any]:
    """GET a Boomstream method as JSON and return the parsed answer."""
    params.setdefault("format", "json")
    response = client.get(f"/api/{method}", params={"apikey": apikey, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert body["Status"] == "Success", body
    return body


def failed(body: dict[str, Any], message_part: str) -> dict[str, Any]:
    assert body["Status"] == "Failed", body
    assert message_part.lower() in body["Message"].lower(), body["Message"]
    return body
