"""participant email index: a conference's participants by lower-cased email

Revision ID: 0023_participant_email_index
Revises: 0022_buyer_lookup_indexes
Create Date: 2026-12-03 07:00:00

An invitation finds whom a conference has invited by the email compared case-insensitively
(``lower(email)``), and checks it again before its commit (domain/participants). The index on the
plain email served neither: each lookup read every participant of the conference, a webinar's
thousands. An expression index answers ``lower(email)`` on both databases (SQLite 3.9+).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_participant_email_index"
down_revision = "0022_buyer_lookup_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not partial, as the buyers' (0022): PostgreSQL keeps an expression's statistics only then.
    op.drop_index("ix_participants_conference_email", table_name="participants")
    op.create_index(
        "ix_participants_conference_email", "participants", ["conference_id", sa.text("lower(email)")]
    )


def downgrade() -> None:
    op.drop_index("ix_participants_conference_email", table_name="participants")
    op.create_index("ix_participants_conference_email", "participants", ["conference_id", "email"])
