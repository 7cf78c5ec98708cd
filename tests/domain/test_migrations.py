"""Migrations: every step applies on top of data written by the one before (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from podium.kit.db import make_engine
from podium.kit.migrate import upgrade


def _fresh_database(tmp_path: Path) -> tuple[str, object]:
    url = os.environ.get("PODIUM_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrate.sqlite3'}", None
    # A throwaway database beside the test database on the same PostgreSQL server.
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return url.rsplit("/", 1)[0] + f"/{name}", (admin, name)


@pytest.mark.parametrize("stop_at", ["0001_foundation"])
def test_upgrade_keeps_existing_rows(tmp_path: Path, stop_at: str) -> None:
    url, cleanup = _fresh_database(tmp_path)
    try:
        upgrade(url, stop_at)
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, "
                    "host_limits_locked, created_at) VALUES (1, 1, 'C', 'c', false, false, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO conferences (id, company_id, code, short_code, host_token, meeting_key, "
                    "title, description, host_nickname, host_email, lang, updated_at, created_at) "
                    "VALUES (1, 1, 'abc-defg-hij', 'ABC123', 'LIVE1', 'key', 'Old', '', '', '', '', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        upgrade(url)
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT title, time_zone, mute_mode, auto_record, one_time_code "
                    "FROM conferences WHERE id = 1"
                )
            ).one()
        assert tuple(row) == ("Old", "UTC", "conversation", "none", False)
        engine.dispose()
    finally:
        if cleanup is not None:
            admin, name = cleanup  # type: ignore[misc]
            with admin.connect() as connection:  # type: ignore[attr-defined]
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()  # type: ignore[attr-defined]
