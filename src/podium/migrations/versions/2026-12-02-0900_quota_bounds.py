"""quota bounds: upper bounds of a company's live conferences and user rows

Revision ID: 0021_quota_bounds
Revises: 0020_dial_in
Create Date: 2026-12-02 09:00:00

A quota check compares a bound kept on the company row with the quota and counts only when the
bound passes it (domain/tenancy/usage.py, ADR 0017). Unknown (null) until the first check counts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_quota_bounds"
down_revision = "0020_dial_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLEs, not a batch: SQLite's batch copies the table, and dropping ``companies``
    # (which every tenant table references) fails while foreign keys are on.
    op.add_column("companies", sa.Column("conference_rows_bound", sa.BigInteger(), nullable=True))
    op.add_column("companies", sa.Column("user_rows_bound", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("companies", "user_rows_bound")  # SQLite 3.35+ drops a column in place
    op.drop_column("companies", "conference_rows_bound")
