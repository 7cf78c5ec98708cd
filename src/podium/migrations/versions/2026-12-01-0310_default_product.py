"""default product: the plan a new company is subscribed to when nobody names one

Revision ID: 0008_default_product
Revises: 0007_attendance_role
Create Date: 2026-12-01 03:10:00

The Iotum reference's company/create subscribes "the default product defined in the reseller
domain". Until now that was read as the first plan of the catalogue; each existing catalogue keeps
exactly that as its default (its plan with the lowest id), so nothing changes for it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_default_product"
down_revision = "0007_attendance_role"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()))
    products = sa.table(
        "products",
        sa.column("id", sa.Integer()),
        sa.column("reseller_id", sa.Integer()),
        sa.column("is_plan", sa.Boolean()),
        sa.column("is_default", sa.Boolean()),
    )
    first_plans = (
        sa.select(sa.func.min(products.c.id))
        .where(products.c.is_plan == sa.true())
        .group_by(products.c.reseller_id)
    )
    op.execute(products.update().where(products.c.id.in_(first_plans)).values(is_default=True))
    op.create_index(
        "uq_products_reseller_default",
        "products",
        ["reseller_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )


def downgrade() -> None:
    op.drop_index("uq_products_reseller_default", table_name="products")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("is_default")
