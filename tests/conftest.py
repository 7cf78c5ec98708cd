"""Test set-up: one real database per run (SQLite, or PostgreSQL via PODIUM_TEST_DATABASE_URL),
migrated with Alembic, and the real ASGI app in front of it.

Tests stay independent by each provisioning its own tenant (company) rather than by
rolling back: requests go through the app, which commits like in production.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from podium.app import create_app
from podium.config import Settings
from podium.kit.clock import clock, utcnow
from podium.kit.db import Base, make_engine
from podium.kit.migrate import upgrade
from tests.fixtures.tenants import TenantFactory

PUBLIC_URL = "http://podium.test"
pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.media"]


def _reset_database(url: str) -> None:
    """Drop everything so the run starts from an empty schema (PostgreSQL is reused between runs)."""
    engine = make_engine(url)
    import podium.models  # noqa: F401

    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("podium-data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> str:
    url = os.environ.get("PODIUM_TEST_DATABASE_URL") or f"sqlite:///{data_dir / 'test.sqlite3'}"
    _reset_database(url)
    upgrade(url)
    return url


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "public_url": PUBLIC_URL,
        "secret_key": "test-signing-key-0123456789abcdef0123456789",
        "run_outbox_worker": False,
        "run_media_worker": False,  # tests run the transcoder themselves (tests/fixtures/media.py)
        "janus": "off",  # the room tests start Janus themselves
        "rtmp": "off",  # the lives tests start their RTMP server themselves (tests/e2e/test_lives.py)
        # Test receivers and file hosts listen on loopback; test_webhooks checks the refusal itself.
        "webhook_private_networks": True,
        # The PostgreSQL pass also has a Redis (scripts/with-redis.sh): rooms fan out through it there.
        "redis_url": os.environ.get("PODIUM_TEST_REDIS_URL") or None,
        # Dial-out has a trunk where nothing listens (a call fails at once); the phone tests give
        # their servers a real SIP agent (tests/fixtures/phone.py).
        "sip_trunk": "sip:127.0.0.1:9",
        # Dial-in's SIP front only where a test starts it on a port of its own.
        "sip_listen": None,
        # A configured dial-in number, as the reference's host answers show one.
        "dialin_numbers": [
            {
                "phone_number": "15555550100",
                "domestic_format": "(555) 555-0100",
                "international_format": "+1 555-555-0100",
                "country_code": "US",
                "location": "United States",
            }
        ],
    }
    values.update(overrides)
    if values["janus"] != "off" and "sip_trunk" not in overrides:
        # A server with a media server places calls (its phone keeper claims any new call in the
        # shared test database): only the phone tests' servers get a trunk, so no other server
        # takes their calls, or another test's.
        values["sip_trunk"] = None
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str) -> Settings:
    return make_settings(data_dir, database_url)


@pytest.fixture(scope="session")
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def client(app_client: TestClient) -> TestClient:
    app_client.headers.clear()
    app_client.cookies.clear()
    return app_client


@pytest.fixture
def tenants(app_client: TestClient) -> TenantFactory:
    return TenantFactory(app_client.app.state.sessions)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _unfrozen_clock() -> Iterator[None]:
    yield
    clock.freeze(None)


@pytest.fixture(autouse=True)
def _no_guard_counters(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with no failed guesses on record: the whole suite is one client
    ("testclient"), and its deliberate failures (wrong keys, bad links) must not add up across tests
    into a lock (domain/guard), nor a clock frozen in one test leave a lock for the next."""
    if "database_url" not in request.fixturenames:
        yield
        return
    url = request.getfixturevalue("database_url")
    _forget_guard_counters(url)
    yield
    _forget_guard_counters(url)


@pytest.fixture
def forget_guesses(database_url: str) -> Callable[[], None]:
    """Forget every failed guess so far (for a test whose deliberate failures would lock its target)."""
    return lambda: _forget_guard_counters(database_url)


_guard_engines: dict[str, Engine] = {}


def _forget_guard_counters(url: str) -> None:
    engine = _guard_engines.get(url) or _guard_engines.setdefault(url, make_engine(url))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM guard_counters"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The PostgreSQL pass skips what does not depend on the database (``@pytest.mark.once``): the
    suite runs twice in CI, and those tests would only spend the time budget twice."""
    if not os.environ.get("PODIUM_TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="database-independent: run in the SQLite pass")
    for item in items:
        if item.get_closest_marker("once"):
            item.add_marker(skip)


# The first failure of each test a rerun saved: pytest's summary names such a test, not why it failed.
_RERUN_FAILURES: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.outcome == "rerun" and report.longrepr is not None:
        _RERUN_FAILURES.append((report.nodeid, str(report.longrepr)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for nodeid, failure in _RERUN_FAILURES:
        terminalreporter.write_sep("-", f"rerun saved {nodeid}; its failure")
        terminalreporter.write_line("\n".join(failure.splitlines()[-30:]))


def pytest_report_header() -> str:
    url = os.environ.get("PODIUM_TEST_DATABASE_URL")
    return f"podium database: {'PostgreSQL ' + url if url else 'SQLite (temporary file)'}"


@pytest.fixture
def frozen() -> Iterator[Callable[[float], None]]:
    """The process's clock (kit/clock), frozen now; ``frozen(seconds)`` moves it to that many
    seconds after the start. Released after the test."""
    start = utcnow().replace(microsecond=0)
    clock.freeze(start)

    def move(seconds: float) -> None:
        clock.freeze(start + timedelta(seconds=seconds))

    yield move
    clock.freeze(None)
