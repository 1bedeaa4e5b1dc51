"""indexes of the lists' sorts: requests, clients and the call log by their columns

Revision ID: 0018_list_indexes
Revises: 0017_password_resets
Create Date: 2026-12-01 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018_list_indexes"
down_revision: str | None = "0017_password_resets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "calls": {
        "ix_calls_caller": ["caller", "id"],
        "ix_calls_duration": ["duration_seconds", "id"],
    },
    "clients": {
        "ix_clients_agent_name": ["agent_id", "last_name", "first_name", "id"],
        "ix_clients_city": ["city", "id"],
        "ix_clients_email": ["email", "id"],
        "ix_clients_name": ["last_name", "first_name", "id"],
    },
    "requests": {
        "ix_requests_product": ["product", "id"],
        "ix_requests_status": ["status", "id"],
    },
}


def upgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes.items():
                batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
