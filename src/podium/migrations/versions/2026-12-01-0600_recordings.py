"""recordings: one row per recorded segment of a conference, and each attendance's media publisher

Revision ID: 0010_recordings
Revises: 0009_guard_counters
Create Date: 2026-12-01 06:00:00

A new table, and a nullable column on attendances: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_recordings"
down_revision = "0009_guard_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("media_server", sa.String(length=255), nullable=True),
        sa.Column("file_name", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("has_video", sa.Boolean(), nullable=False),
        sa.Column("has_audio", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("media_id", sa.Integer(), nullable=True),
        sa.Column("transcript_state", sa.String(length=16), nullable=False),
        sa.Column("transcript_text", sa.Text(), nullable=False),
        sa.Column("transcript_engine", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"], ["conferences.id"], name=op.f("fk_recordings_conference_id_conferences")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_recordings_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_recordings_media_id_media"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_recordings_storage_key")),
    )
    op.create_index("ix_recordings_conference", "recordings", ["conference_id", "started_at"])
    op.create_index("ix_recordings_due", "recordings", ["state", "transcript_state"])
    op.create_index(op.f("ix_recordings_company_id"), "recordings", ["company_id"])
    with op.batch_alter_table("attendances") as batch:
        batch.add_column(sa.Column("media_publisher_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attendances") as batch:
        batch.drop_column("media_publisher_id")
    op.drop_index(op.f("ix_recordings_company_id"), table_name="recordings")
    op.drop_index("ix_recordings_due", table_name="recordings")
    op.drop_index("ix_recordings_conference", table_name="recordings")
    op.drop_table("recordings")
