"""Webhooks to a real HTTP receiver on 127.0.0.1: format of NOTES.md, events, retries with backoff,
delivery that survives a restart (a new worker and engine), the delivery log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from podium.domain.outbox.worker import OutboxWorker, backoff
from podium.domain.webhooks.signature import verify
from podium.kit.clock import clock, utcnow
from podium.kit.db import make_engine, make_sessionmaker
from tests.fixtures.iotum import World, api, build_world
from tests.fixtures.receiver import Receiver, receiver


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan")
    yield world


@pytest.fixture
def hook(client: TestClient, world: World) -> Iterator[tuple[Receiver, dict[str, object]]]:
    with receiver() as target:
        created = api(
            client,
            "webhook/create",
            world.ca,
            url=target.url,
            events=["conference_start", "conference_end", "one_time_access_code_reused"],
        )
        assert created.status_code == 200, created.text
        yield target, created.json()
        api(client, "webhook/delete", world.ca, id=created.json()["id"])


def _deliver(client: TestClient) -> int:
    return int(client.app.state.outbox_worker.deliver_due())  # type: ignore[attr-defined]


def test_conference_start_and_end_are_delivered(
    client: TestClient, world: World, hook: tuple[Receiver, dict[str, object]]
) -> None:
    target, endpoint = hook
    host = world.new_host(world.company_id)
    conference = api(client, "conference/create/reservationless", world.ca, host_id=host).json()
    _deliver(client)
    api(client, "conference/end", world.ca, conference_id=conference["conference_id"])
    _deliver(client)
    events = [r.body["event"] for r in target.requests]
    assert events == ["conference_start", "conference_end"]
    first = target.requests[0]
    assert first.headers["x-signing-token"] == endpoint["signing_token"]
    assert first.headers["content-type"] == "application/json"
    assert set(first.body) == {"event", "payload", "timestamp"}
    assert isinstance(first.body["payload"], str)  # payload is serialized JSON
    payload = json.loads(first.body["payload"])
    assert list(payload)[:3] == ["host_id", "company_id", "conference_id"]
    assert (payload["host_id"], payload["company_id"], payload["conference_id"]) == (
        host,
        world.company_id,
        conference["conference_id"],
    )
    assert first.body["timestamp"].endswith("Z")
    log = api(client, "webhook/deliveries", world.ca, id=endpoint["id"]).json()
    assert [(d["event"], d["status_code"], d["succeeded"]) for d in log] == [
        ("conference_end", 200, True),
        ("conference_start", 200, True),
    ]


def test_an_endpoint_added_or_removed_is_heard_by_the_next_write(client: TestClient, world: World) -> None:
    """Which endpoints listen is kept per company (domain/webhooks ``listeners``): removing one, or
    adding one, counts for the very next event, however soon it comes."""
    host = world.new_host(world.company_id)
    with receiver() as target:

        def start_a_conference() -> None:
            api(client, "conference/create/reservationless", world.ca, host_id=host)
            _deliver(client)

        created = api(client, "webhook/create", world.ca, url=target.url, events=["conference_start"]).json()
        start_a_conference()
        assert len(target.requests) == 1
        api(client, "webhook/delete", world.ca, id=created["id"])
        start_a_conference()
        assert len(target.requests) == 1, "a deleted endpoint is not called"
        again = api(client, "webhook/create", world.ca, url=target.url, events=["conference_start"]).json()
        start_a_conference()
        assert len(target.requests) == 2, "a new endpoint hears the next event"
        api(client, "webhook/delete", world.ca, id=again["id"])


def test_failed_delivery_is_retried_with_backoff(
    client: TestClient, world: World, hook: tuple[Receiver, dict[str, object]]
) -> None:
    target, endpoint = hook
    target.statuses = [500, 503]
    host = world.new_host(world.company_id)
    api(client, "conference/create/reservationless", world.ca, host_id=host)
    _deliver(client)
    assert len(target.requests) == 1
    _deliver(client)  # not due yet
    assert len(target.requests) == 1
    clock.freeze(utcnow() + backoff(1) + timedelta(seconds=1))
    _deliver(client)
    clock.freeze(utcnow() + backoff(2) + timedelta(seconds=1))
    _deliver(client)
    assert len(target.requests) == 3
    assert [r.body["event"] for r in target.requests] == ["conference_start"] * 3
    world.home.ra = api(client, "authenticate", api_token=world.home.ra_api_token).json()["auth_token"]
    log = api(
        client, "webhook/deliveries", world.home.ra, company_id=world.company_id, id=endpoint["id"]
    ).json()
    assert [(d["attempt"], d["status_code"], d["succeeded"]) for d in log][:3] == [
        (3, 200, True),
        (2, 503, False),
        (1, 500, False),
    ]


def test_pending_deliveries_survive_a_restart(
    client: TestClient, world: World, settings: object, hook: tuple[Receiver, dict[str, object]]
) -> None:
    target, _ = hook
    host = world.new_host(world.company_id)
    api(client, "conference/create/reservationless", world.ca, host_id=host)
    # The serving process never delivered it; a new worker with its own engine (a restarted server) does.
    engine = make_engine(world.settings.resolved_database_url)
    try:
        OutboxWorker(world.settings, make_sessionmaker(engine)).deliver_due()
    finally:
        engine.dispose()
    assert [r.body["event"] for r in target.requests] == ["conference_start"]


def test_one_time_code_reuse_is_reported(
    client: TestClient, world: World, hook: tuple[Receiver, dict[str, object]]
) -> None:
    target, _ = hook
    host = world.new_host(world.company_id, plan_slug="large_plan")
    start = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    conference = api(
        client,
        "conference/create",
        world.ca,
        host_id=host,
        subject="Later",
        start=start,
        time_zone="UTC",
        duration=30,
        one_time_access_code=True,
    ).json()
    assert client.get(conference["room_url"].removeprefix("http://podium.test")).status_code == 200
    _deliver(client)
    events = [r.body["event"] for r in target.requests]
    assert events == ["one_time_access_code_reused", "conference_start"]
    payload = json.loads(target.requests[0].body["payload"])
    assert payload["original_conference_id"] == conference["conference_id"]
    assert payload["host_id"] == host


def test_webhook_api_validation(client: TestClient, world: World) -> None:
    assert (
        api(client, "webhook/create", world.ca, url="ftp://x", events=["conference_start"]).status_code == 422
    )
    bad_event = api(client, "webhook/create", world.ca, url="https://example.com/h", events=["coffee_ready"])
    assert bad_event.status_code == 422 and "events must be among" in bad_event.json()["message"]
    assert api(client, "webhook/delete", world.ca, id=10**9).status_code == 404
    assert (
        api(
            client, "webhook/create", world.host, url="https://example.com/h", events=["conference_start"]
        ).status_code
        == 403
    )
    listed = api(client, "webhook/fetch_all", world.ca).json()
    assert all("signing_token" not in w for w in listed)


def test_every_delivery_is_signed(
    client: TestClient, world: World, hook: tuple[Receiver, dict[str, object]]
) -> None:
    target, endpoint = hook
    host = world.new_host(world.company_id)
    api(client, "conference/create/reservationless", world.ca, host_id=host)
    _deliver(client)
    delivered = target.requests[-1]
    header = delivered.headers["x-podium-signature"]
    token = str(endpoint["signing_token"])
    now = int(time.time())
    assert verify(token, delivered.raw, header, now=now)
    assert not verify(token, delivered.raw + b" ", header, now=now), "a changed body fails"
    assert not verify("another-token", delivered.raw, header, now=now)
    assert not verify(token, delivered.raw, header, now=now + 3600), "an old signature is a replay"


def test_no_delivery_into_private_networks(client: TestClient, world: World) -> None:
    """Without PODIUM_WEBHOOK_PRIVATE_NETWORKS a loopback receiver is never contacted, and the log
    says why in our words (a port scan learns nothing)."""
    with receiver() as target:
        created = api(client, "webhook/create", world.ca, url=target.url, events=["conference_start"])
        assert created.status_code == 200, created.text
        host = world.new_host(world.company_id)
        api(client, "conference/create/reservationless", world.ca, host_id=host)
        strict = world.settings.model_copy(update={"webhook_private_networks": False})
        engine = client.app.state.engine  # type: ignore[attr-defined]
        OutboxWorker(strict, make_sessionmaker(engine)).deliver_due()
        assert target.requests == []
        log = api(client, "webhook/deliveries", world.ca, id=created.json()["id"]).json()
        assert log and log[0]["error"] == "address not allowed (loopback, private or link-local)"
        assert log[0]["status_code"] is None
        api(client, "webhook/delete", world.ca, id=created.json()["id"])


def test_a_private_address_is_refused_at_registration(client: TestClient, world: World) -> None:
    from podium.domain.webhooks.service import WebhookService
    from podium.kit.errors import InvalidInput

    with world.sessions() as session:
        service = WebhookService(session)
        for url in (
            "http://127.0.0.1:8000/hook",
            "http://10.0.0.5/hook",
            "http://[::1]/x",
            "http://169.254.169.254/",
        ):
            with pytest.raises(InvalidInput, match="does not deliver to"):
                service.create(world.company_id, url, ["conference_start"], allow_private=False)
        public = service.create(world.company_id, "https://hooks.example.com/podium", ["conference_start"])
        assert public.url == "https://hooks.example.com/podium"
        session.rollback()
