"""conference streams: a meeting composed and published to a live

Revision ID: 0015_conference_streams
Revises: 0014_lives
Create Date: 2026-12-01 13:00:00

One row per run of a conference's stream (models/stream.py): the desired state (running while
``ended_at`` is empty), the live it feeds, and the lease of the server process running its compositor.

A conference's ``broadcast_stream_url`` (an MP4 played into the meeting at its start,
domain/streams/broadcasts.py) gains why it failed, and the lease of the server process playing it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_conference_streams"
down_revision = "0014_lives"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conferences.id"]),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_streams_conference", "streams", ["conference_id", "started_at"])
    op.create_index("ix_streams_running", "streams", ["ended_at", "lease_until"])
    op.create_index("ix_streams_company_id", "streams", ["company_id"])
    with op.batch_alter_table("conferences") as batch_op:
        batch_op.add_column(sa.Column("broadcast_reason", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("broadcast_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("broadcast_lease_until", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_conferences_broadcast", ["broadcast_state", "starts_at"])


def downgrade() -> None:
    with op.batch_alter_table("conferences") as batch_op:
        batch_op.drop_index("ix_conferences_broadcast")
        batch_op.drop_column("broadcast_lease_until")
        batch_op.drop_column("broadcast_owner")
        batch_op.drop_column("broadcast_reason")
    op.drop_table("streams")
