"""organizations by INN: DaData fields, branches, payers, delivery addresses, loyalty

Revision ID: 0019_organizations
Revises: 0018_list_indexes
Create Date: 2026-12-01 19:13:24.495122
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0019_organizations"
down_revision: str | None = "0018_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_delivery_addresses_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_addresses")),
    )
    with op.batch_alter_table("delivery_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_addresses_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "payers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("inn", sa.String(length=12), nullable=False),
        sa.Column("kpp", sa.String(length=9), server_default="", nullable=False),
        sa.Column("bik", sa.String(length=9), nullable=False),
        sa.Column("bank_name", sa.String(length=300), nullable=False),
        sa.Column("correspondent_account", sa.String(length=20), nullable=True),
        sa.Column("bank_address", sa.Text(), nullable=True),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_payers_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payers")),
        sa.UniqueConstraint("organization_id", "bik", "account", name="uq_payers_account"),
    )
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payers_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_loyalty_entries_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_loyalty_entries_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_loyalty_entries_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entries")),
        sa.UniqueConstraint("request_id", name=op.f("uq_loyalty_entries_request_id")),
    )
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loyalty_entries_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            "ix_loyalty_entries_org_created", ["organization_id", "created_at"], unique=False
        )

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_agents_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_agents_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kpp", sa.String(length=9), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("full_name", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("ogrn", sa.String(length=15), nullable=True))
        batch_op.add_column(sa.Column("ogrn_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "party_type",
                sa.Enum("legal", "individual", name="partytype", native_enum=False, length=32),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("legal_address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("head_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("head_post", sa.String(length=300), nullable=True))
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "active",
                    "liquidating",
                    "liquidated",
                    "bankrupt",
                    "reorganizing",
                    name="partystatus",
                    native_enum=False,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("registered_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("liquidated_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("status_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("dadata_hid", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column(
                "branch_type",
                sa.Enum("main", "branch", name="branchtype", native_enum=False, length=32),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("main_organization_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_organizations_inn"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_organizations_main_organization_id"),
            ["main_organization_id"],
            unique=False,
        )
        batch_op.create_unique_constraint("uq_organizations_inn_kpp", ["inn", "kpp"])
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_main_organization_id_organizations"),
            "organizations",
            ["main_organization_id"],
            ["id"],
        )

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("delivery_address_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_requests_delivery_address_id"), ["delivery_address_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_requests_payer_id"), ["payer_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_requests_payer_id_payers"), "payers", ["payer_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_requests_delivery_address_id_delivery_addresses"),
            "delivery_addresses",
            ["delivery_address_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_requests_delivery_address_id_delivery_addresses"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_requests_payer_id_payers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_requests_payer_id"))
        batch_op.drop_index(batch_op.f("ix_requests_delivery_address_id"))
        batch_op.drop_column("delivery_address_id")
        batch_op.drop_column("payer_id")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organizations_main_organization_id_organizations"), type_="foreignkey"
        )
        batch_op.drop_constraint("uq_organizations_inn_kpp", type_="unique")
        batch_op.drop_index(batch_op.f("ix_organizations_main_organization_id"))
        batch_op.create_unique_constraint(batch_op.f("uq_organizations_inn"), ["inn"])
        batch_op.drop_column("verified_at")
        batch_op.drop_column("main_organization_id")
        batch_op.drop_column("branch_type")
        batch_op.drop_column("dadata_hid")
        batch_op.drop_column("status_date")
        batch_op.drop_column("liquidated_on")
        batch_op.drop_column("registered_on")
        batch_op.drop_column("status")
        batch_op.drop_column("head_post")
        batch_op.drop_column("head_name")
        batch_op.drop_column("legal_address")
        batch_op.drop_column("party_type")
        batch_op.drop_column("ogrn_date")
        batch_op.drop_column("ogrn")
        batch_op.drop_column("full_name")
        batch_op.drop_column("kpp")

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_agents_organization_id_organizations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_agents_organization_id"))
        batch_op.drop_column("organization_id")

    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_entries_org_created")
        batch_op.drop_index(batch_op.f("ix_loyalty_entries_agent_id"))

    op.drop_table("loyalty_entries")
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payers_organization_id"))

    op.drop_table("payers")
    with op.batch_alter_table("delivery_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_addresses_organization_id"))

    op.drop_table("delivery_addresses")
