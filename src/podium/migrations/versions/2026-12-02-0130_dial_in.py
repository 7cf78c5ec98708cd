"""dial-in: a caller's role and SIP address on its phone leg

Revision ID: 0020_dial_in
Revises: 0019_phone_legs
Create Date: 2026-12-02 01:30:00

Calls now also come in (``direction`` "in", ADR 0014): a caller who typed the host's moderator PIN
is a moderator in the room, and its From URI is kept for CDRs when it carries no number.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_dial_in"
down_revision = "0019_phone_legs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("phone_legs") as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="guest"))
        batch_op.add_column(sa.Column("caller_uri", sa.String(length=255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("phone_legs") as batch_op:
        batch_op.drop_column("caller_uri")
        batch_op.drop_column("role")
