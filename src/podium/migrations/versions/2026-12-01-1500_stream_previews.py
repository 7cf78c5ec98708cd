"""stream previews: clips and images of a running stream, kept 24 hours; viewers' questions' sender

Revision ID: 0016_stream_previews
Revises: 0015_conference_streams
Create Date: 2026-12-01 15:00:00

A host's ``stream_preview`` (duration, interval, image_preview) now does what it says: while a
conference streams, a clip of ``duration`` seconds is cut every ``interval`` seconds, and an image is
taken on request (domain/streams/previews.py). One row per file; both go after ``expires_at``.

A streaming page viewer's question (a chat message) keeps a hash of who asked, so questions can be
limited per viewer and per conference.

A conference remembers who shares a screen now, so a stream or a recording that starts mid-share
gives it the stage at once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_stream_previews"
down_revision = "0015_conference_streams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_previews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("file_name", sa.String(length=64), nullable=False),
        sa.Column("offset_seconds", sa.Float(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["stream_id"], ["streams.id"]),
        sa.ForeignKeyConstraint(["conference_id"], ["conferences.id"]),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stream_previews_conference", "stream_previews", ["conference_id", "id"])
    op.create_index("ix_stream_previews_expires", "stream_previews", ["expires_at"])
    with op.batch_alter_table("chat_messages") as batch_op:
        batch_op.add_column(sa.Column("viewer_key", sa.String(length=64), nullable=True))
    with op.batch_alter_table("conferences") as batch_op:
        batch_op.add_column(
            sa.Column("screen_sharers", sa.String(length=255), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("conferences") as batch_op:
        batch_op.drop_column("screen_sharers")
    with op.batch_alter_table("chat_messages") as batch_op:
        batch_op.drop_column("viewer_key")
    op.drop_table("stream_previews")
