"""Personal data of one contact: export all of it, or erase it and keep only statistics.

Erasing removes the contact, its identities and every fact hung on it (the foreign keys
cascade), and strips the caller's number, name and contact link from their calls, so
queue and agent figures stay right while nothing points at the person any more. Both
are audited; the audit entry names the contact id only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti.contacts.phone import DEFAULT_RULES, PhoneRules, normalize_phone, suffix
from cti.store.db import Sessionmaker
from cti.store.models import (
    Base,
    CallbackRecord,
    CallRecord,
    ContactIdentity,
    ContactRecord,
    DeliveryRecord,
    InteractionRecord,
    MessageRecord,
    NoteRecord,
    OrderRecord,
    OutboundAttempt,
    PurchaseRecord,
    TicketRecord,
)
from cti.store.repositories import AuditRepository, call_from_record

FACT_TABLES: dict[str, type[Base]] = {
    "identities": ContactIdentity,
    "orders": OrderRecord,
    "deliveries": DeliveryRecord,
    "tickets": TicketRecord,
    "purchases": PurchaseRecord,
    "interactions": InteractionRecord,
    "notes": NoteRecord,
    "messages": MessageRecord,
}
_SKIPPED = {"id", "contact_id"}
OUTBOUND_TABLES: dict[str, type[OutboundAttempt] | type[CallbackRecord]] = {
    "outbound_attempts": OutboundAttempt,
    "callbacks": CallbackRecord,
}
"""Kept by number as well as by contact: found and erased by either."""


def _outbound_of(
    table: type[OutboundAttempt] | type[CallbackRecord], contact_id: int, phones: Sequence[str]
) -> ColumnElement[bool]:
    return (table.contact_id == contact_id) | table.number.in_(list(phones))


async def export_contact(
    sessionmaker: Sessionmaker,
    contact_id: int,
    *,
    actor: str,
    rules: PhoneRules = DEFAULT_RULES,
) -> dict[str, Any] | None:
    """Everything held on one contact as JSON-ready data; None if there is no such contact."""
    async with sessionmaker.begin() as session:
        contact = await session.get(ContactRecord, contact_id)
        if contact is None:
            return None
        export: dict[str, Any] = {"contact": _row(contact, skip={"search_name"})}
        for name, table in FACT_TABLES.items():
            owner = table.__table__.c.contact_id
            query: Select[Any] = select(table).where(owner == contact_id)
            export[name] = [_row(r) for r in (await session.scalars(query)).all()]
        phones = [i["value"] for i in export["identities"] if i["kind"] == "phone"]
        call_ids = await _call_ids(session, contact_id, phones, rules)
        calls = await session.scalars(select(CallRecord).where(CallRecord.id.in_(call_ids)))
        export["calls"] = [call_from_record(c) for c in calls.all()]
        for name, table in OUTBOUND_TABLES.items():
            mine = _outbound_of(table, contact_id, phones)
            export[name] = [_row(r) for r in (await session.scalars(select(table).where(mine)))]
        await AuditRepository(session).record(
            actor=actor, action="contact.export", target=f"contact:{contact_id}"
        )
    return export


async def erase_contact(
    sessionmaker: Sessionmaker,
    contact_id: int,
    *,
    actor: str,
    rules: PhoneRules = DEFAULT_RULES,
    forget_files: Callable[[set[str]], None] | None = None,
) -> dict[str, int] | None:
    """Erase one contact; returns how many rows went; None if there is no such contact.

    ``forget_files`` is handed the SHA-256 of every stored email and attachment of the
    contact's messages that no other message refers to, once the rows are gone.
    """
    async with sessionmaker.begin() as session:
        contact = await session.get(ContactRecord, contact_id)
        if contact is None:
            return None
        files = await _message_files(session, contact_id)
        phones = list(
            (
                await session.scalars(
                    select(ContactIdentity.value).where(
                        ContactIdentity.contact_id == contact_id, ContactIdentity.kind == "phone"
                    )
                )
            ).all()
        )
        counts = {
            name: await _count(session, table, contact_id) for name, table in FACT_TABLES.items()
        }
        call_ids = await _call_ids(session, contact_id, phones, rules)
        await session.execute(
            update(CallRecord)
            .where(CallRecord.id.in_(call_ids))
            .values(caller_num=None, caller_name=None, contact_id=None)
        )
        counts["calls_anonymised"] = len(call_ids)
        for name, table in OUTBOUND_TABLES.items():  # numbers: gone, not just unlinked
            mine = _outbound_of(table, contact_id, phones)
            gone = await session.execute(delete(table).where(mine))
            counts[name] = int(gone.rowcount)  # type: ignore[attr-defined]
        await session.execute(delete(ContactRecord).where(ContactRecord.id == contact_id))
        for digest in list(files):
            shared = await session.scalar(
                select(func.count()).where(cast(MessageRecord.details, String).like(f"%{digest}%"))
            )
            if shared:
                files.discard(digest)
        counts["files"] = len(files)
        await AuditRepository(session).record(
            actor=actor,
            action="contact.erase",
            target=f"contact:{contact_id}",
            details=counts,
        )
    if forget_files is not None and files:
        forget_files(files)
    return counts


async def _message_files(session: AsyncSession, contact_id: int) -> set[str]:
    """The stored emails and attachments of a contact's messages, by SHA-256."""
    files: set[str] = set()
    details = await session.scalars(
        select(MessageRecord.details).where(MessageRecord.contact_id == contact_id)
    )
    for detail in details:
        if not isinstance(detail, dict):
            continue
        if isinstance(detail.get("raw_sha256"), str):
            files.add(detail["raw_sha256"])
        for attachment in detail.get("attachments") or []:
            if isinstance(attachment, dict) and attachment.get("stored"):
                files.add(str(attachment.get("sha256")))
    return files


async def _call_ids(
    session: AsyncSession, contact_id: int, phones: Sequence[str], rules: PhoneRules
) -> list[int]:
    """Calls linked to the contact, or from one of its numbers in whatever form it came."""
    matches: list[ColumnElement[bool]] = [CallRecord.contact_id == str(contact_id)]
    matches += [CallRecord.caller_num.endswith(suffix(p)) for p in phones]
    rows = await session.execute(
        select(CallRecord.id, CallRecord.contact_id, CallRecord.caller_num).where(or_(*matches))
    )
    wanted = set(phones)
    return [
        call_id
        for call_id, linked, caller in rows.all()
        if linked == str(contact_id) or normalize_phone(caller, rules).e164 in wanted
    ]


async def _count(session: AsyncSession, table: type[Base], contact_id: int) -> int:
    owner = table.__table__.c.contact_id
    return int(await session.scalar(select(func.count()).where(owner == contact_id)) or 0)


def _row(record: Base, *, skip: set[str] | None = None) -> dict[str, Any]:
    skipped = _SKIPPED | (skip or set())
    row: dict[str, Any] = {}
    for column in record.__table__.columns:
        if column.key in skipped and not (column.key == "id" and isinstance(record, ContactRecord)):
            continue
        value = getattr(record, column.key)
        row[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return row
