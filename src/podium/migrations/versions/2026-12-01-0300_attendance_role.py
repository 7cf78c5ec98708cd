"""attendance role: what the link that admitted someone made them

Revision ID: 0007_attendance_role
Revises: 0006_ppv_shop_passwords
Create Date: 2026-12-01 03:00:00

The host of a meeting is recognised by the link that admitted them (the LiveMinutes host URL, the
organiser's own entry, a personal link of a host participant), never by a display name. Existing
spans get the best reading the old columns allow: a participant's role from its invitation, the
organising host by ``host_id``, and, in a meeting without an organising host (Boomstream,
LiveMinutes), a span through a shared or host link (no participant, no host) whose name is the one
the host link shows (the meeting's ``host_nickname``, or "Host" when it has none); everyone else is a
guest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_attendance_role"
down_revision = "0006_ppv_shop_passwords"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendances") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="guest"))
    # Participant roles are stored by name (HOST, MODERATOR, PARTICIPANT).
    op.execute(
        "UPDATE attendances SET role = (SELECT LOWER(p.role) FROM participants p "
        "WHERE p.id = attendances.participant_id) WHERE participant_id IS NOT NULL"
    )
    op.execute(
        "UPDATE attendances SET role = 'host' WHERE host_id IS NOT NULL AND host_id = "
        "(SELECT c.host_id FROM conferences c WHERE c.id = attendances.conference_id)"
    )
    op.execute(
        "UPDATE attendances SET role = 'host' WHERE participant_id IS NULL AND host_id IS NULL AND name = "
        "(SELECT COALESCE(NULLIF(c.host_nickname, ''), 'Host') FROM conferences c "
        "WHERE c.id = attendances.conference_id AND c.host_id IS NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("attendances") as batch:
        batch.drop_column("role")
