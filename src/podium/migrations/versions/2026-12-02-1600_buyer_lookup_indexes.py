"""buyer lookup indexes: a paywall's buyers by lower-cased email and by phone

Revision ID: 0022_buyer_lookup_indexes
Revises: 0021_quota_bounds
Create Date: 2026-12-02 16:00:00

A buyer is found by its email compared case-insensitively (``lower(email)``), else by its phone
(domain/paywall ``add_buyer``, ``listbuyers``). The index on the plain email served neither: each
lookup read every buyer of the paywall. An expression index answers ``lower(email)`` on both
databases (SQLite 3.9+). A password is looked for within a paywall: its index leads with the paywall.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_buyer_lookup_indexes"
down_revision = "0021_quota_bounds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not partial: PostgreSQL keeps statistics of an indexed expression only for a whole-table
    # index, and without them it expects dozens of buyers per email and reads the whole table.
    op.drop_index("ix_access_passes_paywall_email", table_name="access_passes")
    op.create_index(
        "ix_access_passes_paywall_email", "access_passes", ["paywall_id", sa.text("lower(email)")]
    )
    op.create_index("ix_access_passes_paywall_phone", "access_passes", ["paywall_id", "phone"])
    # A password is looked for in a paywall (a drawn one among every pass, deleted ones included).
    op.drop_index("ix_access_passes_password", table_name="access_passes")
    op.create_index("ix_access_passes_paywall_password", "access_passes", ["paywall_id", "password"])


def downgrade() -> None:
    op.drop_index("ix_access_passes_paywall_password", table_name="access_passes")
    op.create_index("ix_access_passes_password", "access_passes", ["password"])
    op.drop_index("ix_access_passes_paywall_phone", table_name="access_passes")
    op.drop_index("ix_access_passes_paywall_email", table_name="access_passes")
    op.create_index("ix_access_passes_paywall_email", "access_passes", ["paywall_id", "email"])
