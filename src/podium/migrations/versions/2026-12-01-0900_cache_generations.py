"""cache generations: one counter per cached family of rows, moved by every change to them

Revision ID: 0012_cache_generations
Revises: 0011_conference_emails
Create Date: 2026-12-01 09:00:00

A process keeps what the request path reads on every call (who an API key or auth_token acts as)
while the family's generation stays where it was; a change moves it in the same transaction, so
every process sees it at its next poll (ADR 0007).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_cache_generations"
down_revision = "0011_conference_emails"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_generations",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_generations")),
    )


def downgrade() -> None:
    op.drop_table("cache_generations")
