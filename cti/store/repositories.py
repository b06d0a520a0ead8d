"""Repositories: finished calls, users and the audit log, over async SQLAlchemy.

``CallRepository`` opens its own short transactions (it is used by the background
writer); ``UserRepository`` and ``AuditRepository`` work inside a session the caller
owns, so a change and its audit entry commit together.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cti.auth.exceptions import UserExists, UserNotFound
from cti.auth.model import Role, User
from cti.store.db import Sessionmaker
from cti.store.exceptions import InvalidCall
from cti.store.models import (
    AuditEntry,
    CallRecord,
    ContactRecord,
    InteractionRecord,
    UserRecord,
)
from cti.store.writer import CallStore, CallWriter

__all__ = [
    "AuditRepository",
    "CallRepository",
    "CallStore",
    "CallWriter",
    "UserRepository",
    "call_from_record",
    "call_to_row",
]

CALL_TIMES = ("started_at", "answered_at", "ended_at")
CALL_COLUMNS = (
    "direction",
    "caller_num",
    "caller_name",
    "queue",
    "agent",
    "agent_name",
    "outcome",
    "wait_seconds",
    "talk_seconds",
    "hangup_cause",
    "hangup_cause_txt",
    "reason",
    "contact_id",
)
_NUMBERS = {"wait_seconds", "talk_seconds"}
_INTEGERS = {"hangup_cause"}


def call_to_row(call: Mapping[str, Any]) -> dict[str, Any]:
    """Columns of the ``calls`` table for a ``Call.to_dict()``; unknown keys go to ``details``."""
    linkedid = call.get("linkedid")
    if not isinstance(linkedid, str) or not linkedid:
        raise InvalidCall("a call needs a non-empty string linkedid", linkedid=linkedid)
    row: dict[str, Any] = {"linkedid": linkedid}
    for name in CALL_TIMES:
        row[name] = _to_time(call.get(name), name, linkedid)
    if row["started_at"] is None:
        raise InvalidCall("a call needs started_at", linkedid=linkedid)
    for name in CALL_COLUMNS:
        row[name] = _to_column(name, call.get(name), linkedid)
    row["direction"] = row["direction"] or "inbound"
    details = {
        key: value
        for key, value in call.items()
        if key != "linkedid" and key not in CALL_TIMES and key not in CALL_COLUMNS
    }
    try:
        json.dumps(details, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidCall(f"call details are not JSON: {exc}", linkedid=linkedid) from exc
    row["details"] = details
    return row


def call_from_record(record: CallRecord) -> dict[str, Any]:
    """The stored call as the same JSON-ready mapping ``Call.to_dict()`` gives (epoch times)."""
    call: dict[str, Any] = {"linkedid": record.linkedid}
    for name in CALL_TIMES:
        value: datetime | None = getattr(record, name)
        call[name] = value.timestamp() if value is not None else None
    for name in CALL_COLUMNS:
        call[name] = getattr(record, name)
    call.update(record.details or {})
    return call


def call_summary(row: Mapping[str, Any]) -> str:
    """A finished call in one line for the customer's timeline."""
    outcome, queue = row.get("outcome"), row.get("queue")
    where = f" ({queue})" if queue else ""
    if outcome == "answered":
        who = row.get("agent_name") or row.get("agent") or "an agent"
        talk = row.get("talk_seconds")
        length = f", {_duration(talk)}" if isinstance(talk, int | float) else ""
        return f"Call answered by {who}{where}{length}"
    wait = row.get("wait_seconds")
    waited = f" after {_duration(wait)}" if isinstance(wait, int | float) else ""
    if outcome == "abandoned":
        return f"Hung up waiting{where}{waited}"
    if outcome == "ivr_hangup":
        return "Hung up in the IVR"
    if outcome == "self_served":
        return "Served by the IVR"
    return f"Call not answered{where}{waited}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


async def _on_timelines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Each call of a known contact on that contact's timeline, once (``call:LINKEDID``)."""
    owned = {
        row["linkedid"]: int(row["contact_id"])
        for row in rows
        if str(row.get("contact_id") or "").isdigit()
    }
    if not owned:
        return
    existing = set(
        await session.scalars(
            select(ContactRecord.id).where(ContactRecord.id.in_(set(owned.values())))
        )
    )
    refs = {f"call:{linkedid}" for linkedid in owned}
    done = set(
        await session.scalars(select(InteractionRecord.ref).where(InteractionRecord.ref.in_(refs)))
    )
    for row in rows:
        contact_id = owned.get(row["linkedid"])
        ref = f"call:{row['linkedid']}"
        if contact_id not in existing or ref in done:
            continue
        session.add(
            InteractionRecord(
                contact_id=contact_id,
                at=row["started_at"],
                channel="voice",
                direction=row.get("direction") or "inbound",
                reason=row.get("reason"),
                agent=row.get("agent_name") or row.get("agent"),
                summary=call_summary(row)[:500],
                outcome=row.get("outcome"),
                ref=ref,
                details={
                    "kind": "call",
                    "queue": row.get("queue"),
                    "wait_seconds": row.get("wait_seconds"),
                    "talk_seconds": row.get("talk_seconds"),
                    "ivr_path": (row.get("details") or {}).get("ivr_path"),
                },
            )
        )


class CallRepository:
    """Finished calls: idempotent upserts keyed by ``linkedid``, newest-first reads."""

    def __init__(self, sessionmaker: Sessionmaker) -> None:
        self.sessionmaker = sessionmaker

    async def save_many(self, calls: Sequence[Mapping[str, Any]], *, replace: bool = True) -> None:
        """Insert or update these calls in one transaction; a re-sent call replaces its row.

        Some copies never replace a stored row, only fill a missing one: every call when
        not ``replace`` (a journal replayed by another process: the row may have had a
        wrap-up since), and a call marked ``vanished`` (ended while no process saw it, so
        its end is a guess; a process that did see it end may have stored it already).
        """
        rows: dict[str, dict[str, Any]] = {}
        missing: dict[str, dict[str, Any]] = {}
        for call in calls:
            row = call_to_row(call)
            if replace and not row["details"].get("vanished"):
                rows[row["linkedid"]] = row
                missing.pop(row["linkedid"], None)
            elif row["linkedid"] not in rows:
                missing[row["linkedid"]] = row
        if not rows and not missing:
            return
        async with self.sessionmaker.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            if rows:
                stmt = insert(CallRecord)
                updated = {
                    name: stmt.excluded[name] for name in (*CALL_TIMES, *CALL_COLUMNS, "details")
                }
                stmt = stmt.on_conflict_do_update(index_elements=["linkedid"], set_=updated)
                await session.execute(stmt, list(rows.values()))
            if missing:
                keep = insert(CallRecord).on_conflict_do_nothing(index_elements=["linkedid"])
                await session.execute(keep, list(missing.values()))
            await _on_timelines(session, [*rows.values(), *missing.values()])

    async def get(self, linkedid: str) -> dict[str, Any] | None:
        """One call by its ``linkedid``."""
        async with self.sessionmaker() as session:
            record = await session.scalar(select(CallRecord).where(CallRecord.linkedid == linkedid))
            return call_from_record(record) if record is not None else None

    async def annotate(self, linkedid: str, key: str, value: Any) -> bool:
        """Add ``key`` to a stored call's record (its wrap-up); False if not stored yet."""
        async with self.sessionmaker.begin() as session:
            record = await session.scalar(select(CallRecord).where(CallRecord.linkedid == linkedid))
            if record is None:
                return False
            record.details = {**(record.details or {}), key: value}
            return True

    async def recent(self, limit: int, before: datetime | None = None) -> list[dict[str, Any]]:
        """Finished calls, newest end first; ``before`` pages back (ended strictly earlier)."""
        where: list[ColumnElement[bool]] = [CallRecord.ended_at.is_not(None)]
        if before is not None:
            where.append(CallRecord.ended_at < _aware(before))
        return await self._list(where, limit)

    async def for_caller(self, caller_num: str, limit: int) -> list[dict[str, Any]]:
        """The latest calls from one number, newest first."""
        return await self._list([CallRecord.caller_num == caller_num], limit)

    async def count(self) -> int:
        """How many calls are stored."""
        async with self.sessionmaker() as session:
            return int(await session.scalar(select(func.count(CallRecord.id))) or 0)

    async def _list(self, where: Sequence[ColumnElement[bool]], limit: int) -> list[dict[str, Any]]:
        query = (
            select(CallRecord)
            .where(*where)
            .order_by(CallRecord.ended_at.desc(), CallRecord.id.desc())
            .limit(max(limit, 0))
        )
        async with self.sessionmaker() as session:
            return [call_from_record(r) for r in (await session.scalars(query)).all()]


class UserRepository:
    """User accounts, inside the caller's session (the caller commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        username: str,
        display_name: str,
        password_hash: str,
        role: Role,
        agent_interface: str | None = None,
    ) -> User:
        """Add a user; raises ``UserExists`` if the username is taken."""
        if await self._record(username) is not None:
            raise UserExists(username)
        record = UserRecord(
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            role=role,
            agent_interface=agent_interface,
            active=True,
        )
        self.session.add(record)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise UserExists(username) from exc
        return _user(record)

    async def get(self, user_id: int) -> User | None:
        """A user by id."""
        record = await self.session.get(UserRecord, user_id)
        return _user(record) if record is not None else None

    async def get_by_username(self, username: str) -> User | None:
        """A user by (normalised) username."""
        record = await self._record(username)
        return _user(record) if record is not None else None

    async def get_credentials(self, username: str) -> tuple[User, str] | None:
        """A user and their password hash, for logging in."""
        record = await self._record(username)
        return (_user(record), record.password_hash) if record is not None else None

    async def list(self) -> list[User]:
        """Every user, active or not, by username."""
        records = await self.session.scalars(select(UserRecord).order_by(UserRecord.username))
        return [_user(r) for r in records.all()]

    async def set_password(self, username: str, password_hash: str) -> None:
        """Replace a user's password hash."""
        record = await self._require(username)
        record.password_hash = password_hash
        await self.session.flush()

    async def deactivate(self, username: str) -> None:
        """Stop a user from logging in or using existing tokens; the row stays for history."""
        record = await self._require(username)
        record.active = False
        await self.session.flush()

    async def _record(self, username: str) -> UserRecord | None:
        return await self.session.scalar(select(UserRecord).where(UserRecord.username == username))

    async def _require(self, username: str) -> UserRecord:
        record = await self._record(username)
        if record is None:
            raise UserNotFound(username)
        return record


class AuditRepository:
    """The append-only audit log, inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry; it commits with the caller's transaction."""
        self.session.add(
            AuditEntry(actor=actor, action=action, target=target, details=dict(details or {}))
        )
        await self.session.flush()

    async def page(
        self,
        *,
        limit: int = 100,
        before_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
    ) -> list[dict[str, Any]]:
        """Entries newest first, filtered (``action`` matches a prefix), before an id."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        if action:
            query = query.where(AuditEntry.action.startswith(action, autoescape=True))
        if target:
            query = query.where(AuditEntry.target == target)
        entries = await self.session.scalars(query)
        return [
            {
                "id": e.id,
                "at": _aware(e.at).isoformat(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "details": e.details,
            }
            for e in entries.all()
        ]

    async def latest(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest entries first."""
        return await self.page(limit=limit)


async def audit(
    sessionmaker: Sessionmaker,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    before: Any = None,
    after: Any = None,
    **details: Any,
) -> None:
    """Record one supervisor or admin action on its own: who, what, and what it was
    before and after."""
    async with sessionmaker.begin() as session:
        await AuditRepository(session).record(
            actor=actor,
            action=action,
            target=target,
            details={"before": before, "after": after, **details},
        )


def _user(record: UserRecord) -> User:
    return User(
        id=record.id,
        username=record.username,
        display_name=record.display_name,
        role=Role(record.role),
        agent_interface=record.agent_interface,
        active=record.active,
        created_at=record.created_at,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _to_time(value: Any, name: str, linkedid: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidCall(f"{name} is out of range", linkedid=linkedid) from exc
    raise InvalidCall(f"{name} must be epoch seconds or a datetime", linkedid=linkedid)


def _to_column(name: str, value: Any, linkedid: str) -> Any:
    if value is None:
        return None
    if name in _NUMBERS:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise InvalidCall(f"{name} must be a number", linkedid=linkedid)
    if name in _INTEGERS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise InvalidCall(f"{name} must be an integer", linkedid=linkedid)
    return str(value)
