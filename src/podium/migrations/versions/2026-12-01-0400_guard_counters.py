"""guard counters: failed guesses per target and per client, and their locks

Revision ID: 0009_guard_counters
Revises: 0008_default_product
Create Date: 2026-12-02 09:00:00

A new table only (domain/guard): nothing existing changes. Every process of a deployment reads and
writes the same counters, so a lock made by one is honoured by all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_guard_counters"
down_revision = "0008_default_product"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guard_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_counters")),
        sa.UniqueConstraint("key", name=op.f("uq_guard_counters_key")),
    )
    op.create_index("ix_guard_counters_last_failure_at", "guard_counters", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_guard_counters_last_failure_at", table_name="guard_counters")
    op.drop_table("guard_counters")
