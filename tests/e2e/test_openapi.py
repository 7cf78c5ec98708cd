from __future__ import annotations

from fastapi.testclient import TestClient

from podium.edges.boomstream.router import ALL_METHODS
from podium.edges.iotum.routes import ENDPOINTS as IOTUM_ENDPOINTS
from podium.edges.liveminutes.routes import METHODS as LM_METHODS


def test_openapi_covers_every_endpoint_of_every_dialect(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for method in ALL_METHODS:
        operations = paths[f"/api/{method.path}"]
        assert set(operations) == {"get", "post"}
        names = {p["name"] for p in operations["get"]["parameters"]}
        assert {"apikey", "format", "ver"} <= names
    groups = [m.path.split("/")[0] for m in ALL_METHODS]
    # The ten conference methods, ten of media, six of lives (ours), the thirteen PPV ones with ppv/info
    # and ppv/sessions, stats.
    expected = {"conference": 10, "media": 10, "live": 6, "ppv": 15, "stats": 1}
    assert {g: groups.count(g) for g in set(groups)} == expected
    for name, *_ in LM_METHODS:
        assert "post" in paths[f"/liveminutes/{name}"]
    assert len(LM_METHODS) == 8
    for endpoint in IOTUM_ENDPOINTS:
        assert {m.lower() for m in endpoint.verbs} <= set(paths[f"/enterprise_api/{endpoint.path}"])
    assert "post" in paths["/enterprise_api/authenticate"]
    assert "put" in paths["/enterprise_api/subscription/update"]
    for page in (
        "/auth",
        "/oauth/token",
        "/oauth/authorize",
        "/healthz",
        "/media/upload/{code}",
        "/media/progress/{code}",
        "/watch/{code}",
        "/watch/heartbeat",
        "/play/{token}/{code}/{title}/{segment}",
    ):
        assert page in paths


def test_iotum_unknown_paths_answer_json(client: TestClient) -> None:
    missing = client.post("/enterprise_api/nothing/here", json={})
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    wrong_verb = client.get("/enterprise_api/host/fetch")
    assert wrong_verb.status_code == 405 and wrong_verb.json()["message"]


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_every_operation_declares_its_errors_and_bodies(client: TestClient) -> None:
    """Each operation names the statuses its error table can answer, with a body per status; the
    Iotum methods describe the fields they read (schemathesis then checks answers against this)."""
    spec = client.get("/openapi.json").json()
    operations = [
        (path, verb, operation) for path, verbs in spec["paths"].items() for verb, operation in verbs.items()
    ]
    assert len(operations) > 170
    for path, verb, operation in operations:
        statuses = set(operation["responses"])
        if path.startswith(("/enterprise_api/", "/api/", "/liveminutes/")):
            assert {"413", "429"} <= statuses, (path, verb, statuses)
            assert "content" in operation["responses"]["429"], (path, verb)
            assert "Retry-After" in operation["responses"]["429"]["headers"], (path, verb)
        elif path not in ("/livez", "/healthz"):
            assert "413" in statuses, (path, verb, statuses)
        if verb in ("post", "put") and not path.startswith(("/media/upload/", "/drive/upload/", "/logout")):
            assert "requestBody" in operation, (path, verb)
    iotum = spec["paths"]["/enterprise_api/conference/create"]["post"]
    assert {"200", "401", "403", "404", "422", "429"} <= set(iotum["responses"])
    body = iotum["requestBody"]["content"]["application/json"]["schema"]
    assert {"auth_token", "start", "duration", "auto_record", "participant_emails"} <= set(body["properties"])
    assert {"start", "duration"} <= set(body["required"])
    assert body["properties"]["duration"]["type"] == "integer"
    assert set(spec["paths"]["/enterprise_api/host/delete"]["post"]["responses"]) >= {"202", "404"}
    failure = iotum["responses"]["404"]["content"]["application/json"]["schema"]
    assert failure["required"] == ["message"]
    pin_page = spec["paths"]["/conf/call/{access_code}"]["post"]
    assert "text/html" in pin_page["responses"]["403"]["content"]
    assert (
        "pin"
        in pin_page["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    )
    assert "303" in spec["paths"]["/login"]["post"]["responses"]
    assert "206" in spec["paths"]["/play/{token}/{code}/{title}.mp4"]["get"]["responses"]
