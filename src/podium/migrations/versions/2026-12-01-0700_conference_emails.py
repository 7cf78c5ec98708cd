"""conference emails: invitation sequence and digest, reminders, each series instance's occurrence,
and which participants hold an invitation

Revision ID: 0011_conference_emails
Revises: 0010_recordings
Create Date: 2026-12-01 07:00:00

Nullable columns (and one with a default): nothing existing changes. A series' instance made before
this keeps its start as its occurrence (the best reading: an instance moved before cannot be told).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_conference_emails"
down_revision = "0010_recordings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conferences") as batch:
        batch.add_column(sa.Column("occurrence_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("calendar_sequence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("calendar_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reminder_sent_for", sa.DateTime(), nullable=True))
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("calendar_sequence", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE conferences SET occurrence_at = starts_at WHERE master_id IS NOT NULL AND master_id <> id"
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ has it): rebuilding ``conferences`` in batch mode would break the
    # foreign keys that point at it.
    op.drop_column("participants", "calendar_sequence")
    for column in ("reminder_sent_for", "calendar_digest", "calendar_sequence", "occurrence_at"):
        op.drop_column("conferences", column)
