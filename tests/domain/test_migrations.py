"""Migrations: every step applies on top of data written by the one before (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

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


PASS_COLUMNS = (
    "INSERT INTO access_passes (id, company_id, paywall_id, media_id, password, email, phone, name, "
    "activations_used, custom_url, source, purchased_at, created_at)"
)


def test_shop_passwords_migration_keeps_buyers_and_their_sessions(tmp_path: Path) -> None:
    """0006 widens access passwords and makes them unique among live buyers only; on SQLite it
    rebuilds ``access_passes``, which ``view_sessions`` refers to."""
    url, cleanup = _fresh_database(tmp_path)
    engine = make_engine(url)
    try:
        upgrade(url, "0005_media_import")
        now = "CURRENT_TIMESTAMP"
        with engine.begin() as connection:
            for statement in (
                f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {now})",
                "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, "
                f"host_limits_locked, created_at) VALUES (1, 1, 'C', 'c', false, false, {now})",
                "INSERT INTO media (id, company_id, code, title, description, media_type, status, "
                "failure_reason, storage_key, file_name, upload_received, progress, attempts, updated_at, "
                f"created_at) VALUES (1, 1, 'Media001', 'M', '', 'video', 'Done', '', 'k1', 'm.mp4', 0, 100, "
                f"0, {now}, {now})",
                "INSERT INTO paywalls (id, company_id, code, name, access_kind, scope, description, "
                "materials, buy_redirect_url, custom_url, ip_recovery, device_ban, buyer_commission, "
                "downloadable_origin, watermark, watermark_email, watermark_name, watermark_ip, updated_at, "
                f"created_at) VALUES (1, 1, 'Paywal01', 'P', 'password', 'group', '', '', '', '', false, "
                f"false, false, false, false, false, false, false, {now}, {now})",
                f"{PASS_COLUMNS[:-1]}, deleted_at) VALUES "
                f"(1, 1, 1, 1, 'oldpassword1', 'a@example.com', '', 'A', 1, '', 'api', {now}, {now}, NULL), "
                f"(2, 1, 1, 1, 'gonepassword', 'b@example.com', '', 'B', 0, '', 'api', {now}, {now}, {now})",
                "INSERT INTO view_sessions (id, company_id, media_id, pass_id, paywall_id, kind, "
                "device_hash, session_key, ip, country, user_agent, started_at, last_seen_at, watched_ms, "
                "end_reason) "
                f"VALUES (1, 1, 1, 1, 1, 'pass', 'd', 's', '', 'Unknown', '', {now}, {now}, 5000, '')",
            ):
                connection.execute(text(statement))
        upgrade(url)
        long_password = "moodle.example.org|42|Media001" + "x" * 200
        with engine.begin() as connection:
            rows = connection.execute(
                text("SELECT id, password, email, deleted_at IS NULL FROM access_passes ORDER BY id")
            ).all()
            assert [tuple(r) for r in rows] == [
                (1, "oldpassword1", "a@example.com", True),
                (2, "gonepassword", "b@example.com", False),
            ]
            session = connection.execute(text("SELECT pass_id, watched_ms FROM view_sessions")).one()
            assert tuple(session) == (1, 5000)
            # A deleted buyer's password is free again; a live one's is not; 255 characters fit.
            connection.execute(
                text(
                    f"{PASS_COLUMNS} VALUES "
                    f"(3, 1, 1, 1, 'gonepassword', 'c@example.com', '', '', 0, '', 'api', {now}, {now}), "
                    f"(4, 1, 1, 1, :long, 'd@example.com', '', '', 0, '', 'api', {now}, {now})"
                ),
                {"long": long_password[:255]},
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    f"{PASS_COLUMNS} VALUES "
                    f"(5, 1, 1, 1, 'oldpassword1', 'e@example.com', '', '', 0, '', 'api', {now}, {now})"
                )
            )
        if url.startswith("sqlite"):
            with engine.connect() as connection:
                schema = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'view_sessions'"
                ).scalar()
                assert "REFERENCES access_passes" in str(schema), "the rebuild kept what refers to it"
    finally:
        engine.dispose()
        if cleanup is not None:
            admin, name = cast("tuple[Engine, str]", cleanup)
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()
