"""access passwords chosen by shops: longer, unique among live buyers only

Revision ID: 0006_ppv_shop_passwords
Revises: 0005_media_import
Create Date: 2026-11-24 09:00:00

``ppv/addbuyer`` with ``hash`` makes the shop's own value the buyer's password (the Moodle plugin
sends ``<site host>|<user id>|<media>``), so the column grows from 32 to 255 characters; and the
uniqueness of a password within its subscription leaves deleted buyers out, so a shop can add its
customer again with the same password after a ``deletebuyer``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_ppv_shop_passwords"
down_revision = "0005_media_import"
branch_labels = None
depends_on = None

LIVE = sa.text("deleted_at IS NULL")


def _rebuild(change: str) -> None:
    """Alter ``access_passes``; on SQLite that rebuilds the table, which ``view_sessions`` refers to,
    so foreign keys are off meanwhile (SQLite's own procedure) and checked again afterwards."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("access_passes") as batch:
        if change == "upgrade":
            batch.alter_column(
                "password", existing_type=sa.String(32), type_=sa.String(255), existing_nullable=False
            )
            batch.drop_constraint("uq_access_passes_paywall_id_password", type_="unique")
        else:
            batch.create_unique_constraint("uq_access_passes_paywall_id_password", ["paywall_id", "password"])
            batch.alter_column(
                "password", existing_type=sa.String(255), type_=sa.String(32), existing_nullable=False
            )
    if sqlite:
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the access_passes rebuild: {broken[:5]}")
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    _rebuild("upgrade")
    op.create_index(
        "uq_access_passes_live_password",
        "access_passes",
        ["paywall_id", "password"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    # Only possible while no password is longer than 32 characters and no deleted buyer shares a
    # live buyer's password in its subscription.
    op.drop_index("uq_access_passes_live_password", table_name="access_passes")
    _rebuild("downgrade")
