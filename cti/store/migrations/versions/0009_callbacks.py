"""Outbound calls and call-backs: owed call-backs, outbound attempts, do-not-call numbers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create callbacks and outbound_attempts; add do_not_call to contact identities."""
    with op.batch_alter_table("contact_identities") as batch:
        batch.add_column(sa.Column("do_not_call", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "callbacks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("place_at", WHEN, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_call", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=True),
        sa.Column("taken_by", sa.String(length=64), nullable=True),
        sa.Column("last_result", sa.String(length=32), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name="fk_callbacks_contact_id_contacts",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
        sa.UniqueConstraint("source_call", name="uq_callbacks_source_call"),
    )
    op.create_index("ix_callbacks_open", "callbacks", ["state", "queue", "place_at"])
    op.create_index("ix_callbacks_number", "callbacks", ["number", "created_at"])
    op.create_table(
        "outbound_attempts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("callback_id", ID, nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("linkedid", sa.String(length=64), nullable=True),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name="fk_outbound_attempts_callback_id_callbacks",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name="fk_outbound_attempts_contact_id_contacts",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_attempts"),
        sa.UniqueConstraint("linkedid", name="uq_outbound_attempts_linkedid"),
    )
    op.create_index("ix_outbound_attempts_callback_id", "outbound_attempts", ["callback_id"])
    op.create_index("ix_outbound_attempts_number", "outbound_attempts", ["number", "started_at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_outbound_attempts_number", table_name="outbound_attempts")
    op.drop_index("ix_outbound_attempts_callback_id", table_name="outbound_attempts")
    op.drop_table("outbound_attempts")
    op.drop_index("ix_callbacks_number", table_name="callbacks")
    op.drop_index("ix_callbacks_open", table_name="callbacks")
    op.drop_table("callbacks")
    with op.batch_alter_table("contact_identities") as batch:
        batch.drop_column("do_not_call")
