"""``/metrics`` (kit/metrics.py, README "Observability"), scraped from a real server and read with the
Prometheus text parser: the counters move with real API calls of every dialect, a room join and
heartbeats; the gauges show the room while someone is in it and the queues and Janus instances;
labels come from routes (no id of a tenant's object in them); the token and loopback rules hold."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from podium.app import create_app
from podium.config import Settings
from podium.domain.outbox.service import enqueue
from podium.domain.outbox.worker import OutboxWorker
from podium.models.outbox import OutboxMessage
from tests.conftest import make_settings
from tests.fixtures.browser import LiveServer
from tests.fixtures.media import ready_media
from tests.fixtures.processes import free_port, podium_env
from tests.fixtures.rooms import in_room
from tests.fixtures.tenants import TenantFactory
from tests.fixtures.waiting import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, labels) → value, through the Prometheus text parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def scrape(base: str) -> Samples:
    answer = httpx.get(f"{base}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(answer.text)


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    return live_server


def test_counters_and_gauges_move_with_real_traffic(
    server: LiveServer, client: TestClient, tenants: TenantFactory, media_files: dict[str, Path]
) -> None:
    base = server.base_url
    tenant = tenants()
    # A media to watch, transcoded by the real worker (its job counted); the in-process app shares
    # this process's counters with the live server.
    code = ready_media(client, tenant.boomstream_apikey, media_files["audio"])
    before = scrape(base)  # from 127.0.0.1, no token configured: allowed

    # Every dialect, through the live server.
    boom = httpx.get(
        f"{base}/api/media/info", params={"apikey": tenant.boomstream_apikey, "code": code, "format": "json"}
    )
    assert boom.json()["Status"] == "Success", boom.text
    assert httpx.get(f"{base}/api/MEDIA/info", params={"apikey": tenant.boomstream_apikey}).status_code == 200
    refused = httpx.post(f"{base}/enterprise_api/company/fetch", json={"company_id": tenant.company_id})
    assert refused.status_code == 401, refused.text
    assert httpx.post(f"{base}/enterprise_api/no/such-{code}").status_code == 404
    assert httpx.get(f"{base}/static/room.js").status_code == 200
    meeting = httpx.post(
        f"{base}/liveminutes/createMeeting",
        data={"meetingKey": "obs-meeting-7", "hostid": "h1"},
        auth=tenant.basic,
    ).json()
    assert meeting["resultcode"] == 1, meeting

    # Heartbeats: the first admitted (a database check), the next counted in memory, one refused.
    opened = httpx.post(f"{base}/watch/{code}/session", json={"device": "metrics-test"})
    assert opened.status_code == 200, opened.text
    session = {"session": opened.json()["session"], "key": opened.json()["key"]}
    for watched in (1000, 1000):
        assert httpx.post(f"{base}/watch/heartbeat", json={**session, "watched": watched}).status_code == 200
    bad = httpx.post(f"{base}/watch/heartbeat", json={**session, "watched": 10**9})
    assert bad.status_code == 400, bad.text

    # A room join: the gauges see the visitor while the socket is open.
    with in_room(base, meeting["hostUrl"], name="Metrics"):
        inside = scrape(base)
        assert value(inside, "podium_rooms_live") >= 1
        assert value(inside, "podium_room_participants") >= 1
    after = scrape(base)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    requests = "podium_http_requests_total"
    assert moved(requests, dialect="boomstream", method="media/info", verb="GET", status="200") == 2
    assert moved(requests, dialect="iotum", method="company/fetch", verb="POST", status="401") == 1
    assert moved(requests, dialect="iotum", method="(unmatched)", verb="POST", status="404") == 1
    assert moved(requests, dialect="web", method="/static/{path}", verb="GET", status="200") == 1
    assert moved(requests, dialect="liveminutes", method="createMeeting", verb="POST", status="200") == 1
    # (At least: a watch page or room another test left open in this process may add its own.)
    assert moved(requests, dialect="watch", method="/watch/heartbeat", status="200") >= 2
    assert moved(requests, dialect="watch", method="/watch/heartbeat", status="400") >= 1
    assert moved(requests, dialect="watch", method="/watch/{code}/session", status="200") >= 1
    assert moved(requests, dialect="web", method="/rooms/enter", status="200") >= 1
    assert moved(requests, dialect="other", method="/metrics", status="200") >= 2
    latency = "podium_http_request_duration_seconds"
    assert moved(f"{latency}_count", dialect="boomstream", method="media/info") == 2
    assert moved(f"{latency}_sum", dialect="boomstream", method="media/info") > 0
    assert moved(f"{latency}_bucket", dialect="boomstream", method="media/info", le="+Inf") == 2
    assert moved("podium_heartbeats_total", outcome="admitted") >= 1
    assert moved("podium_heartbeats_total", outcome="counted") >= 1
    assert moved("podium_heartbeats_total", outcome="invalid") >= 1
    assert moved("podium_heartbeat_watched_seconds_total") > 0
    assert moved("podium_room_connections_total") >= 1
    assert total(after, "podium_media_jobs_total", outcome="done") >= 1

    # Labels come from routes: no media code, meeting key or token of this tenant in any of them.
    label_values = {v for (_, labels), _ in after.items() for _, v in labels}
    for private in (code, tenant.boomstream_apikey, "obs-meeting-7", meeting["hostUrl"].rsplit("/", 1)[1]):
        assert not any(private in v for v in label_values), private

    # Gauges read at scrape time: the queues (from the database), the media server.
    for kind in ("email", "webhook", "job"):
        assert ("podium_outbox_messages", frozenset({("kind", kind), ("status", "pending")})) in after
    assert ("podium_outbox_due_messages", frozenset()) in after
    assert ("podium_media_queue", frozenset({("state", "waiting")})) in after
    assert ("podium_recording_jobs", frozenset({("step", "compose")})) in after
    assert value(after, "podium_metrics_source_up", source="database") == 1
    assert value(after, "podium_janus_instances") >= 1
    assert total(after, "podium_janus_up") == value(after, "podium_janus_instances")


@pytest.fixture(scope="module")
def quiet_app(data_dir: Path, database_url: str) -> Any:
    """An app on the test database that is never started: scraped by clients of any address (each
    request in an event loop of its own, so nothing in it may be bound to one: no Redis)."""
    return create_app(make_settings(data_dir, database_url, redis_url=None))


def test_the_outbox_depth_retries_and_failures(
    client: TestClient, tenants: TenantFactory, quiet_app: Any
) -> None:
    """An invitation queued by a request shows in the depth gauges (read through the repositories);
    the worker's delivery, retry and give-up move the attempt counters."""
    app: Any = client.app
    scraper = TestClient(quiet_app, client=("127.0.0.1", 40000))
    before = parse(scraper.get("/metrics").text)
    tenant = tenants()
    guest = f"guest-{secrets.token_hex(4)}@example.com"
    created = client.get(
        "/api/conference/create", params={"apikey": tenant.boomstream_apikey, "format": "json", "title": "M"}
    ).json()
    invited = client.get(
        "/api/conference/invite",
        params={
            "apikey": tenant.boomstream_apikey,
            "format": "json",
            "code": created["Code"],
            "email": guest,
            "notifyEmail": "yes",
        },
    )
    assert invited.json()["Status"] == "Success", invited.text
    queued = parse(scraper.get("/metrics").text)
    pending = {"kind": "email", "status": "pending"}
    assert (
        value(queued, "podium_outbox_messages", **pending)
        == value(before, "podium_outbox_messages", **pending) + 1
    )
    assert value(queued, "podium_outbox_due_messages") >= 1

    # No worker runs in the tests' app: this message, and two that cannot be sent, are delivered here.
    with app.state.sessions() as session:
        invitation = next(
            m.id
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
            if m.kind == "email" and m.payload.get("to") == guest
        )
        unsendable = [
            enqueue(session, "email", {"subject": "no recipient"}),
            enqueue(session, "email", {"subject": "no recipient", "max_attempts": 1}),
        ]
        session.commit()
        retried, given_up = (message.id for message in unsendable)
    worker = OutboxWorker(app.state.settings, app.state.sessions)
    assert [worker._deliver_one(i) for i in (invitation, retried, given_up)] == [1, 0, 0]
    after = parse(scraper.get("/metrics").text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(queued, name, **labels)

    assert moved("podium_outbox_attempts_total", kind="email", outcome="delivered") == 1
    assert moved("podium_outbox_attempts_total", kind="email", outcome="retry") == 1
    assert moved("podium_outbox_attempts_total", kind="email", outcome="failed") == 1
    # Delivered: out of the queue; retried: still pending (later); given up: failed.
    assert moved("podium_outbox_messages", **pending) == 0
    assert moved("podium_outbox_messages", kind="email", status="failed") == 1
    with app.state.sessions() as session:  # no unsendable mail left for the other tests' workers
        for message_id in (retried, given_up):
            session.delete(session.get(OutboxMessage, message_id))
        session.commit()


@pytest.fixture(scope="module")
def guarded(data_dir: Path, database_url: str) -> Settings:
    return make_settings(data_dir, database_url, metrics_token="scrape-t0ken")


def test_a_token_is_required_when_one_is_set(guarded: Settings) -> None:
    with TestClient(create_app(guarded)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic scrape-t0ken"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "podium_" not in refused.text
        answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-t0ken"})
        assert answer.status_code == 200
        assert value(parse(answer.text), "podium_metrics_source_up", source="database") == 1


def test_without_a_token_only_loopback_may_scrape(quiet_app: Any) -> None:
    app = quiet_app
    for address in ("203.0.113.9", "10.0.0.5", "testclient"):
        assert TestClient(app, client=(address, 5000)).get("/metrics").status_code == 403, address
    for address in ("127.0.0.1", "::1"):
        answer = TestClient(app, client=(address, 5000)).get("/metrics")
        assert answer.status_code == 200, address
        assert "podium_http_requests_total" in answer.text


@pytest.mark.skipif(
    not os.environ.get("PODIUM_TEST_REDIS_URL"), reason="several processes need Redis (the PostgreSQL pass)"
)
def test_several_processes_add_up_in_one_scrape(tmp_path: Path, database_url: str) -> None:
    """`podium serve --workers 2`: whichever process answers, a scrape counts every process's requests."""
    env = podium_env(
        tmp_path / "var",
        PODIUM_DATABASE_URL=database_url,  # migrated already: the processes start at once
        PODIUM_JANUS="off",
        PODIUM_RTMP="off",
        PODIUM_REDIS_URL=os.environ["PODIUM_TEST_REDIS_URL"],
        PODIUM_RUN_MEDIA_WORKER="false",
        PODIUM_RUN_OUTBOX_WORKER="false",
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "podium.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the supervisor and its workers: one process group to stop
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base), 60, "two server processes")
        calls = 30
        for _ in range(calls):  # a connection each: they reach either process
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        # Each scrape, whichever process answers it, counts all of them.
        counts = set()
        for _ in range(6):
            samples = parse(httpx.get(f"{base}/metrics", timeout=10).text)
            counts.add(value(samples, "podium_http_requests_total", **HEALTHZ_OK))
        assert counts == {calls}, counts
        assert (tmp_path / "var" / "metrics").is_dir()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


HEALTHZ_OK = {"dialect": "other", "method": "/healthz", "verb": "GET", "status": "200"}


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/livez", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
