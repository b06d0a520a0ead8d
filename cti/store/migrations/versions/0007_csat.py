"""Customer satisfaction: surveys sent after a call or conversation, and their scores.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create csat_surveys, one per closed call or conversation asked about."""
    op.create_table(
        "csat_surveys",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("about", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name="fk_csat_surveys_contact_id_contacts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_csat_surveys"),
        sa.UniqueConstraint("about", name="uq_csat_surveys_about"),
    )
    op.create_index("ix_csat_surveys_contact", "csat_surveys", ["contact_id", "sent_at"])
    op.create_index("ix_csat_surveys_agent", "csat_surveys", ["agent", "answered_at"])


def downgrade() -> None:
    """Drop it again."""
    op.drop_index("ix_csat_surveys_agent", table_name="csat_surveys")
    op.drop_index("ix_csat_surveys_contact", table_name="csat_surveys")
    op.drop_table("csat_surveys")
