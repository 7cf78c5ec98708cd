"""Migration of issue #13's conference emails over rows written before it (on SQLite and PostgreSQL):
new columns only; a series' instance takes its start as its occurrence; downgrade drops them."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect, text

from podium.kit.migrate import alembic_config, upgrade
from tests.domain.test_migrations_host_and_plan import NOW, _before, _run, database  # noqa: F401

REVISION = "0011_conference_emails"


def test_conference_email_columns_over_existing_rows(database: tuple[str, Engine]) -> None:  # noqa: F811
    url, engine = database
    upgrade(url, _before(url, REVISION))
    conference = (
        "INSERT INTO conferences (id, company_id, code, short_code, host_token, meeting_key, title, "
        "description, host_nickname, host_email, lang, updated_at, created_at, starts_at, master_id) VALUES "
    )
    _run(
        engine,
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {NOW})",
        "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, host_limits_locked, "
        f"created_at) VALUES (1, 1, 'C', 'c', false, false, {NOW})",
        f"{conference}(1, 1, 'aaa-aaaa-aaa', 'A1', 'T1', 'k1', 'Weekly', '', '', '', '', {NOW}, {NOW}, "
        "'2030-01-07 14:00:00', 1)",
        f"{conference}(2, 1, 'bbb-bbbb-bbb', 'B1', 'T2', 'k2', 'Weekly', '', '', '', '', {NOW}, {NOW}, "
        "'2030-01-14 14:00:00', 1)",
        f"{conference}(3, 1, 'ccc-cccc-ccc', 'C1', 'T3', 'k3', 'Single', '', '', '', '', {NOW}, {NOW}, "
        "'2030-01-20 10:00:00', NULL)",
        "INSERT INTO participants (id, conference_id, code, url_token, email, name, role, avatar_url, "
        f"token_revision, updated_at, created_at) VALUES (1, 3, 'P1', 'U1', 'a@example.com', 'A', "
        f"'PARTICIPANT', '', 0, {NOW}, {NOW})",
    )
    upgrade(url, REVISION)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, occurrence_at, calendar_sequence, calendar_digest, reminder_sent_for "
                "FROM conferences ORDER BY id"
            )
        ).all()
        participant = connection.execute(text("SELECT calendar_sequence FROM participants")).scalar()
    # Only the instance (not its master, not a single conference) has an occurrence.
    assert [(r[0], str(r[1])[:16] if r[1] else None, r[2], r[3], r[4]) for r in rows] == [
        (1, None, 0, None, None),
        (2, "2030-01-14 14:00", 0, None, None),
        (3, None, 0, None, None),
    ]
    assert participant is None

    command.downgrade(alembic_config(url), _before(url, REVISION))
    columns = {c["name"] for c in inspect(engine).get_columns("conferences")}
    assert not columns & {"occurrence_at", "calendar_sequence", "calendar_digest", "reminder_sent_for"}
    assert "calendar_sequence" not in {c["name"] for c in inspect(engine).get_columns("participants")}
