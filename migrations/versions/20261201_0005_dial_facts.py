"""dial facts: acceptance, Twilio's dial status and talk time live on each dial

Revision ID: 0005_dial_facts
Revises: 0004_outbox
Create Date: 2026-12-01 07:32:56.547519
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005_dial_facts"
down_revision: str | None = "0004_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

calls = sa.table(
    "calls",
    sa.column("id", sa.Integer()),
    sa.column("outcome", sa.String()),
    sa.column("client_accepted", sa.Boolean()),
    sa.column("dial_status", sa.String()),
    sa.column("bridged_seconds", sa.Integer()),
)
dials = sa.table(
    "dial_attempts",
    sa.column("id", sa.Integer()),
    sa.column("call_id", sa.Integer()),
    sa.column("outcome", sa.String()),
    sa.column("client_accepted", sa.Boolean()),
    sa.column("dial_status", sa.String()),
    sa.column("talk_seconds", sa.Integer()),
)
# Outcomes only a dial result gives a dial (the status callback gives caller_hung_up).
RESULT_OUTCOMES = ("bridged", "client_busy", "client_no_answer", "client_failed", "voicemail")


def _of_call(table, call_id):
    other = table.alias()
    return other, other.c.call_id == call_id


def _latest_dial_id(call_id):
    other, same_call = _of_call(dials, call_id)
    return sa.select(sa.func.max(other.c.id)).where(same_call).scalar_subquery()


def _talk_seconds(call_id):
    other, same_call = _of_call(dials, call_id)
    total = sa.select(sa.func.sum(other.c.talk_seconds)).where(same_call).scalar_subquery()
    return sa.func.coalesce(total, 0)


def _call(column):
    return sa.select(column).where(calls.c.id == dials.c.call_id).scalar_subquery()


def upgrade() -> None:
    with op.batch_alter_table("dial_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client_accepted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("dial_status", sa.String(length=32), nullable=True))

    # A bridge reported after the status callback counted on the call but not on its dial.
    is_latest = dials.c.id == _latest_dial_id(dials.c.call_id)
    missing = _call(calls.c.bridged_seconds) - _talk_seconds(dials.c.call_id)
    op.execute(
        dials.update()
        .where(is_latest, _call(calls.c.outcome) == "bridged", missing > 0)
        .values(outcome="bridged", talk_seconds=dials.c.talk_seconds + missing)
    )

    # The calls row kept these facts of its latest dial only. Acceptance was reset by each
    # dial result, so it belongs to the latest dial. Twilio's status belongs to the latest
    # dial if a dial result gave that dial its outcome (or it is the call's only dial);
    # otherwise it was the previous dial's and is not known for any one dial.
    accepted = _call(calls.c.client_accepted)
    op.execute(dials.update().where(is_latest).values(client_accepted=accepted))
    other, same_call = _of_call(dials, dials.c.call_id)
    dial_count = sa.select(sa.func.count(other.c.id)).where(same_call).scalar_subquery()
    op.execute(
        dials.update()
        .where(is_latest, sa.or_(dials.c.outcome.in_(RESULT_OUTCOMES), dial_count == 1))
        .values(dial_status=_call(calls.c.dial_status))
    )

    with op.batch_alter_table("dial_attempts", schema=None) as batch_op:
        batch_op.alter_column("client_accepted", server_default=None)

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("client_accepted")
        batch_op.drop_column("dial_status")
        batch_op.drop_column("bridged_seconds")


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bridged_seconds", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("dial_status", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("client_accepted", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    reported, same_call = _of_call(dials, calls.c.id)
    last_status = (
        sa.select(reported.c.dial_status)
        .where(same_call, reported.c.dial_status.is_not(None))
        .order_by(reported.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # The calls row said "accepted" only while its latest dial waited for its dial result.
    latest, same_call = _of_call(dials, calls.c.id)
    accepted = (
        sa.select(sa.case((latest.c.dial_status.is_(None), latest.c.client_accepted), else_=False))
        .where(same_call)
        .order_by(latest.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.execute(
        calls.update().values(
            bridged_seconds=_talk_seconds(calls.c.id),
            dial_status=last_status,
            client_accepted=sa.func.coalesce(accepted, sa.false()),
        )
    )

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.alter_column("bridged_seconds", server_default=None)
        batch_op.alter_column("client_accepted", server_default=None)

    with op.batch_alter_table("dial_attempts", schema=None) as batch_op:
        batch_op.drop_column("dial_status")
        batch_op.drop_column("client_accepted")
