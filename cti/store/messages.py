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

from sqlalchemy import select, tuple_

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
        results: dict[int, Received] = {}
        async with self.sessionmaker.begin() as session:
            keys = {(m.provider, m.provider_id) for m in batch}
            known = await session.execute(
                select(
                    MessageRecord.provider,
                    MessageRecord.provider_id,
                    MessageRecord.id,
                    MessageRecord.contact_id,
                    MessageRecord.created_at,
                ).where(tuple_(MessageRecord.provider, MessageRecord.provider_id).in_(keys))
            )
            stored = {
                (p, pid): Received(mid, cid, True, False, at) for p, pid, mid, cid, at in known
            }
            owners = await self._owners(session, batch)
            fresh: dict[tuple[str, str], tuple[int, Incoming, MessageRecord, bool]] = {}
            again: list[tuple[int, tuple[str, str]]] = []
            for index, incoming in enumerate(batch):
                key = (incoming.provider, incoming.provider_id)
                if key in stored:
                    results[index] = stored[key]
                    continue
                if key in fresh:
                    again.append((index, key))
                    continue
                sender = (PHONE if incoming.channel == "sms" else EMAIL, incoming.sender)
                contact_id = owners.get(sender)
                if contact_id is None:
                    contact_id = owners[sender] = await self._new_contact(session, incoming)
                    new_contact = True
                else:
                    new_contact = False
                record = _record(incoming, contact_id)
                session.add(record)
                fresh[key] = (index, incoming, record, new_contact)
            await session.flush()
            for index, incoming, record, new_contact in fresh.values():
                session.add(_entry(incoming, record))
                results[index] = Received(
                    record.id, record.contact_id, False, new_contact, record.created_at
                )
            for index, key in again:
                record = fresh[key][2]
                results[index] = Received(
                    record.id, record.contact_id, True, False, record.created_at
                )
        return [results[i] for i in range(len(batch))]

    async def _owners(self, session: Any, batch: list[Incoming]) -> dict[tuple[str, str], int]:
        """The contact of each sender: the oldest holder of the number or address."""
        wanted = {(PHONE if m.channel == "sms" else EMAIL, m.sender) for m in batch}
        rows = await session.execute(
            select(ContactIdentity.kind, ContactIdentity.value, ContactIdentity.contact_id)
            .where(tuple_(ContactIdentity.kind, ContactIdentity.value).in_(wanted))
            .order_by(ContactIdentity.contact_id)
        )
        owners: dict[tuple[str, str], int] = {}
        for kind, value, contact_id in rows:
            owners.setdefault((kind, value), contact_id)
        return owners

    async def _new_contact(self, session: Any, incoming: Incoming) -> int:
        """A sender nobody knew becomes a contact, named as well as the message allows."""
        kind = PHONE if incoming.channel == "sms" else EMAIL
        name = (incoming.sender_name or incoming.sender)[:255]
        contact = ContactRecord(display_name=name, search_name=name.lower())
        session.add(contact)
        await session.flush()
        session.add(
            ContactIdentity(
                contact_id=contact.id,
                kind=kind,
                value=incoming.sender,
                phone_suffix=suffix(incoming.sender) if kind == PHONE else None,
                source=incoming.channel,
            )
        )
        return contact.id

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _record(incoming: Incoming, contact_id: int) -> MessageRecord:
    return MessageRecord(
        contact_id=contact_id,
        channel=incoming.channel,
        direction="inbound",
        provider=incoming.provider,
        provider_id=incoming.provider_id,
        thread=incoming.thread,
        sender=incoming.sender,
        recipient=incoming.recipient,
        subject=incoming.subject,
        body=incoming.body,
        status="received",
        attempts=0,
        details=incoming.details or {},
        created_at=utcnow(),
    )


def _entry(incoming: Incoming, record: MessageRecord) -> InteractionRecord:
    return InteractionRecord(
        contact_id=record.contact_id,
        at=record.created_at,
        channel=incoming.channel,
        direction="inbound",
        summary=summary_of(incoming),
        ref=f"message:{record.id}",
        details={},
    )
