"""preview runs: stream previews while a conference records without streaming

Revision ID: 0018_stream_preview_runs
Revises: 0017_room_removals
Create Date: 2026-12-01 23:00:00

A host's ``stream_preview`` asks for clips "when recording or streaming". A conference that records
without streaming now gets a private run of the compositor (``public`` false: no live, no streaming
page, no viewers) whose clips and images are cut as a stream's are. A conference runs at most one
stream row at a time, public or private (a unique index over the running rows, so two processes'
keepers cannot both start one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_stream_preview_runs"
down_revision = "0017_room_removals"
branch_labels = None
depends_on = None

RUNNING = sa.text("ended_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("streams") as batch_op:
        batch_op.add_column(sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.alter_column("media_id", existing_type=sa.Integer(), nullable=True)
    op.create_index(
        "ux_streams_one_running",
        "streams",
        ["conference_id"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ux_streams_one_running", table_name="streams")
    op.execute("DELETE FROM stream_previews WHERE stream_id IN (SELECT id FROM streams WHERE NOT public)")
    op.execute("DELETE FROM streams WHERE NOT public")
    with op.batch_alter_table("streams") as batch_op:
        batch_op.alter_column("media_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("public")
