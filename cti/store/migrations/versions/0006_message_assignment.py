"""Messages: the agent a customer's message was given to (its conversation's owner).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add messages.assigned_to."""
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("assigned_to")
