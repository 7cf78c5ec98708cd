"""The request path's caches (ADR 0007) never outlive what they were read from: a `podium serve` keeps
who a credential acts as and the guessing guard's locks, and a change made by another process (the
CLI, a second server) reaches it within a second, a change made through it at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from podium.domain.guard.service import GuardService
from podium.kit.db import make_engine, make_sessionmaker
from tests.conftest import make_settings
from tests.fixtures.processes import podium_env, podium_json, running_server

# A change made elsewhere must be seen within the poll (1 s) plus a request's time; allow for a slow CI.
ELSEWHERE_SECONDS = 3.0


@pytest.fixture()
def served(tmp_path: Path, database_url: str) -> Iterator[tuple[str, dict[str, str], dict[str, object]]]:
    env = podium_env(tmp_path, PODIUM_JANUS="off", PODIUM_DATABASE_URL=database_url)
    boot = podium_json(env, "admin", "bootstrap", "--subdomain", f"cache{time.time_ns()}")
    with running_server(env) as base:
        yield base, env, boot


def _iotum(base: str, method: str, **body: object) -> httpx.Response:
    return httpx.post(f"{base}/enterprise_api/{method}", json=body, timeout=10)


def _refused_within(call: object, seconds: float) -> float:
    """Seconds until ``call()`` answers 401, failing after ``seconds``."""
    start = time.monotonic()
    while True:
        status = call().status_code  # type: ignore[operator]
        if status == 401:
            return time.monotonic() - start
        assert status == 200, status
        assert time.monotonic() - start < seconds, "the change was not seen in time"
        time.sleep(0.05)


def test_revoked_elsewhere_refused_within_a_second(
    served: tuple[str, dict[str, str], dict[str, object]],
) -> None:
    base, env, boot = served
    host_id = int(str(boot["host_id"]))
    issued = podium_json(env, "admin", "create-api-token", "--host-id", str(host_id))
    token = _iotum(base, "authenticate", api_token=issued["api_token"]).json()["auth_token"]

    def fetch() -> httpx.Response:
        return _iotum(base, "host/fetch", auth_token=token, host_id=host_id)

    # Warm: the server now answers this auth_token from its cache.
    for _ in range(3):
        assert fetch().status_code == 200
    # Revoked by another process (the CLI): the session it opened ends everywhere.
    podium_json(env, "admin", "revoke-api-token", "--api-token-id", str(issued["api_token_id"]))
    assert _refused_within(fetch, ELSEWHERE_SECONDS) < ELSEWHERE_SECONDS


def test_change_through_the_server_takes_effect_at_once(
    served: tuple[str, dict[str, str], dict[str, object]],
) -> None:
    base, env, boot = served
    admin = _iotum(base, "authenticate", api_token=boot["iotum_api_token"]).json()["auth_token"]
    company_id = boot["company_id"]
    created = _iotum(
        base,
        "host/create",
        auth_token=admin,
        company_id=company_id,
        email=f"cached-{time.time_ns()}@example.com",
        name="Cached",
        role="COMPANY_ADMIN",
    )
    assert created.status_code == 200, created.text
    host_id = created.json()["host_id"]
    issued = podium_json(env, "admin", "create-api-token", "--host-id", str(host_id))
    token = _iotum(base, "authenticate", api_token=issued["api_token"]).json()["auth_token"]

    def fetch_all() -> httpx.Response:
        return _iotum(base, "host/fetch_all", auth_token=token, company_id=company_id)

    for _ in range(3):
        assert fetch_all().status_code == 200  # warm: a company admin may list the hosts
    # Demoted through the server: the very next call acts with the new role...
    demoted = _iotum(base, "host/update", auth_token=admin, host_id=host_id, role="HOST")
    assert demoted.status_code == 200, demoted.text
    assert fetch_all().status_code == 403
    assert _iotum(base, "host/fetch", auth_token=token, host_id=host_id).status_code == 200
    # ...and deleted, the very next call is refused.
    assert _iotum(base, "host/delete", auth_token=admin, host_id=host_id).status_code == 202
    assert _iotum(base, "host/fetch", auth_token=token, host_id=host_id).status_code == 401


def test_lock_taken_elsewhere_refuses_within_a_second(
    served: tuple[str, dict[str, str], dict[str, object]], tmp_path: Path, database_url: str
) -> None:
    base, _env, boot = served
    apikey = str(boot["boomstream_apikey"])

    def info() -> httpx.Response:
        return httpx.get(
            f"{base}/api/conference/list", params={"apikey": apikey, "format": "json"}, timeout=10
        )

    assert info().status_code == 200
    # Another process (this test, on its own engine) locks the client address the server sees.
    settings = make_settings(tmp_path, database_url)
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        for _ in range(settings.guard_client_failures):
            with sessions() as session:
                GuardService(session, settings).record_failure("127.0.0.1", [])
                session.commit()
    finally:
        engine.dispose()
    start = time.monotonic()
    while info().status_code != 429:
        assert time.monotonic() - start < ELSEWHERE_SECONDS, "the lock was not seen in time"
        time.sleep(0.05)
