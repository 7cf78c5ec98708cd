"""room removals: someone a moderator removed stays out

Revision ID: 0017_room_removals
Revises: 0016_stream_previews
Create Date: 2026-12-01 19:00:00

A moderator's "remove" used to close the visitor's socket only: the page's resume key (valid as long
as the lobby's ticket) connected the same seat again and got its media token back. A removal is now
recorded: the seat cannot connect again, and a personal link's participant cannot enter that
conference again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_room_removals"
down_revision = "0016_stream_previews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_removals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("seat_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("removed_by", sa.String(length=255), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conferences.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_room_removals_seat", "room_removals", ["conference_id", "seat_hash"])


def downgrade() -> None:
    op.drop_index("ix_room_removals_seat", table_name="room_removals")
    op.drop_table("room_removals")
