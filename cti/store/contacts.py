"""The contact repository: contacts, identities, CRM facts, notes and phone lookups.

Phone numbers and emails arrive here already normalised (``cti.contacts.records``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cti.contacts.facts import (
    Channel,
    ContactFacts,
    DeliveryFact,
    DeliveryStatus,
    InteractionFact,
    NoteFact,
    OrderFact,
    OrderStatus,
    PurchaseFact,
    Severity,
    TicketFact,
    TicketKind,
    TicketStatus,
)
from cti.contacts.identify import SUFFIX_DIGITS, Candidate
from cti.contacts.phone import DEFAULT_RULES, PhoneRules, normalize_phone, suffix
from cti.contacts.records import ContactIn, ContactPatch
from cti.store.db import Sessionmaker
from cti.store.fast_reads import AnySelect, FastReads
from cti.store.models import (
    Base,
    ContactIdentity,
    ContactRecord,
    DeliveryRecord,
    InteractionRecord,
    NoteRecord,
    OrderRecord,
    PurchaseRecord,
    TicketRecord,
)

PHONE = "phone"
EMAIL = "email"
CRM = "crm"
DOSSIER_DEPTH = 20
"""How many of each kind of fact a dossier looks at, newest first."""
NOTES_DEPTH = 5


@dataclass(frozen=True, slots=True)
class LoadedContact:
    """A contact's facts and identities, as one dossier build reads them."""

    facts: ContactFacts
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    external_id: str | None
    do_not_call: tuple[str, ...] = ()
    """Phones the contact asked not to be called on."""


def _lookup(condition: ColumnElement[bool]) -> Select[int, str, str]:
    return (
        select(ContactRecord.id, ContactRecord.display_name, ContactIdentity.value)
        .join(ContactIdentity, ContactIdentity.contact_id == ContactRecord.id)
        .where(ContactIdentity.kind == bindparam("kind"), condition)
        .order_by(ContactRecord.id)
    )


_BY_NUMBER = _lookup(ContactIdentity.value == bindparam("value"))
_BY_SUFFIX = _lookup(ContactIdentity.phone_suffix == bindparam("suffix"))


class ContactNotFound(LookupError):
    """No contact has this id."""


class ContactRepository:
    """Contacts and everything hung on them, over async SQLAlchemy."""

    def __init__(
        self,
        sessionmaker: Sessionmaker,
        *,
        fast: FastReads | None = None,
    ) -> None:
        """``fast``: the hot read path (``cti.store.fast_reads``); else the session's engine."""
        self.sessionmaker = sessionmaker
        self.fast = fast
        engine = sessionmaker.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise ValueError("the sessionmaker must be bound to an engine")
        self.engine = engine

    # --- writing ----------------------------------------------------------------------------

    async def create(
        self,
        display_name: str,
        *,
        phones: Iterable[str] = (),
        emails: Iterable[str] = (),
        language: str | None = None,
        source: str | None = None,
    ) -> int:
        """Add a contact with already-normalised identities; return its id."""
        contact = ContactIn(
            name=display_name, phones=list(phones), emails=list(emails), language=language
        )
        async with self.sessionmaker.begin() as session:
            return await save_contact(session, contact, source=source or "api")

    async def save(
        self, contact: ContactPatch, *, contact_id: int | None = None, source: str = "api"
    ) -> int:
        """Create (no ``contact_id``) or change a contact; raises ``ContactNotFound``."""
        async with self.sessionmaker.begin() as session:
            return await save_contact(session, contact, contact_id=contact_id, source=source)

    async def add_note(self, contact_id: int, author: str, body: str) -> NoteFact:
        """Leave a note on a contact."""
        async with self.sessionmaker.begin() as session:
            await _require(session, contact_id)
            note = NoteRecord(contact_id=contact_id, author=author, body=body)
            session.add(note)
            await session.flush()
            return NoteFact(note.at, note.author, note.body)

    async def add_interaction(
        self,
        contact_id: int,
        interaction: InteractionFact,
        *,
        ref: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one timeline entry."""
        async with self.sessionmaker.begin() as session:
            session.add(interaction_record(contact_id, interaction, ref=ref, details=details))

    async def record_outcome(
        self, contact_id: int, interaction: InteractionFact, *, ref: str
    ) -> None:
        """The timeline entry of ``ref`` (a call), written once and replaced on a second
        wrap-up of the same call by the same agent."""
        async with self.sessionmaker.begin() as session:
            await _require(session, contact_id)
            await session.execute(
                delete(InteractionRecord).where(
                    InteractionRecord.contact_id == contact_id,
                    InteractionRecord.ref == ref,
                    InteractionRecord.agent == interaction.agent,
                )
            )
            session.add(interaction_record(contact_id, interaction, ref=ref))

    async def timeline(
        self,
        contact_id: int,
        limit: int,
        before: tuple[datetime, int] | None = None,
        channels: Sequence[str] = (),
    ) -> list[dict[str, Any]] | None:
        """A contact's timeline, newest first, ``limit`` entries older than ``before``
        (``(at, id)`` of the last entry of the previous page), only ``channels`` if any
        are named; None: no such contact."""
        query = select(InteractionRecord).where(InteractionRecord.contact_id == contact_id)
        if channels:
            query = query.where(InteractionRecord.channel.in_(channels))
        if before is not None:
            at, row_id = before
            query = query.where(
                or_(
                    InteractionRecord.at < at,
                    (InteractionRecord.at == at) & (InteractionRecord.id < row_id),
                )
            )
        query = query.order_by(InteractionRecord.at.desc(), InteractionRecord.id.desc())
        async with self.sessionmaker() as session:
            if await session.get(ContactRecord, contact_id) is None:
                return None
            rows = (await session.scalars(query.limit(limit))).all()
        return [
            {
                "id": row.id,
                "at": row.at.isoformat(),
                "channel": row.channel,
                "direction": row.direction,
                "reason": row.reason,
                "agent": row.agent,
                "summary": row.summary,
                "outcome": row.outcome,
                "ref": row.ref,
                "details": row.details or {},
            }
            for row in rows
        ]

    # --- reading ----------------------------------------------------------------------------

    async def by_phone(self, e164: str) -> list[Candidate]:
        """Contacts holding exactly this number."""
        return await self._candidates(_BY_NUMBER, {"kind": PHONE, "value": e164})

    async def by_phone_suffix(self, digits: str) -> list[Candidate]:
        """Contacts whose number ends in these digits."""
        return await self._candidates(_BY_SUFFIX, {"kind": PHONE, "suffix": digits})

    async def _candidates(
        self, query: Select[int, str, str], params: dict[str, Any]
    ) -> list[Candidate]:
        if self.fast is not None:
            (rows,) = await self.fast.fetch_all([(query, params)])
            return [Candidate(row[0], row[1], row[2]) for row in rows]
        async with self.engine.connect() as conn:
            found = (await conn.execute(query, params)).all()
        return [Candidate(row[0], row[1], row[2]) for row in found]

    async def get(self, contact_id: int) -> dict[str, Any] | None:
        """A contact with its identities, as the API shows it."""
        async with self.sessionmaker() as session:
            record = await session.get(ContactRecord, contact_id)
            if record is None:
                return None
            identities = await _identities(session, [contact_id])
        return contact_view(record, identities.get(contact_id, []))

    async def search(
        self,
        text: str,
        *,
        limit: int = 25,
        after: int | None = None,
        rules: PhoneRules = DEFAULT_RULES,
    ) -> list[dict[str, Any]]:
        """Contacts whose name starts with ``text``, or who hold it as a phone or email.

        Ordered by id; ``after`` is the last id of the previous page.
        """
        folded = text.strip().lower()
        query = select(ContactRecord).order_by(ContactRecord.id).limit(limit)
        if after is not None:
            query = query.where(ContactRecord.id > after)
        if folded:
            matches: list[ColumnElement[bool]] = [
                ContactRecord.search_name.startswith(folded, autoescape=True)
            ]
            holders = select(ContactIdentity.contact_id).where(ContactIdentity.value == folded)
            matches.append(ContactRecord.id.in_(holders))
            phone = _as_e164(folded, rules)
            if phone is not None:
                matches.append(
                    ContactRecord.id.in_(
                        select(ContactIdentity.contact_id).where(
                            ContactIdentity.kind == PHONE, ContactIdentity.value == phone
                        )
                    )
                )
            query = query.where(or_(*matches))
        async with self.sessionmaker() as session:
            records = list((await session.scalars(query)).all())
            identities = await _identities(session, [r.id for r in records])
        return [contact_view(r, identities.get(r.id, [])) for r in records]

    async def load(self, contact_id: int, *, depth: int = DOSSIER_DEPTH) -> LoadedContact | None:
        """Everything a dossier needs, newest first, in one short read."""
        params = {"contact_id": contact_id, "depth": depth, "notes": NOTES_DEPTH}
        found: list[Sequence[Any]]
        if self.fast is not None:
            found = list(await self.fast.fetch_all([(q, params) for q in _LOAD.values()]))
        else:
            async with self.engine.connect() as conn:
                found = [(await conn.execute(q, params)).all() for q in _LOAD.values()]
        parts = dict(zip(_LOAD, found, strict=True))
        if not parts["contact"]:
            return None
        contact = parts["contact"][0]
        identities = [(row[0], row[1]) for row in parts["identities"]]
        not_to_call = tuple(row[1] for row in parts["identities"] if row[0] == PHONE and row[2])
        orders, deliveries, tickets = parts["orders"], parts["deliveries"], parts["tickets"]
        purchases, interactions, notes = parts["purchases"], parts["interactions"], parts["notes"]
        facts = ContactFacts(
            contact_id=contact_id,
            display_name=contact.display_name,
            language=contact.language,
            lifetime_value_cents=contact.lifetime_value_cents,
            debt_cents=contact.debt_cents,
            orders=tuple(
                OrderFact(
                    o.number,
                    OrderStatus(o.status),
                    o.amount_cents,
                    o.placed_at,
                    o.ready_at,
                    o.due_at,
                )
                for o in orders
            ),
            deliveries=tuple(
                DeliveryFact(
                    DeliveryStatus(d.status), d.order_number, d.eta, d.delivered_at, d.address
                )
                for d in deliveries
            ),
            tickets=tuple(
                TicketFact(
                    t.number,
                    TicketKind(t.kind),
                    TicketStatus(t.status),
                    Severity(t.severity),
                    t.subject,
                    t.opened_at,
                    t.closed_at,
                )
                for t in tickets
            ),
            purchases=tuple(
                PurchaseFact(p.product, p.category, p.sku, p.purchased_at, p.amount_cents)
                for p in purchases
            ),
            interactions=tuple(
                InteractionFact(
                    i.at,
                    Channel(i.channel),
                    i.direction,
                    i.reason,
                    i.agent,
                    i.summary,
                    i.outcome,
                )
                for i in interactions
            ),
            notes=tuple(NoteFact(n.at, n.author, n.body) for n in notes),
            sources={"local": "ok"},
        )
        return LoadedContact(
            facts=facts,
            phones=tuple(v for k, v in identities if k == PHONE),
            emails=tuple(v for k, v in identities if k == EMAIL),
            external_id=next((v for k, v in identities if k == CRM), None),
            do_not_call=not_to_call,
        )

    async def count(self) -> int:
        """How many contacts there are."""
        async with self.sessionmaker() as session:
            return int(await session.scalar(select(func.count(ContactRecord.id))) or 0)


# --- inside a caller's transaction --------------------------------------------------------------


async def save_contact(
    session: AsyncSession,
    contact: ContactPatch,
    *,
    contact_id: int | None = None,
    source: str = "api",
) -> int:
    """Create or change one contact and the facts it carries, in the caller's transaction.

    A list given (phones, orders, ...) replaces what the contact had; one left out stays.
    """
    if contact_id is None:
        if contact.name is None:
            raise ValueError("a new contact needs a name")
        record = ContactRecord(display_name=contact.name, search_name=contact.name.lower())
        session.add(record)
    else:
        found = await session.get(ContactRecord, contact_id)
        if found is None:
            raise ContactNotFound(contact_id)
        record = found
    if contact.name is not None:
        record.display_name = contact.name
        record.search_name = contact.name.lower()
    if "language" in contact.model_fields_set or contact_id is None:
        record.language = contact.language
    if contact.lifetime_value_cents is not None:
        record.lifetime_value_cents = contact.lifetime_value_cents
    if contact.debt_cents is not None:
        record.debt_cents = contact.debt_cents
    await session.flush()
    cid = record.id
    if contact.phones is not None:
        await _replace_identities(session, cid, PHONE, contact.phones, source)
    if contact.emails is not None:
        await _replace_identities(session, cid, EMAIL, contact.emails, source)
    if contact.external_id is not None:
        await _replace_identities(session, cid, CRM, [contact.external_id], source)
    if contact.orders is not None:
        await session.execute(delete(OrderRecord).where(OrderRecord.contact_id == cid))
        await session.flush()
        numbers = [o.number for o in contact.orders]
        await session.execute(delete(OrderRecord).where(OrderRecord.number.in_(numbers)))
        session.add_all(OrderRecord(contact_id=cid, **o.model_dump()) for o in contact.orders)
    if contact.deliveries is not None:
        await session.execute(delete(DeliveryRecord).where(DeliveryRecord.contact_id == cid))
        session.add_all(
            DeliveryRecord(contact_id=cid, **d.model_dump()) for d in contact.deliveries
        )
    if contact.tickets is not None:
        await session.execute(delete(TicketRecord).where(TicketRecord.contact_id == cid))
        numbers = [t.number for t in contact.tickets]
        await session.execute(delete(TicketRecord).where(TicketRecord.number.in_(numbers)))
        session.add_all(TicketRecord(contact_id=cid, **t.model_dump()) for t in contact.tickets)
    if contact.purchases is not None:
        await session.execute(delete(PurchaseRecord).where(PurchaseRecord.contact_id == cid))
        session.add_all(PurchaseRecord(contact_id=cid, **p.model_dump()) for p in contact.purchases)
    await session.flush()
    return cid


def interaction_record(
    contact_id: int,
    interaction: InteractionFact,
    *,
    ref: str | None = None,
    details: dict[str, Any] | None = None,
) -> InteractionRecord:
    """The row of one timeline entry."""
    return InteractionRecord(
        contact_id=contact_id,
        at=interaction.at,
        channel=interaction.channel.value,
        direction=interaction.direction,
        reason=interaction.reason,
        agent=interaction.agent,
        summary=interaction.summary,
        outcome=interaction.outcome,
        ref=ref,
        details=details or {},
    )


async def find_existing(session: AsyncSession, contact: ContactIn) -> int | None:
    """The contact an import row is about: by CRM id, else by a number or email only one holds."""
    keys: list[tuple[str, list[str]]] = []
    if contact.external_id is not None:
        keys.append((CRM, [contact.external_id]))
    else:
        keys += [(PHONE, contact.phones or []), (EMAIL, contact.emails or [])]
    for kind, values in keys:
        if not values:
            continue
        holders = (
            await session.scalars(
                select(ContactIdentity.contact_id)
                .where(ContactIdentity.kind == kind, ContactIdentity.value.in_(values))
                .distinct()
            )
        ).all()
        if len(holders) == 1:
            return holders[0]
        if kind == CRM:
            return None
    return None


async def _replace_identities(
    session: AsyncSession, contact_id: int, kind: str, values: Sequence[str], source: str
) -> None:
    have = {
        value: identity_id
        for identity_id, value in (
            await session.execute(
                select(ContactIdentity.id, ContactIdentity.value).where(
                    ContactIdentity.contact_id == contact_id, ContactIdentity.kind == kind
                )
            )
        ).all()
    }
    gone = [identity_id for value, identity_id in have.items() if value not in values]
    if gone:
        await session.execute(delete(ContactIdentity).where(ContactIdentity.id.in_(gone)))
    for value in values:
        if value not in have:
            session.add(
                ContactIdentity(
                    contact_id=contact_id,
                    kind=kind,
                    value=value,
                    phone_suffix=suffix(value, SUFFIX_DIGITS) if kind == PHONE else None,
                    verified=False,
                    source=source,
                )
            )


async def _require(session: AsyncSession, contact_id: int) -> ContactRecord:
    record = await session.get(ContactRecord, contact_id)
    if record is None:
        raise ContactNotFound(contact_id)
    return record


async def _identities(
    session: AsyncSession, contact_ids: Sequence[int]
) -> dict[int, list[ContactIdentity]]:
    if not contact_ids:
        return {}
    found: dict[int, list[ContactIdentity]] = {}
    rows = await session.scalars(
        select(ContactIdentity)
        .where(ContactIdentity.contact_id.in_(contact_ids))
        .order_by(ContactIdentity.id)
    )
    for identity in rows.all():
        found.setdefault(identity.contact_id, []).append(identity)
    return found


def _newest(table: type[Base], when: Any, limit: str = "depth") -> AnySelect:
    facts: Table = table.__table__  # type: ignore[assignment]
    query = select(facts).where(facts.c.contact_id == bindparam("contact_id"))
    return query.order_by(when.desc()).limit(bindparam(limit))


_LOAD: dict[str, AnySelect] = {
    "contact": select(
        ContactRecord.display_name,
        ContactRecord.language,
        ContactRecord.lifetime_value_cents,
        ContactRecord.debt_cents,
    ).where(ContactRecord.id == bindparam("contact_id")),
    "identities": select(ContactIdentity.kind, ContactIdentity.value, ContactIdentity.do_not_call)
    .where(ContactIdentity.contact_id == bindparam("contact_id"))
    .order_by(ContactIdentity.id),
    "orders": _newest(OrderRecord, OrderRecord.placed_at),
    "deliveries": _newest(DeliveryRecord, DeliveryRecord.eta),
    "tickets": _newest(TicketRecord, TicketRecord.opened_at),
    "purchases": _newest(PurchaseRecord, PurchaseRecord.purchased_at),
    "interactions": _newest(InteractionRecord, InteractionRecord.at),
    "notes": _newest(NoteRecord, NoteRecord.at, "notes"),
}
"""What one dossier reads, as statements built once (and compiled once on SQLite)."""


def contact_view(record: ContactRecord, identities: Sequence[ContactIdentity]) -> dict[str, Any]:
    """A contact as the API shows it."""
    return {
        "id": record.id,
        "name": record.display_name,
        "language": record.language,
        "lifetime_value_cents": record.lifetime_value_cents,
        "debt_cents": record.debt_cents,
        "external_id": next((i.value for i in identities if i.kind == CRM), None),
        "phones": [i.value for i in identities if i.kind == PHONE],
        "do_not_call": [i.value for i in identities if i.kind == PHONE and i.do_not_call],
        "emails": [i.value for i in identities if i.kind == EMAIL],
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _as_e164(text: str, rules: PhoneRules) -> str | None:
    if not any(c.isdigit() for c in text):
        return None
    return normalize_phone(text, rules).e164
