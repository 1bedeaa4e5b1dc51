"""search text: clients and requests searched in any alphabet (folded text columns)

Revision ID: 0015_search_text
Revises: 0014_access
Create Date: 2026-12-01 17:03:40.932276
"""

from __future__ import annotations

from collections.abc import Sequence

import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Row

BATCH = 1000


def _fold(value: str | None) -> str:
    """As `crm.search.fold` did when this was written (a migration keeps its own copy)."""
    if not value:
        return ""
    words = unicodedata.normalize("NFC", value).split()
    return " ".join(words).casefold().replace("ё", "е")


def _folded(*values: str | None) -> str:
    return "\n".join(part for part in (_fold(value) for value in values) if part)


def _backfill(table: str, columns: tuple[str, ...], fields: Callable[[Row], tuple]) -> None:
    """Fill `search_text` of every row with the folded `fields` of its `columns`, a batch
    of ids at a time."""
    bind = op.get_bind()
    rows = sa.table(table, sa.column("id"), sa.column("search_text"), *map(sa.column, columns))
    last = 0
    while True:
        batch = bind.execute(
            sa.select(rows.c.id, *(rows.c[name] for name in columns))
            .where(rows.c.id > last)
            .order_by(rows.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        bind.execute(
            sa.update(rows)
            .where(rows.c.id == sa.bindparam("b_id"))
            .values(search_text=sa.bindparam("b_text")),
            [{"b_id": row[0], "b_text": _folded(*fields(row))} for row in batch],
        )
        last = batch[-1][0]


revision: str = "0015_search_text"
down_revision: str | None = "0014_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))

    _backfill(
        "clients",
        ("first_name", "last_name", "email", "city"),
        lambda row: (f"{row.first_name or ''} {row.last_name or ''}", row.email, row.city),
    )
    _backfill("requests", ("product",), lambda row: (row.product,))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("search_text")

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("search_text")
