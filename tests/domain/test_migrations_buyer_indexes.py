"""Migration 0022 (on SQLite and PostgreSQL): a paywall's buyers are found by their lower-cased email,
or by their phone, through an index (the old index on the plain email served neither lookup)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.sql import Select

from podium.kit.db import make_sessionmaker
from podium.kit.migrate import alembic_config, upgrade
from podium.models.paywall import AccessPass
from tests.domain.test_migrations_host_and_plan import NOW, _before, _run, database  # noqa: F401

REVISION = "0022_buyer_lookup_indexes"


BUYERS = 2000


def _plan(engine: Engine, query: Select[tuple[int]]) -> str:
    """The database's plan of ``query`` (after ANALYZE: the planner knows the rows)."""
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
        if engine.dialect.name == "sqlite":
            return " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        return " ".join(str(row[0]) for row in connection.execute(text(f"EXPLAIN {sql}")))


def _indexes(engine: Engine) -> set[str]:
    """The table's index names (SQLAlchemy's reflection skips an index on an expression)."""
    if engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'access_passes'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'access_passes'"
    with engine.connect() as connection:
        return {str(name) for name in connection.execute(text(query)).scalars()}


def _paywall_with_buyers(engine: Engine) -> None:
    """One paywall of many buyers, their emails in mixed case."""
    _run(
        engine,
        f"INSERT INTO resellers (id, name, domain, created_at) VALUES (1, 'R', '', {NOW})",
        "INSERT INTO companies (id, reseller_id, name, subdomain, openid_provider, host_limits_locked, "
        f"created_at) VALUES (1, 1, 'C', 'c', false, false, {NOW})",
    )
    # The paywall as its table was at the revision (the model has columns added since).
    _run(
        engine,
        "INSERT INTO paywalls (id, company_id, code, name, access_kind, scope, description, materials, "
        "buy_redirect_url, custom_url, ip_recovery, device_ban, buyer_commission, downloadable_origin, "
        "watermark, watermark_email, watermark_name, watermark_ip, updated_at, created_at) VALUES "
        f"(1, 1, 'pw000001', 'P', 'subscription', 'single', '', '', '', '', false, false, false, false, "
        f"false, false, false, false, {NOW}, {NOW})",
    )
    with make_sessionmaker(engine)() as session:
        session.add_all(
            AccessPass(
                company_id=1,
                paywall_id=1,
                password=f"pass{n:08d}",
                email=f"Buyer{n}@Example.com",
                phone=f"+1 555 {n:06d}",
            )
            for n in range(BUYERS)
        )
        session.commit()


def test_buyers_are_found_by_lower_cased_email_and_by_phone_through_an_index(
    database: tuple[str, Engine],  # noqa: F811
) -> None:
    url, engine = database

    def by_email(*emails: str) -> Select[tuple[int]]:
        return select(AccessPass.id).where(
            AccessPass.paywall_id.in_([1, 2]),
            func.lower(AccessPass.email).in_(emails),
            AccessPass.deleted_at.is_(None),
        )

    by_phone = select(AccessPass.id).where(AccessPass.paywall_id == 1, AccessPass.phone == "+1 555 0100")
    upgrade(url, _before(url, REVISION))
    assert "ix_access_passes_paywall_phone" not in _indexes(engine)

    upgrade(url, REVISION)
    _paywall_with_buyers(engine)
    assert {"ix_access_passes_paywall_email", "ix_access_passes_paywall_phone"} <= _indexes(engine)
    plan = _plan(engine, by_email("a@example.com", "b@example.com"))
    # The lower-cased email is a condition of the index, not a filter of the paywall's every buyer.
    assert "ix_access_passes_paywall_email" in plan
    assert "(paywall_id=? AND <expr>=?)" in plan or "AND (lower((email)::text) = ANY" in plan, plan
    assert "ix_access_passes_paywall_phone" in _plan(engine, by_phone)
    with engine.connect() as connection:
        assert connection.execute(by_email("a@example.com")).all() == []
        assert len(connection.execute(by_email("buyer7@example.com", "buyer8@example.com")).all()) == 2

    command.downgrade(alembic_config(url), _before(url, REVISION))
    assert "ix_access_passes_paywall_email" in _indexes(engine)
    assert "ix_access_passes_paywall_phone" not in _indexes(engine)
