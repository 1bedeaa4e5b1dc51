"""organization membership, kinds apart, one default payer, one active card per account

Revision ID: 0020_membership
Revises: 0019_organizations
Create Date: 2026-12-01 19:45:06.212201
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_membership"
down_revision: str | None = "0019_organizations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "organization_confirmed", sa.Boolean(), server_default=sa.true(), nullable=False
            )
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_organizations_inn_kpp"), type_="unique")
        batch_op.create_unique_constraint("uq_organizations_kind_inn_kpp", ["kind", "inn", "kpp"])

    # Before the index holds it: one default per organization, the oldest active one.
    op.execute(
        sa.text(
            "UPDATE payers SET is_default = FALSE WHERE is_default AND (NOT is_active OR id NOT IN "
            "(SELECT min(id) FROM payers WHERE is_default AND is_active GROUP BY organization_id))"
        )
    )
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_payers_account", type_="unique")
        batch_op.create_index(
            "uq_payers_account",
            ["organization_id", "bik", "account"],
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )
        batch_op.create_index(
            "uq_payers_default",
            ["organization_id"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )


def downgrade() -> None:
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payers_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(
            "uq_payers_account",
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )
        batch_op.create_unique_constraint(
            "uq_payers_account", ["organization_id", "bik", "account"]
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_organizations_kind_inn_kpp", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_organizations_inn_kpp"), ["inn", "kpp"])

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("organization_confirmed")
