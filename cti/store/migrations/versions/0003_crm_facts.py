"""CRM facts for dossiers: orders, deliveries, tickets, purchases, interactions, notes, rules.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def _contact(table: str) -> list[Any]:
    return [
        sa.Column("contact_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=f"fk_{table}_contact_id_contacts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    """Add money and search columns to contacts, then the fact tables."""
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("search_name", sa.String(length=255), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("lifetime_value_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("debt_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute("UPDATE contacts SET search_name = lower(display_name)")
    op.create_index("ix_contacts_search_name", "contacts", ["search_name"])

    op.create_table(
        "orders",
        _id(),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("placed_at", TIME, nullable=True),
        sa.Column("ready_at", TIME, nullable=True),
        sa.Column("due_at", TIME, nullable=True),
        *_contact("orders"),
        sa.UniqueConstraint("number", name="uq_orders_number"),
    )
    op.create_index("ix_orders_contact", "orders", ["contact_id", "placed_at"])

    op.create_table(
        "deliveries",
        _id(),
        sa.Column("order_number", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("eta", TIME, nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        *_contact("deliveries"),
    )
    op.create_index("ix_deliveries_contact", "deliveries", ["contact_id", "eta"])

    op.create_table(
        "tickets",
        _id(),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("opened_at", TIME, nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        *_contact("tickets"),
        sa.UniqueConstraint("number", name="uq_tickets_number"),
    )
    op.create_index("ix_tickets_contact", "tickets", ["contact_id", "opened_at"])

    op.create_table(
        "purchases",
        _id(),
        sa.Column("product", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("purchased_at", TIME, nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        *_contact("purchases"),
    )
    op.create_index("ix_purchases_contact", "purchases", ["contact_id", "purchased_at"])

    op.create_table(
        "interactions",
        _id(),
        sa.Column("at", TIME, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("details", JSON, nullable=False),
        *_contact("interactions"),
    )
    op.create_index("ix_interactions_contact", "interactions", ["contact_id", "at"])

    op.create_table(
        "notes",
        _id(),
        sa.Column("at", TIME, nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("body", sa.String(length=4000), nullable=False),
        *_contact("notes"),
    )
    op.create_index("ix_notes_contact", "notes", ["contact_id", "at"])

    op.create_table(
        "rule_set_versions",
        _id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rule_set_versions"),
        sa.UniqueConstraint("name", "version", name="uq_rule_set_versions_name"),
    )


def downgrade() -> None:
    """Drop the fact tables and the added contact columns."""
    for table in (
        "rule_set_versions",
        "notes",
        "interactions",
        "purchases",
        "tickets",
        "deliveries",
        "orders",
    ):
        op.drop_table(table)
    op.drop_index("ix_contacts_search_name", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("debt_cents")
        batch.drop_column("lifetime_value_cents")
        batch.drop_column("search_name")
