"""paywall buyers version: a number every transaction adding buyers raises under the paywall's lock

Revision ID: 0024_paywall_buyers_version
Revises: 0023_participant_email_index
Create Date: 2026-12-04 03:00:00

A batch of buyers looks its people up without a lock and checks, under the paywall's lock just
before its commit, that no rival added one of them meanwhile (domain/paywall). The lock now raises
this version: a work that finds it one above the version it read before its lookups knows no rival
committed a buyer since, and need not look its people up again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_paywall_buyers_version"
down_revision = "0023_participant_email_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paywalls") as batch:
        batch.add_column(sa.Column("buyers_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("paywalls") as batch:
        batch.drop_column("buyers_version")
