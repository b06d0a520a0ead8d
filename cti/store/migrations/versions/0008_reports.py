"""Reports: 15-minute roll-ups of calls, messages and CSAT surveys, and triggers marking them stale.

Every insert, update or delete on ``calls``, ``messages`` or ``csat_surveys`` marks the
15-minute slots it touches stale (``report_stale_slots``), in the same transaction, by a
trigger; ``cti.store.reports`` recomputes stale slots from the source rows. Existing rows
are marked stale here, so the first refresh rolls up the history. Indexes on the time
columns let a refresh read one slot's rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOT_SECONDS = 900
SOURCES = {"calls": "started_at", "messages": "created_at", "csat_surveys": "sent_at"}
"""Each source table and the time column that puts a row in a slot."""
SOURCE_NAMES = {"calls": "calls", "messages": "messages", "csat_surveys": "csat"}
WITHIN = (5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 180, 300)


def _slot(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"floor(date_part('epoch', {column}) / {SLOT_SECONDS})::bigint"
    return f"CAST(strftime('%s', {column}) AS INTEGER) / {SLOT_SECONDS}"


def _sqlite_triggers(table: str, column: str, source: str) -> list[str]:
    def mark(row: str) -> str:
        slot = _slot("sqlite", f"{row}.{column}")
        return (
            f"INSERT INTO report_stale_slots (source, slot) SELECT '{source}', {slot} "
            f"WHERE NOT EXISTS (SELECT 1 FROM report_stale_slots "
            f"WHERE source = '{source}' AND slot = {slot});"
        )

    return [
        f"CREATE TRIGGER report_stale_{table}_insert AFTER INSERT ON {table} "
        f"BEGIN {mark('NEW')} END",
        f"CREATE TRIGGER report_stale_{table}_update AFTER UPDATE ON {table} "
        f"BEGIN {mark('OLD')} {mark('NEW')} END",
        f"CREATE TRIGGER report_stale_{table}_delete AFTER DELETE ON {table} "
        f"BEGIN {mark('OLD')} END",
    ]


def _postgres_triggers(table: str, column: str, source: str) -> list[str]:
    def mark(rows: str) -> str:
        slot = _slot("postgresql", column)
        return (
            f"INSERT INTO report_stale_slots (source, slot) "
            f"SELECT DISTINCT '{source}', {slot} FROM {rows} ORDER BY 2 "
            f"ON CONFLICT DO NOTHING;"
        )

    function = f"report_stale_{table}"
    return [
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP <> 'DELETE' THEN {mark('new_rows')} END IF; "
        f"IF TG_OP <> 'INSERT' THEN {mark('old_rows')} END IF; "
        f"RETURN NULL; END $$",
        f"CREATE TRIGGER {function}_insert AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_update AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def _slot_key() -> list[sa.Column[int]]:
    return [sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False)]


def upgrade() -> None:
    """Create the roll-up tables, the time indexes and the triggers; mark history stale."""
    dialect = op.get_bind().dialect.name
    op.create_index("ix_calls_started", "calls", ["started_at", "id"])
    op.create_index("ix_messages_created", "messages", ["created_at"])
    op.create_index("ix_csat_surveys_sent", "csat_surveys", ["sent_at"])
    op.create_table(
        "report_stale_slots",
        sa.Column("source", sa.String(length=16), nullable=False),
        *_slot_key(),
        sa.PrimaryKeyConstraint("source", "slot", name="pk_report_stale_slots"),
    )
    counts = [
        "offered",
        "answered",
        "abandoned",
        "ivr_hangup",
        "unanswered",
        "lost",
    ]
    op.create_table(
        "report_calls",
        *_slot_key(),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in counts),
        sa.Column("answered_wait_sum", sa.Float(), nullable=False),
        sa.Column("answered_wait_n", sa.Integer(), nullable=False),
        sa.Column("abandoned_wait_sum", sa.Float(), nullable=False),
        sa.Column("abandoned_wait_n", sa.Integer(), nullable=False),
        sa.Column("wait_max", sa.Float(), nullable=True),
        sa.Column("talk_sum", sa.Float(), nullable=False),
        sa.Column("talk_n", sa.Integer(), nullable=False),
        sa.Column("wrapup_sum", sa.Float(), nullable=False),
        sa.Column("wrapup_n", sa.Integer(), nullable=False),
        *(sa.Column(f"answered_within_{n}", sa.Integer(), nullable=False) for n in WITHIN),
        sa.PrimaryKeyConstraint("slot", "queue", "reason", "direction", name="pk_report_calls"),
    )
    op.create_table(
        "report_agents",
        *_slot_key(),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("outbound", sa.Integer(), nullable=False),
        sa.Column("talk_sum", sa.Float(), nullable=False),
        sa.Column("talk_n", sa.Integer(), nullable=False),
        sa.Column("wrapup_sum", sa.Float(), nullable=False),
        sa.Column("wrapup_n", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slot", "agent", name="pk_report_agents"),
    )
    op.create_table(
        "report_messages",
        *_slot_key(),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slot", "channel", "direction", "agent", name="pk_report_messages"),
    )
    op.create_table(
        "report_csat",
        *_slot_key(),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("surveys", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slot", "agent", "score", name="pk_report_csat"),
    )
    triggers = _postgres_triggers if dialect == "postgresql" else _sqlite_triggers
    for table, column in SOURCES.items():
        source = SOURCE_NAMES[table]
        for statement in triggers(table, column, source):
            op.execute(statement)
        op.execute(
            f"INSERT INTO report_stale_slots (source, slot) "
            f"SELECT DISTINCT '{source}', {_slot(dialect, column)} FROM {table}"
        )


def downgrade() -> None:
    """Drop the triggers, the roll-ups and the indexes."""
    dialect = op.get_bind().dialect.name
    for table in SOURCES:
        for event in ("insert", "update", "delete"):
            on = f" ON {table}" if dialect == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS report_stale_{table}_{event}{on}")
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS report_stale_{table}()")
    for name in ("report_csat", "report_messages", "report_agents", "report_calls"):
        op.drop_table(name)
    op.drop_table("report_stale_slots")
    op.drop_index("ix_csat_surveys_sent", table_name="csat_surveys")
    op.drop_index("ix_messages_created", table_name="messages")
    op.drop_index("ix_calls_started", table_name="calls")
