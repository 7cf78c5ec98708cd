"""Migrations of issue #10 over rows written before them (on SQLite and PostgreSQL): the role each
attendance span was admitted with, and each catalogue's default product."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from podium.kit.db import make_engine
from podium.kit.migrate import alembic_config, upgrade
from tests.domain.test_migrations import _fresh_database

NOW = "CURRENT_TIMESTAMP"


def _before(url: str, revision: str) -> str:
    """The revision a migration applies on top of."""
    down = ScriptDirectory.from_config(alembic_config(url)).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url, cleanup = _fresh_database(tmp_path)
    engine = make_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        if cleanup is not None:
            admin, name = cleanup  # type: ignore[misc]
            with admin.connect() as connection:  # type: ignore[attr-defined]
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()  # type: ignore[attr-defined]


def _run(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_attendance_roles_from_the_rows_before(database: tuple[str, Engine]) -> None:
    url, engine = database
    upgrade(url, "0001_foundation")
    conference = (
        "INSERT INTO conferences (id, company_id, code, short_code, host_token, meeting_key, title, "
        "description, host_nickname, host_email, lang, updated_at, created_at) VALUES "
    )
    _run(
        engine,
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {NOW})",
        "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, host_limits_locked, "
        f"created_at) VALUES (1, 1, 'C', 'c', false, false, {NOW})",
        "INSERT INTO hosts (id, company_id, email, name, role, password_version, no_login, access_code, "
        "moderator_pin, login_token_public_key, locale, settings, created_at) VALUES "
        f"(1, 1, 'o@example.com', 'Olga', 'HOST', 0, false, '1234567', '7654321', 'k', 'en', '{{}}', {NOW})",
        # A LiveMinutes meeting with a host nickname, one without, and an Iotum conference.
        f"{conference}(1, 1, 'aaa-aaaa-aaa', 'AAA111', 'L1', 'nick', '', '', 'Hana', '', '', {NOW}, {NOW})",
        f"{conference}(2, 1, 'bbb-bbbb-bbb', 'BBB222', 'L2', 'plain', '', '', '', '', '', {NOW}, {NOW})",
        f"{conference}(3, 1, 'ccc-cccc-ccc', 'CCC333', 'L3', 'iot', '', '', '', '', '', {NOW}, {NOW})",
    )
    upgrade(url, _before(url, "0007_attendance_role"))
    participant = (
        "INSERT INTO participants (id, conference_id, code, url_token, external_id, email, name, role, "
        "host_id, avatar_url, token_revision, updated_at, created_at) VALUES "
    )
    span = (
        "INSERT INTO attendances (id, conference_id, participant_id, host_id, name, email, via, joined_at, "
        "created_at) VALUES "
    )
    _run(
        engine,
        "UPDATE conferences SET host_id = 1 WHERE id = 3",
        f"{participant}(1, 1, 'Pat00001', 'P1', 'p1', '', 'Pat', 'PARTICIPANT', NULL, '', 0, {NOW}, {NOW})",
        f"{participant}(2, 1, 'Mod00001', 'P2', NULL, '', 'Mo', 'MODERATOR', NULL, '', 0, {NOW}, {NOW})",
        f"{participant}(3, 3, 'Org00001', 'P3', NULL, '', 'Olga', 'HOST', 1, '', 0, {NOW}, {NOW})",
        f"{span}(1, 1, NULL, NULL, 'Hana', '', 'web', {NOW}, {NOW})",  # the host URL (its nickname)
        f"{span}(2, 1, NULL, NULL, 'Gus', '', 'web', {NOW}, {NOW})",  # the meeting URL
        f"{span}(3, 1, 1, NULL, 'Pat', '', 'web', {NOW}, {NOW})",  # a participant URL
        f"{span}(4, 1, 2, NULL, 'Mo', '', 'web', {NOW}, {NOW})",  # a moderator's invitation
        f"{span}(5, 2, NULL, NULL, 'Host', '', 'web', {NOW}, {NOW})",  # the host URL, no nickname
        f"{span}(6, 2, NULL, NULL, 'Hana', '', 'web', {NOW}, {NOW})",  # a guest
        f"{span}(7, 3, 3, 1, 'Olga', '', 'web', {NOW}, {NOW})",  # the organiser
        f"{span}(8, 3, NULL, NULL, 'Host', '', 'web', {NOW}, {NOW})",  # a guest on the room URL
    )
    upgrade(url)
    with engine.connect() as connection:
        roles = dict(connection.execute(text("SELECT id, role FROM attendances ORDER BY id")).all())
    assert roles == {
        1: "host",
        2: "guest",
        3: "participant",
        4: "moderator",
        5: "host",
        6: "guest",
        7: "host",
        8: "guest",
    }
    # A row written without a role (by older code still running during an upgrade) is a guest.
    _run(engine, f"{span}(9, 1, NULL, NULL, 'Late', '', 'web', {NOW}, {NOW})")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT role FROM attendances WHERE id = 9")).scalar() == "guest"


def test_each_catalogue_keeps_its_first_plan_as_default(database: tuple[str, Engine]) -> None:
    url, engine = database
    upgrade(url, _before(url, "0008_default_product"))
    product = (
        "INSERT INTO products (id, reseller_id, slug, name, description, is_plan, pricing, price_cents, "
        "features, created_at) VALUES "
    )
    _run(
        engine,
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {NOW})",
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (2, 'S', '', {NOW})",
        # Reseller 1: an add-on first, then two plans; reseller 2: add-ons only.
        f"{product}(1, 1, 'recording', 'Rec', '', false, 'PER_HOST', 0, '[]', {NOW})",
        f"{product}(2, 1, 'small_plan', 'Small', '', true, 'PER_HOST', 0, '[]', {NOW})",
        f"{product}(3, 1, 'large_plan', 'Large', '', true, 'PER_HOST', 0, '[]', {NOW})",
        f"{product}(4, 2, 'extra', 'Extra', '', false, 'FLAT', 0, '[]', {NOW})",
    )
    upgrade(url)
    with engine.connect() as connection:
        defaults = connection.execute(text("SELECT id FROM products WHERE is_default ORDER BY id")).scalars()
        assert list(defaults) == [2]
    # One default per catalogue.
    with pytest.raises(IntegrityError):
        _run(engine, "UPDATE products SET is_default = true WHERE id = 3")
