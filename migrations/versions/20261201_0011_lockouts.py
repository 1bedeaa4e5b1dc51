"""lockouts: wrong request numbers across calls, the guards they count under, lockouts

Revision ID: 0011_lockouts
Revises: 0010_blacklist_checks
Create Date: 2026-12-01 15:19:12.587554
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011_lockouts"
down_revision: str | None = "0010_blacklist_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lockouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("wrong_count", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlocked_by", sa.String(length=254), nullable=True),
        sa.Column("alert_pending", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["managers.id"], name=op.f("fk_lockouts_manager_id_managers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lockouts")),
    )
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lockouts_alert_pending",
            ["alert_pending"],
            unique=False,
            sqlite_where=sa.text("alert_pending"),
            postgresql_where=sa.text("alert_pending"),
        )
        batch_op.create_index("ix_lockouts_locked", ["locked_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lockouts_manager_id"), ["manager_id"], unique=False)

    op.create_table(
        "caller_guards",
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("counted_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lockout_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lockout_id"], ["lockouts.id"], name=op.f("fk_caller_guards_lockout_id_lockouts")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_caller_guards")),
    )
    op.create_table(
        "wrong_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_wrong_numbers_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["managers.id"],
            name=op.f("fk_wrong_numbers_manager_id_managers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wrong_numbers")),
    )
    with op.batch_alter_table("wrong_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wrong_numbers_call_id"), ["call_id"], unique=False)
        batch_op.create_index("ix_wrong_numbers_caller_at", ["caller", "at"], unique=False)
        batch_op.create_index("ix_wrong_numbers_manager_at", ["manager_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wrong_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_wrong_numbers_manager_at")
        batch_op.drop_index("ix_wrong_numbers_caller_at")
        batch_op.drop_index(batch_op.f("ix_wrong_numbers_call_id"))

    op.drop_table("wrong_numbers")
    op.drop_table("caller_guards")
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lockouts_manager_id"))
        batch_op.drop_index("ix_lockouts_locked")
        batch_op.drop_index(
            "ix_lockouts_alert_pending",
            sqlite_where=sa.text("alert_pending"),
            postgresql_where=sa.text("alert_pending"),
        )

    op.drop_table("lockouts")
