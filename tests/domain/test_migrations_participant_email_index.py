"""Migration 0023 (on SQLite and PostgreSQL): a conference's participants are found by their
lower-cased email through an index (the old index on the plain email served no such lookup, so an
invitation read every participant of the conference)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.sql import Select

from podium.kit.migrate import alembic_config, upgrade
from podium.models.participant import Participant
from tests.domain.test_migrations_buyer_indexes import _plan
from tests.domain.test_migrations_host_and_plan import NOW, _before, _run, database  # noqa: F401

REVISION = "0023_participant_email_index"
PARTICIPANTS = 2000


def _index_columns(engine: Engine) -> str:
    """How the index is defined, as the database says it."""
    if engine.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE name = 'ix_participants_conference_email'"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_participants_conference_email'"
    with engine.connect() as connection:
        return str(connection.execute(text(query)).scalar()).lower()


def _webinar(engine: Engine) -> None:
    """One conference of many participants, their emails in mixed case (written before 0023)."""
    _run(
        engine,
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {NOW})",
        "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, host_limits_locked, "
        f"created_at) VALUES (1, 1, 'C', 'c', false, false, {NOW})",
        "INSERT INTO conferences (id, company_id, code, short_code, host_token, meeting_key, title, "
        "description, host_nickname, host_email, lang, updated_at, created_at) VALUES "
        f"(1, 1, 'aaa-aaaa-aaa', 'A1', 'T1', 'k1', 'Webinar', '', '', '', '', {NOW}, {NOW})",
    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO participants (conference_id, code, url_token, email, name, role, avatar_url, "
                f"token_revision, updated_at, created_at) VALUES (1, :code, :token, :email, '', "
                f"'PARTICIPANT', '', 0, {NOW}, {NOW})"
            ),
            [
                {"code": f"P{n:07d}", "token": f"U{n:031d}", "email": f"Person{n}@Example.com"}
                for n in range(PARTICIPANTS)
            ],
        )


def test_participants_are_found_by_lower_cased_email_through_an_index(
    database: tuple[str, Engine],  # noqa: F811
) -> None:
    url, engine = database

    def by_email(*emails: str) -> Select[tuple[int]]:
        return select(Participant.id).where(
            Participant.conference_id.in_([1, 2]), func.lower(Participant.email).in_(emails)
        )

    upgrade(url, _before(url, REVISION))
    _webinar(engine)
    assert "lower" not in _index_columns(engine)

    upgrade(url, REVISION)
    assert "lower" in _index_columns(engine)
    plan = _plan(engine, by_email("a@example.com", "b@example.com"))
    # The lower-cased email is a condition of the index, not a filter of the conference's every row.
    assert "ix_participants_conference_email" in plan, plan
    assert "(conference_id=? AND <expr>=?)" in plan or "AND (lower((email)::text) = ANY" in plan, plan
    with engine.connect() as connection:
        assert connection.execute(by_email("a@example.com")).all() == []
        assert len(connection.execute(by_email("person7@example.com", "person8@example.com")).all()) == 2

    command.downgrade(alembic_config(url), _before(url, REVISION))
    assert "lower" not in _index_columns(engine)
