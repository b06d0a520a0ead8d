"""SQLAlchemy tables: calls, users, the audit log, contacts, their identities and CRM facts.

Migrations in ``migrations/versions`` create these tables; they never import this module,
so a later change here needs a new migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from cti.auth.model import Role

JsonType = JSON().with_variant(JSONB(), "postgresql")
IdType = BigInteger().with_variant(Integer(), "sqlite")
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC, read back aware on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times are stored timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JsonType,
    }


class CallRecord(Base):
    """One finished call; ``details`` keeps what has no column (rings, transfers, IVR times)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    linkedid: Mapped[str] = mapped_column(String, unique=True)
    direction: Mapped[str] = mapped_column(String, default="inbound")
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    caller_num: Mapped[str | None] = mapped_column(String)
    caller_name: Mapped[str | None] = mapped_column(String)
    queue: Mapped[str | None] = mapped_column(String)
    agent: Mapped[str | None] = mapped_column(String)
    agent_name: Mapped[str | None] = mapped_column(String)
    outcome: Mapped[str | None] = mapped_column(String)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_txt: Mapped[str | None] = mapped_column(String)
    reason: Mapped[str | None] = mapped_column(String)
    contact_id: Mapped[str | None] = mapped_column(String)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


Index("ix_calls_recent", CallRecord.ended_at.desc(), CallRecord.id.desc())
Index("ix_calls_caller_num", CallRecord.caller_num, CallRecord.ended_at.desc())


class UserRecord(Base):
    """A user account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda roles: [role.value for role in roles],
        )
    )
    agent_interface: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what to what, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContactRecord(Base):
    """A customer: one person or company, whatever channel they reach us on."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    display_name: Mapped[str] = mapped_column(String(255))
    search_name: Mapped[str] = mapped_column(String(255), default="", index=True)
    """``display_name`` folded to lower case, for prefix search by name."""
    language: Mapped[str | None] = mapped_column(String(16))
    lifetime_value_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    debt_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContactIdentity(Base):
    """A normalised phone, email or CRM id of a contact; several contacts may share one."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("contact_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    phone_suffix: Mapped[str | None] = mapped_column(String(16), index=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """The contact asked not to be called on this number: outbound calls refuse it."""


Index("ix_contact_identities_lookup", ContactIdentity.kind, ContactIdentity.value)


def _contact_fk() -> Mapped[int]:
    return mapped_column(IdType, ForeignKey("contacts.id", ondelete="CASCADE"))


class OrderRecord(Base):
    """An order of a contact, as the shop's systems report it."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_contact", "contact_id", "placed_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = _contact_fk()
    number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    placed_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]


class DeliveryRecord(Base):
    """A delivery, usually of one order."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_contact", "contact_id", "eta"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = _contact_fk()
    order_number: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    eta: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(String(255))


class TicketRecord(Base):
    """A complaint, request or question, open or closed."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_contact", "contact_id", "opened_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = _contact_fk()
    number: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    subject: Mapped[str] = mapped_column(String(255), default="")
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class PurchaseRecord(Base):
    """A product the contact bought: the ground for upsell hints."""

    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_contact", "contact_id", "purchased_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = _contact_fk()
    product: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(64), default="")
    sku: Mapped[str | None] = mapped_column(String(64))
    purchased_at: Mapped[datetime | None]
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)


class InteractionRecord(Base):
    """One entry of a contact's timeline on any channel."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_contact", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = _contact_fk()
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    reason: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str | None] = mapped_column(String(64))
    ref: Mapped[str | None] = mapped_column(String(255))
    """The source record: a call's linkedid, a message id."""
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class NoteRecord(Base):
    """A free-text note an agent left on a contact."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_contact", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = _contact_fk()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(String(4000))


class RuleSetVersion(Base):
    """One saved version of an admin-edited rule document; the newest is in force."""

    __tablename__ = "rule_set_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column()
    author: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageRecord(Base):
    """One SMS or email, in or out; its timeline entry points here (``ref`` ``message:ID``).

    ``provider`` and ``provider_id`` (Twilio's ``MessageSid``, an email's ``Message-ID``)
    make a message arriving twice one row.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        Index("ix_messages_contact", "contact_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("contacts.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(255))
    thread: Mapped[str | None] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    """``received``; ``queued``, ``sent`` or ``failed`` for what we send."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    agent: Mapped[str | None] = mapped_column(String(64))
    """Who sent it, for what we send."""
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    """The agent an inbound message was given to: its conversation's owner."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CsatSurvey(Base):
    """A rating asked of a customer after a call or conversation, and their answer."""

    __tablename__ = "csat_surveys"
    __table_args__ = (
        UniqueConstraint("about"),
        Index("ix_csat_surveys_contact", "contact_id", "sent_at"),
        Index("ix_csat_surveys_agent", "agent", "answered_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = _contact_fk()
    agent: Mapped[str] = mapped_column(String(64))
    about: Mapped[str] = mapped_column(String(255))
    """What is rated: ``call:LINKEDID``; one survey each."""
    channel: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    score: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None]


class AgentProfileRecord(Base):
    """What an agent can do: skills with levels (1-5), languages, team."""

    __tablename__ = "agent_profiles"

    user_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    languages: Mapped[list[str]] = mapped_column(JsonType, default=list)
    team: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallbackRecord(Base):
    """A call-back owed to a caller: kept their place in a queue, or gave up waiting."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32))
    """E.164, as caller identification normalises it."""
    contact_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    queue: Mapped[str] = mapped_column(String(64))
    place_at: Mapped[datetime]
    """The caller's place in line: when they joined the queue."""
    source: Mapped[str] = mapped_column(String(16))
    """``virtual_hold`` (pressed 1 in the queue: the scheduler calls back) or
    ``abandoned`` (hung up waiting: on the list for a person to call back)."""
    source_call: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The ``Linkedid`` of the call it came from (one call-back per call)."""
    state: Mapped[str] = mapped_column(String(16), default="owed")
    """``owed``, ``dialing``, ``done`` or ``given_up``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    """Not before then (a retry after a failed attempt)."""
    taken_by: Mapped[str | None] = mapped_column(String(64))
    """The user who took it off the list (abandoned calls), or the agent dialling."""
    last_result: Mapped[str | None] = mapped_column(String(32))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    """How long the caller had waited when they left the queue."""
    closed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


Index("ix_callbacks_open", CallbackRecord.state, CallbackRecord.queue, CallbackRecord.place_at)
Index("ix_callbacks_number", CallbackRecord.number, CallbackRecord.created_at)


class OutboundAttempt(Base):
    """One outbound call the server asked Asterisk for: agent first, then the customer."""

    __tablename__ = "outbound_attempts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``click_to_call`` or ``callback``."""
    callback_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("callbacks.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(64))
    """The agent's phone (``PJSIP/1001``), rung first."""
    number: Mapped[str] = mapped_column(String(32))
    contact_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    linkedid: Mapped[str | None] = mapped_column(String(64), unique=True)
    """``cti-out-<id>``: the ``Uniqueid`` of the agent's channel, so the call's ``Linkedid``."""
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(32))
    """``answered``, ``agent_noanswer``, ``agent_busy``, ``agent_unavailable``, ``busy``,
    ``noanswer``, ``unavailable``, ``cancelled``, ``refused`` or ``failed``."""
    detail: Mapped[str] = mapped_column(String(255), default="")


Index("ix_outbound_attempts_number", OutboundAttempt.number, OutboundAttempt.started_at)


# --- reports: 15-minute roll-ups kept up to date from the tables above (cti.store.reports) ---

Index("ix_calls_started", CallRecord.started_at, CallRecord.id)
Index("ix_messages_created", MessageRecord.created_at)
Index("ix_csat_surveys_sent", CsatSurvey.sent_at)


class ReportStaleSlot(Base):
    """A 15-minute slot whose roll-up of ``source`` (calls, messages, csat) is out of date.

    Database triggers on the source tables add rows; the roll-up refresh takes them away.
    ``slot`` is UTC epoch seconds // 900.
    """

    __tablename__ = "report_stale_slots"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class ReportCallSlot(Base):
    """Calls that started in one slot, summed by queue, reason and direction ('' for none)."""

    __tablename__ = "report_calls"

    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    queue: Mapped[str] = mapped_column(String, primary_key=True)
    reason: Mapped[str] = mapped_column(String, primary_key=True)
    direction: Mapped[str] = mapped_column(String, primary_key=True)
    offered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    ivr_hangup: Mapped[int] = mapped_column(Integer)
    unanswered: Mapped[int] = mapped_column(Integer)
    lost: Mapped[int] = mapped_column(Integer)
    answered_wait_sum: Mapped[float] = mapped_column(Float)
    answered_wait_n: Mapped[int] = mapped_column(Integer)
    abandoned_wait_sum: Mapped[float] = mapped_column(Float)
    abandoned_wait_n: Mapped[int] = mapped_column(Integer)
    wait_max: Mapped[float | None] = mapped_column(Float)
    talk_sum: Mapped[float] = mapped_column(Float)
    talk_n: Mapped[int] = mapped_column(Integer)
    wrapup_sum: Mapped[float] = mapped_column(Float)
    wrapup_n: Mapped[int] = mapped_column(Integer)
    answered_within_5: Mapped[int] = mapped_column(Integer)
    answered_within_10: Mapped[int] = mapped_column(Integer)
    answered_within_15: Mapped[int] = mapped_column(Integer)
    answered_within_20: Mapped[int] = mapped_column(Integer)
    answered_within_25: Mapped[int] = mapped_column(Integer)
    answered_within_30: Mapped[int] = mapped_column(Integer)
    answered_within_45: Mapped[int] = mapped_column(Integer)
    answered_within_60: Mapped[int] = mapped_column(Integer)
    answered_within_90: Mapped[int] = mapped_column(Integer)
    answered_within_120: Mapped[int] = mapped_column(Integer)
    answered_within_180: Mapped[int] = mapped_column(Integer)
    answered_within_300: Mapped[int] = mapped_column(Integer)


class ReportAgentSlot(Base):
    """One agent's (interface's) calls of one slot: handled, talk, wrap-up, rings missed."""

    __tablename__ = "report_agents"

    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    agent: Mapped[str] = mapped_column(String, primary_key=True)
    answered: Mapped[int] = mapped_column(Integer)
    outbound: Mapped[int] = mapped_column(Integer)
    talk_sum: Mapped[float] = mapped_column(Float)
    talk_n: Mapped[int] = mapped_column(Integer)
    wrapup_sum: Mapped[float] = mapped_column(Float)
    wrapup_n: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)


class ReportMessageSlot(Base):
    """Messages created in one slot by channel, direction and agent ('' for none)."""

    __tablename__ = "report_messages"

    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)


class ReportCsatSlot(Base):
    """CSAT surveys sent in one slot by agent and score (0: not answered)."""

    __tablename__ = "report_csat"

    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    surveys: Mapped[int] = mapped_column(Integer)
