from __future__ import annotations

from fastapi.testclient import TestClient

from podium.edges.boomstream.router import ALL_METHODS
from podium.edges.liveminutes.routes import METHODS as LM_METHODS


def test_openapi_covers_every_endpoint_of_every_dialect(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for method in ALL_METHODS:
        operations = paths[f"/api/{method.path}"]
        assert set(operations) == {"get", "post"}
        names = {p["name"] for p in operations["get"]["parameters"]}
        assert {"apikey", "format", "ver"} <= names
    assert len(ALL_METHODS) == 10
    for name, *_ in LM_METHODS:
        assert "post" in paths[f"/liveminutes/{name}"]
    assert len(LM_METHODS) == 8
    assert "/healthz" in paths


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
