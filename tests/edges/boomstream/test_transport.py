"""Boomstream call styles, envelope, formats, versions and masking (NOTES.md)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from fastapi.testclient import TestClient

from tests.edges.boomstream.helpers import boom, failed, ok
from tests.fixtures.tenants import TenantFactory


def test_get_query_string_defaults_to_xml(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.get("/api/conference/list", params={"apikey": tenant.boomstream_apikey})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    assert root.findtext("Status") == "Success"
    assert root.findtext("Version") == "1.0"
    assert [item.findtext("version") for item in root.find("Versions")] == ["1.0", "1.1", "1.2"]


def test_json_post_answers_json_without_asking(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.post(
        "/api/conference/create", json={"apikey": tenant.boomstream_apikey, "title": "Posted"}
    )
    assert response.headers["content-type"].startswith("application/json")
    body = ok(response.json())
    assert body["RequestURI"] == "/api/conference/create"
    info = boom(client, "conference/info", tenant.boomstream_apikey, code=body["Code"])
    assert ok(info)["title"] == "Posted"


def test_json_post_may_ask_for_xml(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.post("/api/conference/list", json={"apikey": tenant.boomstream_apikey, "format": "xml"})
    assert ET.fromstring(response.text).findtext("Status") == "Success"


def test_bearer_header_alone_and_explicit_apikey_wins(client: TestClient, tenants: TenantFactory) -> None:
    mine, other = tenants(), tenants()
    code = ok(boom(client, "conference/create", mine.boomstream_apikey, title="Mine"))["Code"]
    by_header = client.get(
        "/api/conference/info",
        params={"code": code, "format": "json"},
        headers={"Authorization": f"Bearer {mine.boomstream_apikey}"},
    ).json()
    assert ok(by_header)["title"] == "Mine"
    # The explicit parameter (another tenant's key) wins over the header: the code is not found.
    explicit = client.get(
        "/api/conference/info",
        params={"code": code, "format": "json", "apikey": other.boomstream_apikey},
        headers={"Authorization": f"Bearer {mine.boomstream_apikey}"},
    ).json()
    failed(explicit, "not found")
    posted = client.post(
        "/api/conference/info",
        json={"code": code},
        headers={"Authorization": f"Bearer {mine.boomstream_apikey}"},
    ).json()
    assert ok(posted)["code"] == code


def test_form_encoded_post(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.post(
        "/api/conference/create?format=json", data={"apikey": tenant.boomstream_apikey, "title": "Form"}
    )
    assert ok(response.json())["Code"]


def test_method_names_are_case_insensitive(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    code = ok(boom(client, "conference/create", tenant.boomstream_apikey, title="Case"))["Code"]
    body = client.get(
        "/api/Conference/Client/LIST",
        params={"apikey": tenant.boomstream_apikey, "code": code, "format": "json"},
    ).json()
    assert ok(body)["Clients"] == []
    assert body["RequestURI"].startswith("/api/Conference/Client/LIST?apikey=xxx...xxx")


def test_request_uri_masks_the_key(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    body = boom(client, "conference/list", tenant.boomstream_apikey)
    assert tenant.boomstream_apikey not in body["RequestURI"]
    assert body["RequestURI"] == "/api/conference/list?apikey=xxx...xxx&format=json"


def test_versions(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    for version in ("1.0", "1.1", "1.2"):
        assert (
            ok(boom(client, "conference/list", tenant.boomstream_apikey, ver=version))["Version"] == version
        )
    failed(boom(client, "conference/list", tenant.boomstream_apikey, ver="9.9"), "version")


def test_unknown_format_is_a_failure(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.get(
        "/api/conference/list", params={"apikey": tenant.boomstream_apikey, "format": "yaml"}
    )
    root = ET.fromstring(response.text)
    assert root.findtext("Status") == "Failed"
    assert "format" in (root.findtext("Message") or "")


def test_unknown_method_is_a_boomstream_failure(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    response = client.get(
        "/api/conference/nosuch", params={"apikey": tenant.boomstream_apikey, "format": "json"}
    )
    assert response.status_code == 404
    failed(response.json(), "unknown method")


def test_credentials(client: TestClient, tenants: TenantFactory) -> None:
    tenants()
    failed(client.get("/api/conference/list", params={"format": "json"}).json(), "api key is required")
    failed(boom(client, "conference/list", "0" * 32), "invalid credentials")
    bearer = client.get(
        "/api/conference/list", params={"format": "json"}, headers={"Authorization": "Bearer nope"}
    ).json()
    failed(bearer, "invalid credentials")
    basic = client.get(
        "/api/conference/list", params={"format": "json"}, headers={"Authorization": "Basic eDp5"}
    ).json()
    failed(basic, "api key is required")


def test_malformed_bodies(client: TestClient, tenants: TenantFactory, settings) -> None:  # type: ignore[no-untyped-def]
    tenant = tenants()
    not_json = client.post(
        "/api/conference/create", content=b"{nope", headers={"content-type": "application/json"}
    )
    failed(not_json.json(), "not valid JSON")
    array = client.post("/api/conference/create", json=[1, 2])
    failed(array.json(), "JSON object")
    nested = client.post(
        "/api/conference/create", json={"apikey": tenant.boomstream_apikey, "title": {"x": 1}}
    )
    failed(nested.json(), "'title' must be a string")
    huge = client.post(
        "/api/conference/create",
        json={"apikey": tenant.boomstream_apikey, "title": "x" * (settings.max_body_bytes + 1)},
    )
    failed(huge.json(), "larger than")
    nul = boom(client, "conference/create", tenant.boomstream_apikey, title="a\x00b")
    failed(nul, "NUL")
    assert ok(boom(client, "conference/list", tenant.boomstream_apikey))["conferences"] == []


def test_json_scalars_are_accepted(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    code = ok(boom(client, "conference/create", tenant.boomstream_apikey, title="T"))["Code"]
    body = client.post(
        "/api/conference/invite",
        json={
            "apikey": tenant.boomstream_apikey,
            "code": code,
            "email": "a@example.com",
            "moderator": True,
            "timeout": 600,
        },
    ).json()
    assert ok(body)["isModerator"] is True
