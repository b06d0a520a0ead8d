"""Messages on the timeline: inbound ones written in group commits, outbound ones tracked.

``receive`` returns once the message is committed (a webhook answers the provider only
then, so nothing acknowledged is ever lost), but many arriving together share one
transaction: the sender's contact for the whole batch is found in one query, contacts
for unknown senders are created, duplicates (the same provider id) are recognised, and
each new message gets its timeline entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cti.contacts.phone import suffix
from cti.store.contacts import EMAIL, PHONE
from cti.store.db import Sessionmaker
from cti.store.models import (
    ContactIdentity,
    ContactRecord,
    InteractionRecord,
    MessageRecord,
    utcnow,
)

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message from a customer, its sender already normalised (E.164 or an email)."""

    channel: str
    provider: str
    provider_id: str
    sender: str
    recipient: str
    body: str
    subject: str | None = None
    thread: str | None = None
    details: dict[str, Any] | None = None
    sender_name: str | None = None


@dataclass(frozen=True, slots=True)
class Received:
    message_id: int
    contact_id: int | None
    duplicate: bool = False
    new_contact: bool = False
    at: datetime | None = None


def summary_of(incoming: Incoming) -> str:
    """The timeline line of a message."""
    text = " ".join(incoming.body.split())
    if incoming.subject:
        text = f"{incoming.subject}: {text}" if text else incoming.subject
    if not text:
        media = (incoming.details or {}).get("media") or []
        text = f"({len(media)} attachment{'s' if len(media) != 1 else ''})" if media else "(empty)"
    return text[:500]


class MessageStore:
    """Inbound messages, committed in batches; one writer task."""

    def __init__(self, sessionmaker: Sessionmaker) -> None:
        self.sessionmaker = sessionmaker
        engine = sessionmaker.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise ValueError("the sessionmaker must be bound to an engine")
        self.engine = engine
        self.written = 0
        self._queue: list[tuple[Incoming, asyncio.Future[Received]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def receive(self, incoming: Incoming) -> Received:
        """Store one inbound message (or recognise it as a duplicate) and its timeline entry."""
        future: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._queue.append((incoming, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="message-writer")
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
                try:
                    results = await self._write([incoming for incoming, _ in batch])
                except Exception as exc:  # every sender of this batch hears of it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                self.written += len(batch)

    async def _write(self, batch: list[Incoming]) -> list[Received]:
        """One transaction for the batch: bulk statements, a handful of round trips."""
        results: dict[int, Received] = {}
        async with self.engine.begin() as session:
            stored = await self._stored(session, batch)
            owners = await self._owners(session, batch)
            fresh: dict[tuple[str, str], int] = {}
            again: list[tuple[int, tuple[str, str]]] = []
            strangers: dict[tuple[str, str], Incoming] = {}
            for index, incoming in enumerate(batch):
                key = (incoming.provider, incoming.provider_id)
                if key in stored:
                    results[index] = stored[key]
                elif key in fresh:
                    again.append((index, key))
                else:
                    fresh[key] = index
                    sender = _identity(incoming)
                    if sender not in owners:
                        strangers.setdefault(sender, incoming)
            created = await self._new_contacts(session, list(strangers.values()))
            owners.update(created)
            now = utcnow()
            rows = [
                _message_row(batch[i], owners[_identity(batch[i])], now) for i in fresh.values()
            ]
            ids = (
                (
                    await session.execute(
                        insert(MessageRecord).returning(
                            MessageRecord.id, sort_by_parameter_order=True
                        ),
                        rows,
                    )
                )
                .scalars()
                .all()
                if rows
                else []
            )
            entries = []
            for message_id, index, row in zip(ids, fresh.values(), rows, strict=True):
                incoming = batch[index]
                entries.append(_entry_row(incoming, message_id, row["contact_id"], now))
                new = _identity(incoming) in created and _first_of(strangers, incoming)
                results[index] = Received(message_id, row["contact_id"], False, new, now)
            if entries:
                await session.execute(insert(InteractionRecord), entries)
            for index, key in again:
                first = results[fresh[key]]
                results[index] = Received(first.message_id, first.contact_id, True, False, now)
        return [results[i] for i in range(len(batch))]

    async def _stored(
        self, conn: AsyncConnection, batch: list[Incoming]
    ) -> dict[tuple[str, str], Received]:
        """Messages of this batch already stored (a provider sending one again)."""
        stored: dict[tuple[str, str], Received] = {}
        for provider in {m.provider for m in batch}:
            ids = {m.provider_id for m in batch if m.provider == provider}
            rows = await conn.execute(
                select(
                    MessageRecord.provider_id,
                    MessageRecord.id,
                    MessageRecord.contact_id,
                    MessageRecord.created_at,
                ).where(MessageRecord.provider == provider, MessageRecord.provider_id.in_(ids))
            )
            for provider_id, mid, cid, at in rows:
                stored[(provider, str(provider_id))] = Received(mid, cid, True, False, at)
        return stored

    async def _owners(
        self, conn: AsyncConnection, batch: list[Incoming]
    ) -> dict[tuple[str, str], int]:
        """The contact of each sender: the oldest holder of the number or address."""
        owners: dict[tuple[str, str], int] = {}
        for kind in {_identity(m)[0] for m in batch}:
            values = {m.sender for m in batch if _identity(m)[0] == kind}
            rows = await conn.execute(
                select(ContactIdentity.value, ContactIdentity.contact_id)
                .where(ContactIdentity.kind == kind, ContactIdentity.value.in_(values))
                .order_by(ContactIdentity.contact_id)
            )
            for value, contact_id in rows:
                owners.setdefault((kind, value), contact_id)
        return owners

    async def _new_contacts(
        self, session: AsyncConnection, senders: list[Incoming]
    ) -> dict[tuple[str, str], int]:
        """Senders nobody knew become contacts, named as well as their message allows."""
        if not senders:
            return {}
        now = utcnow()
        names = [(m.sender_name or m.sender)[:255] for m in senders]
        ids = (
            (
                await session.execute(
                    insert(ContactRecord).returning(ContactRecord.id, sort_by_parameter_order=True),
                    [
                        {
                            "display_name": name,
                            "search_name": name.lower(),
                            "lifetime_value_cents": 0,
                            "debt_cents": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for name in names
                    ],
                )
            )
            .scalars()
            .all()
        )
        identities = []
        for contact_id, incoming in zip(ids, senders, strict=True):
            kind, value = _identity(incoming)
            identities.append(
                {
                    "contact_id": contact_id,
                    "kind": kind,
                    "value": value,
                    "phone_suffix": suffix(value) if kind == PHONE else None,
                    "verified": False,
                    "source": incoming.channel,
                    "created_at": now,
                }
            )
        await session.execute(insert(ContactIdentity), identities)
        return {_identity(m): cid for m, cid in zip(senders, ids, strict=True)}

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _identity(incoming: Incoming) -> tuple[str, str]:
    return (PHONE if incoming.channel == "sms" else EMAIL, incoming.sender)


def _first_of(strangers: dict[tuple[str, str], Incoming], incoming: Incoming) -> bool:
    """Whether ``incoming`` is the message that made its sender a contact."""
    return strangers.get(_identity(incoming)) is incoming


def _message_row(incoming: Incoming, contact_id: int, now: datetime) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "channel": incoming.channel,
        "direction": "inbound",
        "provider": incoming.provider,
        "provider_id": incoming.provider_id,
        "thread": incoming.thread,
        "sender": incoming.sender,
        "recipient": incoming.recipient,
        "subject": incoming.subject,
        "body": incoming.body,
        "status": "received",
        "attempts": 0,
        "details": incoming.details or {},
        "created_at": now,
    }


def _entry_row(
    incoming: Incoming, message_id: int, contact_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "at": now,
        "channel": incoming.channel,
        "direction": "inbound",
        "summary": summary_of(incoming),
        "ref": f"message:{message_id}",
        "details": {"thread": incoming.thread} if incoming.thread else {},
    }
