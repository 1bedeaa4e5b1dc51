"""access: companies, managers, their phones and agents are deactivated, never deleted

Revision ID: 0014_access
Revises: 0013_recordings
Create Date: 2026-12-01 16:39:10.221587
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0014_access"
down_revision: str | None = "0013_recordings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )

    with op.batch_alter_table("manager_phones", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )

    with op.batch_alter_table("managers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("is_active")

    with op.batch_alter_table("managers", schema=None) as batch_op:
        batch_op.drop_column("is_active")

    with op.batch_alter_table("manager_phones", schema=None) as batch_op:
        batch_op.drop_column("is_active")

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("is_active")
