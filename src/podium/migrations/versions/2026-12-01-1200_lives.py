"""lives: Boomstream lives, a media of kind Live with its RTMP ingest state

Revision ID: 0014_lives
Revises: 0013_daily_view_rollups
Create Date: 2026-12-01 12:00:00

A live is a row of ``media`` with ``media_type = "live"`` (so watch pages, paywalls and statistics
take it like a video) and one row here (models/live.py): the hash of its stream key, whether it is
on air and through which RTMP connection, and its latest recording.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_lives"
down_revision = "0013_daily_view_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("publisher", sa.String(length=64), nullable=True),
        sa.Column("publisher_seen_at", sa.DateTime(), nullable=True),
        sa.Column("broadcasts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("record", sa.Boolean(), nullable=False),
        sa.Column("recording_media_id", sa.Integer(), nullable=True),
        sa.Column("record_failure", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name=op.f("fk_lives_media_id_media")),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], name=op.f("fk_lives_company_id_companies")),
        sa.ForeignKeyConstraint(
            ["recording_media_id"], ["media.id"], name=op.f("fk_lives_recording_media_id_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lives")),
        sa.UniqueConstraint("media_id", name=op.f("uq_lives_media_id")),
    )
    op.create_index(op.f("ix_lives_company_id"), "lives", ["company_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lives_company_id"), table_name="lives")
    op.drop_table("lives")
