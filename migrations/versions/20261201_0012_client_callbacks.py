"""client callbacks: a call's kind (a manager's, or a client's call back), clients by phone

Revision ID: 0012_client_callbacks
Revises: 0011_lockouts
Create Date: 2026-12-01 15:40:22.286330
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0012_client_callbacks"
down_revision: str | None = "0011_lockouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum("manager", "callback", name="callkind", native_enum=False, length=32),
                server_default="manager",
                nullable=False,
            )
        )

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index("ix_clients_phone", ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_phone")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("kind")
