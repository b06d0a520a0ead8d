"""Owed call-backs, outbound attempts and do-not-call numbers in the database.

A call-back is a promise: once stored it stays owed until an attempt reaches the
customer, a person gives it up, or the retry limit does. Every state change is a
conditional ``UPDATE`` (``WHERE state = ...``), so two processes or two people cannot
both take or dial the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from cti.store.db import Sessionmaker
from cti.store.models import (
    CallbackRecord,
    ContactIdentity,
    ContactRecord,
    OutboundAttempt,
    utcnow,
)

OPEN = ("owed", "dialing")
STATES = ("owed", "dialing", "done", "given_up")
SOURCES = ("virtual_hold", "abandoned")


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, slots=True)
class NewCallback:
    """A call-back to owe."""

    number: str
    queue: str
    place: float
    """Epoch seconds the caller joined the queue."""
    source: str
    contact_id: int | None = None
    source_call: str | None = None
    wait_seconds: float | None = None


class CallbackRepository:
    """Call-backs and outbound attempts."""

    def __init__(self, sessionmaker: Sessionmaker) -> None:
        self.sessionmaker = sessionmaker

    # -- call-backs ------------------------------------------------------------------

    async def owe(self, new: NewCallback) -> int | None:
        """Store a new owed call-back; None if its call already has one."""
        record = CallbackRecord(
            number=new.number,
            contact_id=new.contact_id,
            queue=new.queue,
            place_at=_at(new.place),
            source=new.source,
            source_call=new.source_call,
            state="owed",
            attempts=0,
            wait_seconds=new.wait_seconds,
            note="",
        )
        try:
            async with self.sessionmaker.begin() as session:
                session.add(record)
                await session.flush()
                return int(record.id)
        except IntegrityError:
            return None

    async def get(self, callback_id: int) -> dict[str, Any] | None:
        """One call-back with its attempts, newest first."""
        async with self.sessionmaker() as session:
            record = await session.get(CallbackRecord, callback_id)
            if record is None:
                return None
            name = await _name(session, record.contact_id)
            attempts = (
                await session.scalars(
                    select(OutboundAttempt)
                    .where(OutboundAttempt.callback_id == callback_id)
                    .order_by(OutboundAttempt.id.desc())
                )
            ).all()
        return {**_view(record, name), "history": [attempt_view(a) for a in attempts]}

    async def page(
        self,
        *,
        states: Sequence[str] = OPEN,
        source: str | None = None,
        queue: str | None = None,
        limit: int = 100,
        after: int | None = None,
    ) -> list[dict[str, Any]]:
        """Call-backs in the given states, in place order (oldest place first), ``limit``
        at a time; ``after`` is the last id of the previous page."""
        query = select(CallbackRecord, ContactRecord.display_name).outerjoin(
            ContactRecord, ContactRecord.id == CallbackRecord.contact_id
        )
        query = query.where(CallbackRecord.state.in_(states))
        if source is not None:
            query = query.where(CallbackRecord.source == source)
        if queue is not None:
            query = query.where(CallbackRecord.queue == queue)
        if after is not None:
            async with self.sessionmaker() as session:
                last = await session.get(CallbackRecord, after)
            if last is not None:
                query = query.where(
                    (CallbackRecord.place_at > last.place_at)
                    | ((CallbackRecord.place_at == last.place_at) & (CallbackRecord.id > after))
                )
        query = query.order_by(CallbackRecord.place_at, CallbackRecord.id).limit(limit)
        async with self.sessionmaker() as session:
            rows = (await session.execute(query)).all()
        return [_view(record, name) for record, name in rows]

    async def owed_for_scheduler(self, stale_before: float) -> list[CallbackRecord]:
        """Virtual-hold call-backs the scheduler serves: owed ones, and those left
        ``dialing`` before ``stale_before`` by a process that died (owed again)."""
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(CallbackRecord)
                .where(
                    CallbackRecord.state == "dialing",
                    CallbackRecord.source == "virtual_hold",
                    CallbackRecord.updated_at < _at(stale_before),
                )
                .values(state="owed", taken_by=None, updated_at=utcnow())
            )
            rows = await session.scalars(
                select(CallbackRecord).where(
                    CallbackRecord.state == "owed",
                    CallbackRecord.source == "virtual_hold",
                    CallbackRecord.taken_by.is_(None),  # a person took it: theirs to dial
                )
            )
            return list(rows.all())

    async def move(self, callback_id: int, *, expect: Sequence[str], **values: Any) -> bool:
        """Change a call-back only if it is in one of the ``expect`` states now."""
        async with self.sessionmaker.begin() as session:
            result = await session.execute(
                update(CallbackRecord)
                .where(CallbackRecord.id == callback_id, CallbackRecord.state.in_(expect))
                .values(**values, updated_at=utcnow())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def of_call(self, source_call: str) -> int | None:
        """The call-back a call already has, if any."""
        async with self.sessionmaker() as session:
            found = await session.scalar(
                select(CallbackRecord.id).where(CallbackRecord.source_call == source_call)
            )
        return int(found) if found is not None else None

    async def open_for(self, number: str) -> list[int]:
        """A number's call-backs still owed (closed when the caller got through)."""
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(CallbackRecord.id).where(
                    CallbackRecord.number == number, CallbackRecord.state == "owed"
                )
            )
            return list(rows.all())

    async def take(self, callback_id: int, username: str) -> bool:
        """Put an owed call-back on ``username``'s name, unless someone else has it."""
        async with self.sessionmaker.begin() as session:
            result = await session.execute(
                update(CallbackRecord)
                .where(
                    CallbackRecord.id == callback_id,
                    CallbackRecord.state == "owed",
                    CallbackRecord.taken_by.is_(None) | (CallbackRecord.taken_by == username),
                )
                .values(taken_by=username, updated_at=utcnow())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- attempts --------------------------------------------------------------------

    async def start_attempt(
        self,
        *,
        kind: str,
        requested_by: str,
        agent: str,
        number: str,
        contact_id: int | None,
        callback_id: int | None = None,
    ) -> int:
        """Record an attempt about to be originated; its linkedid is ``cti-out-<id>``."""
        async with self.sessionmaker.begin() as session:
            attempt = OutboundAttempt(
                kind=kind,
                callback_id=callback_id,
                requested_by=requested_by,
                agent=agent,
                number=number,
                contact_id=contact_id,
                detail="",
            )
            session.add(attempt)
            await session.flush()
            attempt.linkedid = f"cti-out-{attempt.id}"
            return int(attempt.id)

    async def finish_attempt(self, attempt_id: int, result: str, detail: str = "") -> bool:
        """Record an attempt's result once; False if it already had one."""
        async with self.sessionmaker.begin() as session:
            done = await session.execute(
                update(OutboundAttempt)
                .where(OutboundAttempt.id == attempt_id, OutboundAttempt.result.is_(None))
                .values(result=result, detail=detail[:255], ended_at=utcnow())
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    async def attempt(self, attempt_id: int) -> dict[str, Any] | None:
        async with self.sessionmaker() as session:
            row = await session.get(OutboundAttempt, attempt_id)
        return attempt_view(row) if row is not None else None

    async def attempts_since(self, number: str, since: float) -> int:
        """Attempts to ``number`` since ``since`` (the daily limit), agent-side failures
        not counted: the customer's phone never rang."""
        async with self.sessionmaker() as session:
            found = await session.scalar(
                select(func.count(OutboundAttempt.id)).where(
                    OutboundAttempt.number == number,
                    OutboundAttempt.started_at >= _at(since),
                    (OutboundAttempt.result.is_(None))
                    | OutboundAttempt.result.not_in(
                        ("agent_noanswer", "agent_busy", "agent_unavailable", "refused")
                    ),
                )
            )
        return int(found or 0)

    async def unfinished_attempts(self) -> list[dict[str, Any]]:
        """Attempts with no result yet (to settle after a restart)."""
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(OutboundAttempt).where(OutboundAttempt.result.is_(None))
            )
            return [attempt_view(a) for a in rows.all()]

    # -- do not call -----------------------------------------------------------------

    async def do_not_call(self, number: str) -> bool:
        """Whether any contact asked not to be called on ``number``."""
        async with self.sessionmaker() as session:
            found = await session.scalar(
                select(ContactIdentity.id)
                .where(
                    ContactIdentity.kind == "phone",
                    ContactIdentity.value == number,
                    ContactIdentity.do_not_call.is_(True),
                )
                .limit(1)
            )
        return found is not None

    async def set_do_not_call(self, contact_id: int, number: str, value: bool) -> bool:
        """Mark (or unmark) one of a contact's numbers; False: the contact has no such."""
        async with self.sessionmaker.begin() as session:
            result = await session.execute(
                update(ContactIdentity)
                .where(
                    ContactIdentity.contact_id == contact_id,
                    ContactIdentity.kind == "phone",
                    ContactIdentity.value == number,
                )
                .values(do_not_call=value)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


async def _name(session: Any, contact_id: int | None) -> str | None:
    if contact_id is None:
        return None
    contact = await session.get(ContactRecord, contact_id)
    return contact.display_name if contact is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _view(record: CallbackRecord, name: str | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "number": record.number,
        "contact_id": record.contact_id,
        "contact_name": name,
        "queue": record.queue,
        "place_at": _iso(record.place_at),
        "source": record.source,
        "source_call": record.source_call,
        "state": record.state,
        "attempts": record.attempts,
        "next_attempt_at": _iso(record.next_attempt_at),
        "taken_by": record.taken_by,
        "last_result": record.last_result,
        "wait_seconds": record.wait_seconds,
        "closed_by": record.closed_by,
        "note": record.note,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
    }


def attempt_view(attempt: OutboundAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "kind": attempt.kind,
        "callback_id": attempt.callback_id,
        "requested_by": attempt.requested_by,
        "agent": attempt.agent,
        "number": attempt.number,
        "contact_id": attempt.contact_id,
        "linkedid": attempt.linkedid,
        "started_at": _iso(attempt.started_at),
        "ended_at": _iso(attempt.ended_at),
        "result": attempt.result,
        "detail": attempt.detail,
    }
