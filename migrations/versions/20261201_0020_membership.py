"""organization membership, kinds apart, one default payer, one active card per account

Revision ID: 0020_membership
Revises: 0019_organizations
Create Date: 2026-12-01 19:45:06.212201

What 0019 cannot hold is set aside by the downgrade, in one audit log entry, and put back by
the next upgrade: the INN of a second organization of one INN and KPP (a partner company and
an agents' organization), the account of a removed card whose account an active card
repeats, and the organization of an agent waiting to be confirmed (0019 knows members only:
they would see its data).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0020_membership"
down_revision: str | None = "0019_organizations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("details", sa.Text()),
)
ORGANIZATIONS = sa.table(
    "organizations", sa.column("id", sa.Integer()), sa.column("inn", sa.String()),
    sa.column("kpp", sa.String()),
)  # fmt: skip
PAYERS = sa.table(
    "payers", sa.column("id", sa.Integer()), sa.column("organization_id", sa.Integer()),
    sa.column("bik", sa.String()), sa.column("account", sa.String()),
    sa.column("is_active", sa.Boolean()),
)  # fmt: skip
AGENTS = sa.table(
    "agents", sa.column("id", sa.Integer()), sa.column("organization_id", sa.Integer()),
    sa.column("organization_confirmed", sa.Boolean()),
)  # fmt: skip
ACTOR = "migration 0020_membership"


def _set_aside() -> dict[str, dict[str, Any]]:
    """Make the rows fit 0019's constraints; what was changed, by table and row id."""
    bind = op.get_bind()
    aside: dict[str, dict[str, Any]] = {"organizations": {}, "payers": {}, "agents": {}}
    seen: set[tuple[str, str]] = set()
    organizations = bind.execute(
        sa.select(ORGANIZATIONS.c.id, ORGANIZATIONS.c.inn, ORGANIZATIONS.c.kpp)
        .where(ORGANIZATIONS.c.inn.is_not(None))
        .order_by(ORGANIZATIONS.c.id)
    )
    for id_, inn, kpp in organizations.all():
        if (inn, kpp) in seen:  # the oldest keeps the INN; this one is found by its OGRN
            aside["organizations"][str(id_)] = inn
        seen.add((inn, kpp))
    for id_ in aside["organizations"]:
        bind.execute(ORGANIZATIONS.update().where(ORGANIZATIONS.c.id == int(id_)).values(inn=None))
    columns = PAYERS.c
    cards: set[tuple[int, str, str]] = set()
    payers = bind.execute(
        sa.select(columns.id, columns.organization_id, columns.bik, columns.account).order_by(
            columns.is_active.desc(), columns.id.desc()
        )  # the active one keeps it
    )
    for id_, organization_id, bik, account in payers.all():
        if (organization_id, bik, account) in cards:
            aside["payers"][str(id_)] = account
        cards.add((organization_id, bik, account))
    for id_ in aside["payers"]:
        bind.execute(PAYERS.update().where(columns.id == int(id_)).values(account=f"removed-{id_}"))
    pending = bind.execute(
        sa.select(AGENTS.c.id, AGENTS.c.organization_id).where(
            AGENTS.c.organization_id.is_not(None), ~AGENTS.c.organization_confirmed
        )
    )
    aside["agents"] = {str(id_): organization_id for id_, organization_id in pending.all()}
    bind.execute(
        AGENTS.update()
        .where(AGENTS.c.organization_id.is_not(None), ~AGENTS.c.organization_confirmed)
        .values(organization_id=None)
    )
    return aside


def _record(action: str, details: dict[str, Any]) -> None:
    op.get_bind().execute(
        AUDIT.insert().values(
            at=datetime.now(UTC), actor=ACTOR, action=action, entity="schema",
            entity_id=revision, details=json.dumps(details),
        )
    )  # fmt: skip


def _put_back() -> None:
    """Undo what the last downgrade set aside, where 0019 left it as it was."""
    bind = op.get_bind()
    last = bind.execute(
        sa.select(AUDIT.c.action, AUDIT.c.details)
        .where(AUDIT.c.entity == "schema", AUDIT.c.entity_id == revision)
        .order_by(AUDIT.c.id.desc())
        .limit(1)
    ).first()
    if last is None or last.action != "downgrade":
        return
    aside = json.loads(last.details)
    for id_, inn in aside["organizations"].items():
        bind.execute(
            ORGANIZATIONS.update()
            .where(ORGANIZATIONS.c.id == int(id_), ORGANIZATIONS.c.inn.is_(None))
            .values(inn=inn)
        )
    for id_, account in aside["payers"].items():
        bind.execute(
            PAYERS.update()
            .where(PAYERS.c.id == int(id_), PAYERS.c.account == f"removed-{id_}")
            .values(account=account)
        )
    for id_, organization_id in aside["agents"].items():
        bind.execute(
            AGENTS.update()
            .where(AGENTS.c.id == int(id_), AGENTS.c.organization_id.is_(None))
            .values(organization_id=organization_id, organization_confirmed=False)
        )
    _record("upgrade", aside)


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
    _put_back()


def downgrade() -> None:
    aside = _set_aside()
    if any(aside.values()):
        _record("downgrade", aside)
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
