"""One rule decides whether a room access code is free (issue #11): a host may not claim a
conference's one-time code, whoever administers it, so a room link can never be hijacked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from podium.kit.clock import utcnow
from tests.fixtures.iotum import World, api, build_world


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=True)
    yield world


def _one_time_code(client: TestClient, world: World, host_id: int) -> str:
    start = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    answer = api(
        client,
        "conference/create",
        world.home.ra,
        host_id=host_id,
        subject="Board",
        start=start,
        time_zone="UTC",
        duration=60,
        one_time_access_code=True,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["one_time_access_code"])


def test_no_host_can_claim_a_conference_code(client: TestClient, world: World) -> None:
    organiser = world.new_host(world.company_id, plan_slug="large_plan")
    code = _one_time_code(client, world, organiser)
    room = client.get(f"/conf/call/{code}")
    assert room.status_code == 200 and "Board" in room.text
    taken = {"message": f"access_code {code} is already taken"}
    # A company admin on a host of the same company, a reseller admin on its own host, the admin of
    # another reseller tree on its own host, and a new host: all refused, all with the same answer.
    colleague = world.new_host(world.company_id)
    for token, host_id in (
        (world.ca, colleague),
        (world.home.ra, world.home.ra_host_id),
        (world.foreign.ra, world.foreign.ra_host_id),
    ):
        answer = api(client, "host/update", token, host_id=host_id, access_code=code)
        assert (answer.status_code, answer.json()) == (409, taken), answer.text
    created = api(
        client, "host/create", world.ca, name="New", email="new-claim@example.com", access_code=code
    )
    assert (created.status_code, created.json()) == (409, taken)
    # The link still opens the conference, not someone's personal room.
    assert "Board" in client.get(f"/conf/call/{code}").text
    # A host keeps (and may re-send) its own code; a code scheduled on it stays its own.
    own = api(client, "host/fetch", world.ca, host_id=organiser).json()["access_code"]["number"]
    again = api(client, "host/update", world.ca, host_id=organiser, access_code=own)
    assert again.status_code == 200, again.text
    # Another host's dedicated code is as taken as ever.
    other = api(client, "host/update", world.ca, host_id=colleague, access_code=own)
    assert (other.status_code, other.json()) == (409, {"message": f"access_code {own} is already taken"})
