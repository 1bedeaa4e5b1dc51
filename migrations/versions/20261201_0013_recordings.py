"""recordings: a company's recording policy, the consent kept on calls and dials, recorded
conversations; lockout indexes

Revision ID: 0013_recordings
Revises: 0012_client_callbacks
Create Date: 2026-12-01 16:20:33.977728
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0013_recordings"
down_revision: str | None = "0012_client_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_sid", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("dial_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("kept", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_recordings_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dial_id"],
            ["dial_attempts.id"],
            name=op.f("fk_call_recordings_dial_id_dial_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_call_recordings_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
        sa.UniqueConstraint("recording_sid", name=op.f("uq_call_recordings_recording_sid")),
    )
    with op.batch_alter_table("call_recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_recordings_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            "ix_call_recordings_discard",
            ["id"],
            unique=False,
            sqlite_where=sa.text("NOT kept AND deleted_at IS NULL"),
            postgresql_where=sa.text("NOT kept AND deleted_at IS NULL"),
        )
        batch_op.create_index("ix_call_recordings_request", ["request_id", "id"], unique=False)

    with op.batch_alter_table("caller_guards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_caller_guards_lockout_id"), ["lockout_id"], unique=False
        )

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recorded", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("dial_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recorded", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "recording_policy",
                sa.Enum("off", "on", name="recordingpolicy", native_enum=False, length=32),
                server_default="off",
                nullable=False,
            )
        )

    with op.batch_alter_table("wrong_numbers", schema=None) as batch_op:
        batch_op.create_index("ix_wrong_numbers_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wrong_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_wrong_numbers_at")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("recording_policy")

    with op.batch_alter_table("dial_attempts", schema=None) as batch_op:
        batch_op.drop_column("recorded")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("recorded")

    with op.batch_alter_table("caller_guards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caller_guards_lockout_id"))

    with op.batch_alter_table("call_recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_call_recordings_request")
        batch_op.drop_index(
            "ix_call_recordings_discard",
            sqlite_where=sa.text("NOT kept AND deleted_at IS NULL"),
            postgresql_where=sa.text("NOT kept AND deleted_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_call_recordings_call_id"))

    op.drop_table("call_recordings")
