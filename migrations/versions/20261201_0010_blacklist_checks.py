"""blacklist checks

Revision ID: 0010_blacklist_checks
Revises: 0009_blacklist
Create Date: 2026-12-01 12:02:42.948173
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = "0010_blacklist_checks"
down_revision: str | None = "0009_blacklist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


VALUE_FIELDS = (
    "first_name",
    "last_name",
    "street",
    "house",
    "city",
    "postal_code",
    "email",
    "phone",
)


def _value_key(values: dict[str, str]) -> str:
    """`crm.blacklist.normalize.value_key` as of this revision."""
    canonical = "\x1f".join(f"{f}\x1e{values[f]}" for f in VALUE_FIELDS if f in values)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _index_rules_by_their_values() -> None:
    """Each rule's normalized values on its own row, the key the check finds it by, and
    the shapes the check builds its lookups for (the fields rules without an IP fill, and
    the sizes of the rules' networks)."""
    with op.batch_alter_table("blacklist_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("normalized", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("value_key", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    rules = sa.table(
        "blacklist_rules",
        sa.column("id", sa.Integer),
        sa.column("ip", sa.String),
        sa.column("ip_family", sa.Integer),
        sa.column("ip_prefix", sa.Integer),
        sa.column("normalized", sa.JSON),
        sa.column("value_key", sa.String),
    )
    values = sa.table(
        "blacklist_rule_values",
        sa.column("rule_id", sa.Integer),
        sa.column("field", sa.String),
        sa.column("value", sa.Text),
    )
    shapes_table = op.create_table(
        "blacklist_shapes",
        sa.Column("fields", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("fields", name=op.f("pk_blacklist_shapes")),
    )
    found: dict[int, dict[str, str]] = {}
    for rule_id, field, value in connection.execute(sa.select(values)):
        found.setdefault(rule_id, {})[field] = value
    shapes = set()
    listed = sa.select(rules.c.id, rules.c.ip, rules.c.ip_family, rules.c.ip_prefix)
    for rule_id, ip, family, prefix in connection.execute(listed).all():
        normalized = found.get(rule_id, {})
        if ip:
            shapes.add(f"ipv{family}/{prefix}")
        else:
            shapes.add(",".join(f for f in VALUE_FIELDS if f in normalized))
        connection.execute(
            rules.update()
            .where(rules.c.id == rule_id)
            .values(normalized=normalized, value_key=None if ip else _value_key(normalized))
        )
    if shapes:
        op.bulk_insert(shapes_table, [{"fields": shape} for shape in sorted(shapes)])
    with op.batch_alter_table("blacklist_rules", schema=None) as batch_op:
        batch_op.alter_column("normalized", existing_type=sa.JSON(), nullable=False)
        batch_op.create_index("ix_blacklist_rules_value_key", ["value_key"], unique=False)


def _check_requests() -> None:
    """Where each request came from and what the blacklist found: nothing, for the old ones."""
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_ip", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("suspicious", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("blacklist_matches", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("alert_pending", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    requests = sa.table("requests", sa.column("blacklist_matches", sa.JSON))
    op.get_bind().execute(requests.update().values(blacklist_matches=[]))
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.alter_column("blacklist_matches", existing_type=sa.JSON(), nullable=False)
        batch_op.create_index(
            "ix_requests_suspicious_created", ["suspicious", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_requests_alert_pending",
            ["alert_pending"],
            unique=False,
            sqlite_where=sa.text("alert_pending"),
            postgresql_where=sa.text("alert_pending"),
        )


def upgrade() -> None:
    settings = op.create_table(
        "blacklist_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("copy_fields", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist_settings")),
    )
    # The one row, so that changing the settings is an update that locks it.
    op.bulk_insert(settings, [{"id": 1, "copy_fields": ["email"], "updated_at": datetime.now(UTC)}])
    _check_requests()
    _index_rules_by_their_values()


def downgrade() -> None:
    op.drop_table("blacklist_shapes")
    with op.batch_alter_table("blacklist_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_blacklist_rules_value_key")
        batch_op.drop_column("value_key")
        batch_op.drop_column("normalized")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_alert_pending")
        batch_op.drop_index("ix_requests_suspicious_created")
        batch_op.drop_column("alert_pending")
        batch_op.drop_column("blacklist_matches")
        batch_op.drop_column("suspicious")
        batch_op.drop_column("source_ip")

    op.drop_table("blacklist_settings")
