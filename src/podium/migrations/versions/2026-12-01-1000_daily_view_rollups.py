"""daily view rollups: watched milliseconds per UTC day beside the hourly rollups

Revision ID: 0013_daily_view_rollups
Revises: 0012_cache_generations
Create Date: 2026-12-01 10:00:00

A new table (domain/stats): ``api/stats`` by day reads one row per day instead of summing up to 24
hourly rows per day under ``date()``. The heartbeat upsert keeps it from now on; the rows before are
summed here from the hourly rollups (``date()`` answers the day on both SQLite and PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_daily_view_rollups"
down_revision = "0012_cache_generations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_daily_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("watched_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_view_daily_rollups_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_view_daily_rollups")),
        sa.UniqueConstraint(
            "company_id", "media_id", "day", name=op.f("uq_view_daily_rollups_company_id_media_id_day")
        ),
    )
    op.execute(
        "INSERT INTO view_daily_rollups (company_id, media_id, day, watched_ms) "
        "SELECT company_id, media_id, date(hour), sum(watched_ms) FROM view_rollups "
        "GROUP BY company_id, media_id, date(hour)"
    )


def downgrade() -> None:
    op.drop_table("view_daily_rollups")
