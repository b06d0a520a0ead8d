"""Contacts and their identities (phone, email, CRM id), for caller identification.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create contacts and contact_identities with their lookup indexes."""
    op.create_table(
        "contacts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_table(
        "contact_identities",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("phone_suffix", sa.String(length=16), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_identities_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_identities")),
        sa.UniqueConstraint(
            "contact_id", "kind", "value", name=op.f("uq_contact_identities_contact_id")
        ),
    )
    op.create_index(op.f("ix_contact_identities_contact_id"), "contact_identities", ["contact_id"])
    op.create_index(
        op.f("ix_contact_identities_phone_suffix"), "contact_identities", ["phone_suffix"]
    )
    op.create_index("ix_contact_identities_lookup", "contact_identities", ["kind", "value"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("contact_identities")
    op.drop_table("contacts")
