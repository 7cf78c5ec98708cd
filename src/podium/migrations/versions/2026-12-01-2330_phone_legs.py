"""phone legs: conference/dial_number places a real call

Revision ID: 0019_phone_legs
Revises: 0018_stream_preview_runs
Create Date: 2026-12-01 23:30:00

One row per call between a room and a phone (models/phone_leg.py): who was called, its
``dialout_status`` and why it ended, and the lease of the server process running its gateway.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_phone_legs"
down_revision = "0018_stream_preview_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phone_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("phone_number", sa.String(length=20), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("invitation_text", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sip_code", sa.Integer(), nullable=False),
        sa.Column("publisher", sa.BigInteger(), nullable=True),
        sa.Column("attendance_id", sa.Integer(), nullable=True),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("hangup_requested_at", sa.DateTime(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conferences.id"]),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.ForeignKeyConstraint(["attendance_id"], ["attendances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_phone_legs_conference", "phone_legs", ["conference_id", "requested_at"])
    op.create_index("ix_phone_legs_open", "phone_legs", ["ended_at", "lease_until"])
    op.create_index("ix_phone_legs_company_id", "phone_legs", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_phone_legs_company_id", table_name="phone_legs")
    op.drop_index("ix_phone_legs_open", table_name="phone_legs")
    op.drop_index("ix_phone_legs_conference", table_name="phone_legs")
    op.drop_table("phone_legs")
