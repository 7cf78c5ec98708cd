"""Several Janus instances: a room goes to the least loaded one and stays there; a dead one is skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from podium.app import create_app
from podium.rooms.janus import LocalJanus
from tests.conftest import make_settings
from tests.edges.boomstream.helpers import boom, ok
from tests.fixtures.tenants import TenantFactory


@pytest.fixture
def two_janus(tmp_path: Path) -> Iterator[tuple[LocalJanus, LocalJanus]]:
    if not LocalJanus.available():
        pytest.fail("janus is not installed: `make test` installs Debian's janus package")
    first, second = LocalJanus(tmp_path / "a"), LocalJanus(tmp_path / "b")
    first.start()
    second.start()
    yield first, second
    first.stop()
    second.stop()


def _instance(janus: LocalJanus) -> dict[str, str]:
    endpoint = janus.endpoint
    assert endpoint is not None
    return {
        "url": endpoint.api_url,
        "admin_url": endpoint.admin_url,
        "admin_secret": endpoint.admin_secret,
        "room_admin_key": endpoint.room_admin_key,
    }


def _enter(client: TestClient, key: str) -> dict[str, object]:
    code = ok(boom(client, "conference/create", key, title="Pooled"))["Code"]
    invite = ok(boom(client, "conference/invite", key, code=code, email="p@example.com"))
    page = client.get(invite["inviteLink"].removeprefix("http://podium.test"))
    ticket = page.text.split('data-ticket="', 1)[1].split('"', 1)[0]
    entered = client.post("/rooms/enter", json={"ticket": ticket})
    assert entered.status_code == 200, entered.text
    again = client.post("/rooms/enter", json={"ticket": ticket})  # a second visitor: the same room
    assert (again.json()["room"], again.json()["janus_url"]) == (
        entered.json()["room"],
        entered.json()["janus_url"],
    )
    body: dict[str, object] = entered.json()
    return body


def test_rooms_spread_over_instances(
    two_janus: tuple[LocalJanus, LocalJanus], data_dir: Path, database_url: str, tenants: TenantFactory
) -> None:
    first, second = two_janus
    settings = make_settings(data_dir, database_url, janus_instances=[_instance(first), _instance(second)])
    with TestClient(create_app(settings)) as client:
        key = tenants().boomstream_apikey
        one = _enter(client, key)
        two = _enter(client, key)
        assert {one["janus_url"], two["janus_url"]} == {first.endpoint.api_url, second.endpoint.api_url}  # type: ignore[union-attr]
        page = client.get("/m/ZZZZZZ")
        assert page.status_code == 404
        second.stop()  # an instance dies: new rooms go to the one still answering
        three = _enter(client, key)
        assert three["janus_url"] == first.endpoint.api_url  # type: ignore[union-attr]
