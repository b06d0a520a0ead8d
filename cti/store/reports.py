"""Reports in SQL: 15-minute roll-ups kept fresh from calls, messages and surveys, and reads.

Why roll-ups: a day of a million calls grouped straight from ``calls`` takes seconds
per section on SQLite (its ``GROUP BY`` sorts every row), so each source row is summed
once into ``report_calls``, ``report_agents``, ``report_messages`` and ``report_csat``,
per 15-minute slot of its start time, and a report sums a few thousand of those.

How they stay right: database triggers (migration 0008) mark a slot stale in
``report_stale_slots`` whenever a row in it is written, updated or deleted, in the
writer's own transaction. ``ReportStore.refresh`` recomputes stale slots from the
source rows, an hour at a time, each in one transaction that also takes the marks
away; a report refreshes the stale slots of its range first, and ``run`` does the same
for all of them in the background. Recomputing, not adding deltas, keeps every figure
exact (a re-sent call, a late wrap-up, a deleted message).

Every statement runs under a time limit: ``SET LOCAL statement_timeout`` on
PostgreSQL, a progress handler that interrupts the query on SQLite. A report that hits
it raises ``ReportTimeout``; a refresh keeps the hours it finished.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, func, or_, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from cti.reports import sections
from cti.reports.exceptions import InvalidReportRequest, ReportTimeout
from cti.reports.figures import (
    AGENT_CALL_COLUMNS,
    MAX_WRAPUP_SECONDS,
    OUTCOMES,
    SERVICE_LEVELS,
    SUMMED_CALL_COLUMNS,
    WITHIN_COLUMNS,
    AgentTally,
    CallTally,
)
from cti.reports.period import SLOT_SECONDS, ReportRange, slot_start
from cti.store.db import Sessionmaker
from cti.store.models import (
    CallRecord,
    ReportAgentSlot,
    ReportCallSlot,
    ReportCsatSlot,
    ReportMessageSlot,
    ReportStaleSlot,
    UserRecord,
    UtcDateTime,
)

log = logging.getLogger(__name__)

CHUNK_SLOTS = 4
"""Slots recomputed per transaction: an hour, short enough not to hold up the call writer."""
DEFAULT_TIMEOUT = 10.0
SQLITE_CHECK_EVERY = 10_000
"""SQLite virtual-machine steps between two looks at the clock."""
PG_QUERY_CANCELED = "57014"
CallGroup = Literal["queue", "reason", "slot", "direction"]


# --- time limits ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def time_limit(session: AsyncSession, seconds: float) -> AsyncIterator[None]:
    """Stop any statement of ``session`` that runs past ``seconds``; ``ReportTimeout`` then.

    PostgreSQL: ``SET LOCAL statement_timeout`` (the session must be in a transaction,
    which every ``execute`` begins). SQLite: a progress handler on the driver connection,
    removed again on the way out.
    """
    if seconds <= 0:
        raise _timeout()
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
        )
        try:
            yield
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == PG_QUERY_CANCELED:
                raise _timeout() from exc
            raise
        return
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    deadline = time.monotonic() + seconds
    await driver.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_CHECK_EVERY)
    try:
        yield
    except DBAPIError as exc:
        if "interrupted" in str(exc.orig):
            raise _timeout() from exc
        raise
    finally:
        await driver.set_progress_handler(None, 0)


def _timeout() -> ReportTimeout:
    return ReportTimeout(
        "The report took longer than allowed (CTI_REPORTS_TIMEOUT) and was stopped; ask for "
        "a shorter range, or again in a minute (what was rolled up so far is kept)."
    )


def _remaining(deadline: float | None, cap: float) -> float:
    return cap if deadline is None else min(cap, deadline - time.monotonic())


# --- roll-up statements -----------------------------------------------------------------------


def _slot(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"floor(date_part('epoch', {column}) / {SLOT_SECONDS})::bigint"
    return f"CAST(strftime('%s', {column}) AS INTEGER) / {SLOT_SECONDS}"


def _fence(dialect: str) -> str:
    """Keeps a subquery from being merged into the query around it, so what it computes
    per row (a wrap-up time parsed from JSON) is computed once, not once per use."""
    return "OFFSET 0" if dialect == "postgresql" else "LIMIT -1"


def _wrapup_at(dialect: str) -> str:
    """The wrap-up's save time as stored in the call's ``details`` (text, or NULL)."""
    if dialect == "postgresql":
        return "details->'wrapup'->>'at'"
    return "json_extract(details, '$.wrapup.at')"


def _wrapup(dialect: str, at: str) -> str:
    """Seconds from the call's end to ``at`` if it reads as an ISO time (NULL otherwise, as
    ``cti.reports.figures.wrapup_seconds``); clamped by ``_kept``."""
    if dialect == "postgresql":
        return (
            f"date_part('epoch', CASE WHEN {at} ~ '^\\d{{4}}-\\d\\d-\\d\\d[T ]\\d\\d:\\d\\d' "
            f"THEN ({at})::timestamptz END - ended_at)"
        )
    digits = "[0-9][0-9]"
    pattern = f"{digits}{digits}-{digits}-{digits}[T ]{digits}:{digits}*"
    return (
        f"CASE WHEN {at} GLOB '{pattern}' "
        f"THEN (julianday({at}) - julianday(ended_at)) * 86400.0 END"
    )


def _kept(dialect: str, raw: str, otherwise: str = "NULL") -> str:
    """A raw wrap-up time as counted: 0 if saved during the call, ``otherwise`` if none or
    later than ``MAX_WRAPUP_SECONDS`` (``cti.reports.figures.wrapup_seconds``)."""
    greatest = "greatest" if dialect == "postgresql" else "max"
    return (
        f"CASE WHEN {raw} <= {MAX_WRAPUP_SECONDS} THEN {greatest}({raw}, 0.0) ELSE {otherwise} END"
    )


def _missed_rings(dialect: str, slot: str) -> str:
    """One row per ring an agent let ring out (``noanswer``), with its slot and interface."""
    if dialect == "postgresql":
        rings = "details->'rings'"
        return (
            f"SELECT {slot} AS slot, r->>'interface' AS agent, 0, 0, 0.0, 0, 0.0, 0, 1 "
            f"FROM calls CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN "
            f"jsonb_typeof({rings}) = 'array' THEN {rings} ELSE '[]'::jsonb END) AS r "
            f"WHERE started_at >= :lo AND started_at < :hi "
            f'AND details @> \'{{"rings": [{{"outcome": "noanswer"}}]}}\' '
            f"AND r->>'outcome' = 'noanswer' AND r->>'interface' IS NOT NULL"
        )
    value = "CASE WHEN r.type = 'object' THEN json_extract(r.value, '$.{}') END"
    return (
        f"SELECT {slot} AS slot, {value.format('interface')} AS agent, 0, 0, 0.0, 0, 0.0, 0, 1 "
        f"FROM calls, json_each(calls.details, '$.rings') AS r "
        f"WHERE started_at >= :lo AND started_at < :hi "
        f"AND instr(calls.details, '\"noanswer\"') > 0 "
        f"AND {value.format('outcome')} = 'noanswer' AND {value.format('interface')} IS NOT NULL"
    )


def _count(condition: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _call_statements(dialect: str, *, detailed: bool) -> list[str]:
    """Recompute ``report_calls`` and ``report_agents`` for the slots in ``[lo, hi)``.

    ``detailed=False`` leaves out what comes from ``details`` (wrap-up times, missed rings):
    the fallback when a stored call's details cannot be read.
    """
    slot = _slot(dialect, "started_at")
    at = _wrapup_at(dialect) if detailed else "CAST(NULL AS TEXT)"
    fence = _fence(dialect)
    answered = "outcome = 'answered'"
    sums = [
        "count(*)",
        *(_count(f"outcome = '{outcome}'") for outcome in OUTCOMES),
        f"coalesce(sum(CASE WHEN {answered} THEN wait_seconds END), 0.0)",
        f"count(CASE WHEN {answered} THEN wait_seconds END)",
        "coalesce(sum(CASE WHEN outcome = 'abandoned' THEN wait_seconds END), 0.0)",
        "count(CASE WHEN outcome = 'abandoned' THEN wait_seconds END)",
        "max(wait_seconds)",
        f"coalesce(sum(CASE WHEN {answered} THEN talk_seconds END), 0.0)",
        f"count(CASE WHEN {answered} THEN talk_seconds END)",
        f"coalesce(sum({_kept(dialect, 'w')}), 0.0)",
        _count(f"w <= {MAX_WRAPUP_SECONDS}"),
        *(_count(f"{answered} AND coalesce(wait_seconds, 0) <= {n}") for n in SERVICE_LEVELS),
    ]
    columns = [
        "offered",
        *OUTCOMES,
        "answered_wait_sum",
        "answered_wait_n",
        "abandoned_wait_sum",
        "abandoned_wait_n",
        "wait_max",
        "talk_sum",
        "talk_n",
        "wrapup_sum",
        "wrapup_n",
        *WITHIN_COLUMNS,
    ]
    assert set(columns) == {*SUMMED_CALL_COLUMNS, "wait_max", *WITHIN_COLUMNS}
    in_range = "started_at >= :lo AND started_at < :hi"
    calls = (
        f"INSERT INTO report_calls (slot, queue, reason, direction, {', '.join(columns)}) "
        f"SELECT slot, queue, reason, direction, {', '.join(sums)} FROM ("
        f"SELECT slot, queue, reason, direction, outcome, wait_seconds, talk_seconds, "
        f"{_wrapup(dialect, 'wat')} AS w FROM ("
        f"SELECT {slot} AS slot, coalesce(queue, '') AS queue, coalesce(reason, '') AS reason, "
        f"coalesce(direction, 'inbound') AS direction, outcome, wait_seconds, talk_seconds, "
        f"ended_at, CASE WHEN {answered} THEN {at} END AS wat "
        f"FROM calls WHERE {in_range} {fence}) AS c0 {fence}) AS c "
        f"GROUP BY slot, queue, reason, direction"
    )
    handled = (
        f"SELECT slot, agent, 1 AS answered, "
        f"CASE WHEN direction = 'outbound' THEN 1 ELSE 0 END AS outbound, "
        f"coalesce(talk_seconds, 0.0) AS talk_sum, "
        f"CASE WHEN talk_seconds IS NULL THEN 0 ELSE 1 END AS talk_n, "
        f"{_kept(dialect, 'w', '0.0')} AS wrapup_sum, "
        f"CASE WHEN w <= {MAX_WRAPUP_SECONDS} THEN 1 ELSE 0 END AS wrapup_n, "
        f"0 AS missed FROM ("
        f"SELECT slot, agent, direction, talk_seconds, {_wrapup(dialect, 'wat')} AS w FROM ("
        f"SELECT {slot} AS slot, agent, direction, talk_seconds, ended_at, {at} AS wat "
        f"FROM calls WHERE {in_range} AND {answered} AND agent IS NOT NULL {fence}) AS h0 "
        f"{fence}) AS h"
    )
    parts = [handled, _missed_rings(dialect, slot)] if detailed else [handled]
    agent_sums = ", ".join(f"sum({name})" for name in AGENT_CALL_COLUMNS)
    agents = (
        f"INSERT INTO report_agents (slot, agent, {', '.join(AGENT_CALL_COLUMNS)}) "
        f"SELECT slot, agent, {agent_sums} FROM ({' UNION ALL '.join(parts)}) AS a "
        f"GROUP BY slot, agent"
    )
    return [
        "DELETE FROM report_calls WHERE slot >= :first AND slot < :end",
        "DELETE FROM report_agents WHERE slot >= :first AND slot < :end",
        calls,
        agents,
    ]


def _message_statements(dialect: str) -> list[str]:
    slot = _slot(dialect, "created_at")
    return [
        "DELETE FROM report_messages WHERE slot >= :first AND slot < :end",
        "INSERT INTO report_messages (slot, channel, direction, agent, messages) "
        "SELECT slot, channel, direction, agent, count(*) FROM ("
        f"SELECT {slot} AS slot, channel, direction, coalesce(CASE WHEN direction = 'inbound' "
        "THEN assigned_to ELSE agent END, '') AS agent FROM messages "
        "WHERE created_at >= :lo AND created_at < :hi) AS m "
        "GROUP BY slot, channel, direction, agent",
    ]


def _csat_statements(dialect: str) -> list[str]:
    slot = _slot(dialect, "sent_at")
    return [
        "DELETE FROM report_csat WHERE slot >= :first AND slot < :end",
        "INSERT INTO report_csat (slot, agent, score, surveys) "
        "SELECT slot, agent, score, count(*) FROM ("
        f"SELECT {slot} AS slot, agent, coalesce(score, 0) AS score FROM csat_surveys "
        "WHERE sent_at >= :lo AND sent_at < :hi) AS s GROUP BY slot, agent, score",
    ]


def _statements(dialect: str, source: str, *, detailed: bool = True) -> list[TextClause]:
    if source == "calls":
        sql = _call_statements(dialect, detailed=detailed)
    elif source == "messages":
        sql = _message_statements(dialect)
    elif source == "csat":
        sql = _csat_statements(dialect)
    else:
        raise ValueError(f"no roll-up of {source!r}")
    times = (bindparam("lo", type_=UtcDateTime()), bindparam("hi", type_=UtcDateTime()))
    return [
        text(statement).bindparams(*(p for p in times if f":{p.key}" in statement))
        for statement in sql
    ]


def stale_runs(stale: Sequence[tuple[str, int]], longest: int) -> list[tuple[str, int, int]]:
    """Stale ``(source, slot)`` marks as runs of consecutive slots ``(source, first, end)``,
    none longer than ``longest`` slots, oldest first within each source."""
    runs: list[tuple[str, int, int]] = []
    for source, slot in sorted(stale):
        if runs and runs[-1][0] == source and runs[-1][2] == slot and slot - runs[-1][1] < longest:
            runs[-1] = (source, runs[-1][1], slot + 1)
        else:
            runs.append((source, slot, slot + 1))
    return runs


# --- reads ------------------------------------------------------------------------------------


def _call_sums() -> list[Any]:
    return [
        *(func.sum(getattr(ReportCallSlot, name)).label(name) for name in SUMMED_CALL_COLUMNS),
        *(func.sum(getattr(ReportCallSlot, name)).label(name) for name in WITHIN_COLUMNS),
        func.max(ReportCallSlot.wait_max).label("wait_max"),
    ]


def _in(period: ReportRange, slot: Any) -> ColumnElement[bool]:
    return and_(slot >= period.first_slot, slot < period.end_slot)


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What a drill-down list keeps; ``""`` means "calls without one" for queue and reason."""

    queue: str | None = None
    reason: str | None = None
    outcome: str | None = None
    agent: str | None = None
    direction: str | None = None


LIST_FIELDS = (
    "linkedid",
    "direction",
    "caller_num",
    "queue",
    "reason",
    "agent",
    "agent_name",
    "outcome",
    "wait_seconds",
    "talk_seconds",
)


def encode_cursor(started_at: datetime, call_id: int) -> str:
    """An opaque bookmark after one call of a drill-down list."""
    raw = f"{started_at.isoformat()}|{call_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The call a bookmark points after; ``InvalidReportRequest`` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, call_id = raw.split("|")
        moment = datetime.fromisoformat(when)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(call_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidReportRequest("'cursor' is not one this server gave out.") from exc


class ReportStore:
    """Roll-ups and report reads over async SQLAlchemy, every statement time-limited."""

    def __init__(
        self,
        sessionmaker: Sessionmaker,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        chunk_slots: int = CHUNK_SLOTS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.timeout = timeout
        self.chunk_slots = chunk_slots

    def deadline(self) -> float:
        """When a report started now must be done (``time.monotonic`` seconds)."""
        return time.monotonic() + self.timeout

    # -- keeping the roll-ups fresh --------------------------------------------------------

    async def stale(self, period: ReportRange | None = None) -> list[tuple[str, int]]:
        """Slots marked stale, in ``period`` or anywhere."""
        query = select(ReportStaleSlot.source, ReportStaleSlot.slot)
        if period is not None:
            query = query.where(_in(period, ReportStaleSlot.slot))
        async with self.sessionmaker() as session:
            return [(row.source, int(row.slot)) for row in await session.execute(query)]

    async def refresh(
        self, period: ReportRange | None = None, deadline: float | None = None
    ) -> int:
        """Recompute the slots stale when called (in ``period``, or all); how many were.

        Marks added meanwhile are left for the next refresh. Raises ``ReportTimeout`` at
        ``deadline``; the hours finished by then stay done.
        """
        done = 0
        for source, first, end in stale_runs(await self.stale(period), self.chunk_slots):
            done += await self._recompute(source, first, end, deadline)
        return done

    async def run(self, interval: float) -> None:
        """Refresh every stale slot every ``interval`` seconds, until cancelled."""
        while True:
            started = time.monotonic()
            try:
                done = await self.refresh()
            except Exception as exc:  # a background loop must outlive one bad round
                log.error(
                    "report roll-up failed, retrying in %.0f s: %s: %s",
                    interval,
                    type(exc).__name__,
                    exc,
                    exc_info=not isinstance(exc, ReportTimeout | DBAPIError | OSError),
                )
            else:
                if done:
                    log.info(
                        "rolled up %d report slots in %.2f s", done, time.monotonic() - started
                    )
            await asyncio.sleep(interval)

    async def _recompute(self, source: str, first: int, end: int, deadline: float | None) -> int:
        try:
            return await self._recompute_once(source, first, end, deadline, detailed=True)
        except ReportTimeout:
            raise
        except DBAPIError as exc:
            if source != "calls":
                raise
            log.error(
                "cannot read wrap-ups or rings of the calls of %s to %s (%s); "
                "their after-call work and missed rings are left out of reports",
                slot_start(first).isoformat(),
                slot_start(end).isoformat(),
                getattr(exc, "orig", exc),
            )
            return await self._recompute_once(source, first, end, deadline, detailed=False)

    async def _recompute_once(
        self, source: str, first: int, end: int, deadline: float | None, *, detailed: bool
    ) -> int:
        claim = (
            delete(ReportStaleSlot)
            .where(ReportStaleSlot.source == source)
            .where(ReportStaleSlot.slot >= first, ReportStaleSlot.slot < end)
            .returning(ReportStaleSlot.slot)
        )
        params = {"first": first, "end": end, "lo": slot_start(first), "hi": slot_start(end)}
        async with self.sessionmaker.begin() as session:
            dialect = session.get_bind().dialect.name
            async with time_limit(session, _remaining(deadline, self.timeout)):
                claimed = len((await session.execute(claim)).all())
                if not claimed:
                    return 0
                for statement in _statements(dialect, source, detailed=detailed):
                    await session.execute(statement, params)
        return claimed

    # -- reads -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _reading(
        self, period: ReportRange, deadline: float | None
    ) -> AsyncIterator[AsyncSession]:
        deadline = deadline if deadline is not None else self.deadline()
        await self.refresh(period, deadline)
        async with (
            self.sessionmaker() as session,
            session.begin(),
            time_limit(session, _remaining(deadline, self.timeout)),
        ):
            yield session

    async def calls(
        self,
        period: ReportRange,
        by: CallGroup,
        direction: str | None = "inbound",
        deadline: float | None = None,
    ) -> list[tuple[Any, CallTally]]:
        """Call tallies grouped by queue, reason, slot or direction (``None`` for no queue or
        reason); only ``direction`` calls unless it is None."""
        async with self._reading(period, deadline) as session:
            return await _call_groups(session, period, by, direction)

    async def agent_calls(
        self, period: ReportRange, deadline: float | None = None
    ) -> list[tuple[str, AgentTally]]:
        """Per interface: calls handled, talk, wrap-up, rings missed."""
        async with self._reading(period, deadline) as session:
            return await _agent_groups(session, period)

    async def agents(self, period: ReportRange, deadline: float | None = None) -> dict[str, Any]:
        """The agent-performance section: calls, messages and CSAT per agent."""
        async with self._reading(period, deadline) as session:
            calls = await _agent_groups(session, period)
            messages = await _message_groups(session, period)
            surveys = await _survey_groups(session, period)
            directory = await _directory(session)
        return sections.agents(calls, sections.per_agent(messages), surveys, directory)

    async def csat(self, period: ReportRange, deadline: float | None = None) -> dict[str, Any]:
        """The CSAT section: surveys sent in the range, by agent and score."""
        async with self._reading(period, deadline) as session:
            surveys = await _survey_groups(session, period)
            directory = await _directory(session)
        return sections.csat(surveys, directory)

    async def channels(self, period: ReportRange, deadline: float | None = None) -> dict[str, Any]:
        """The channel section: calls, SMS and email, in and out."""
        async with self._reading(period, deadline) as session:
            directions = await _call_groups(session, period, "direction", None)
            messages = await _message_groups(session, period)
        return sections.channels(
            [(str(direction), tally.offered) for direction, tally in directions],
            sections.per_channel(messages),
        )

    async def day(
        self, period: ReportRange, service_level: int, deadline: float | None = None
    ) -> dict[str, Any]:
        """The full-day report (any range works): every section, read in one transaction."""
        async with self._reading(period, deadline) as session:
            queues = await _call_groups(session, period, "queue", "inbound")
            reasons = await _call_groups(session, period, "reason", "inbound")
            slots = await _call_groups(session, period, "slot", "inbound")
            directions = await _call_groups(session, period, "direction", None)
            messages = await _message_groups(session, period)
            agent_calls = await _agent_groups(session, period)
            surveys = await _survey_groups(session, period)
            directory = await _directory(session)
        return sections.day(
            period,
            service_level,
            queues=queues,
            reasons=reasons,
            slots=slots,
            directions=[(str(d), tally.offered) for d, tally in directions],
            messages=messages,
            agent_calls=agent_calls,
            surveys=surveys,
            directory=directory,
        )

    async def call_list(
        self,
        period: ReportRange,
        where: CallFilter,
        *,
        after: str | None = None,
        limit: int = 50,
        deadline: float | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The calls behind a figure, oldest first, ``limit`` at a time; and the cursor of the
        next page (None on the last). Reads ``calls`` itself, through ``ix_calls_started``."""
        conditions: list[ColumnElement[bool]] = [
            CallRecord.started_at >= period.start_utc,
            CallRecord.started_at < period.end_utc,
        ]
        for name in ("queue", "reason"):
            wanted = getattr(where, name)
            if wanted is not None:
                column = getattr(CallRecord, name)
                conditions.append(column.is_(None) if wanted == "" else column == wanted)
        for name in ("outcome", "agent", "direction"):
            wanted = getattr(where, name)
            if wanted is not None:
                conditions.append(getattr(CallRecord, name) == wanted)
        if after is not None:
            at, call_id = decode_cursor(after)
            conditions.append(
                or_(
                    CallRecord.started_at > at,
                    and_(CallRecord.started_at == at, CallRecord.id > call_id),
                )
            )
        query: Select[Any] = (
            select(
                CallRecord.id,
                CallRecord.started_at,
                CallRecord.answered_at,
                CallRecord.ended_at,
                *(getattr(CallRecord, f) for f in LIST_FIELDS),
            )
            .where(*conditions)
            .order_by(CallRecord.started_at, CallRecord.id)
            .limit(limit + 1)
        )
        deadline = deadline if deadline is not None else self.deadline()
        async with (
            self.sessionmaker() as session,
            session.begin(),
            time_limit(session, _remaining(deadline, self.timeout)),
        ):
            rows = (await session.execute(query)).mappings().all()
        page = [_listed(row, period) for row in rows[:limit]]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return page, encode_cursor(last["started_at"], last["id"]) if last is not None else None


def _listed(row: Any, period: ReportRange) -> dict[str, Any]:
    """One call of a drill-down list, its times on the report's clock."""
    item: dict[str, Any] = {name: row[name] for name in LIST_FIELDS}
    for name in ("started_at", "answered_at", "ended_at"):
        value = row[name]
        item[name] = value.astimezone(period.tz).isoformat() if value is not None else None
    return item


async def _call_groups(
    session: AsyncSession, period: ReportRange, by: CallGroup, direction: str | None
) -> list[tuple[Any, CallTally]]:
    key = getattr(ReportCallSlot, by)
    query = select(key.label("key"), *_call_sums()).where(_in(period, ReportCallSlot.slot))
    if direction is not None:
        query = query.where(ReportCallSlot.direction == direction)
    rows = (await session.execute(query.group_by(key))).mappings().all()
    return [(row["key"] if row["key"] != "" else None, CallTally.from_row(row)) for row in rows]


async def _agent_groups(session: AsyncSession, period: ReportRange) -> list[tuple[str, AgentTally]]:
    sums = [func.sum(getattr(ReportAgentSlot, n)).label(n) for n in AGENT_CALL_COLUMNS]
    query = (
        select(ReportAgentSlot.agent, *sums)
        .where(_in(period, ReportAgentSlot.slot))
        .group_by(ReportAgentSlot.agent)
    )
    rows = (await session.execute(query)).mappings().all()
    return [(str(row["agent"]), AgentTally.from_row(row)) for row in rows]


async def _message_groups(
    session: AsyncSession, period: ReportRange
) -> list[tuple[str, str, str, int]]:
    m = ReportMessageSlot
    query = (
        select(m.channel, m.direction, m.agent, func.sum(m.messages).label("n"))
        .where(_in(period, m.slot))
        .group_by(m.channel, m.direction, m.agent)
    )
    rows = (await session.execute(query)).mappings().all()
    return [(r["channel"], r["direction"], r["agent"], int(r["n"])) for r in rows]


async def _survey_groups(session: AsyncSession, period: ReportRange) -> list[tuple[str, int, int]]:
    c = ReportCsatSlot
    query = (
        select(c.agent, c.score, func.sum(c.surveys).label("n"))
        .where(_in(period, c.slot))
        .group_by(c.agent, c.score)
    )
    rows = (await session.execute(query)).mappings().all()
    return [(r["agent"], int(r["score"]), int(r["n"])) for r in rows]


async def _directory(session: AsyncSession) -> list[sections.Agent]:
    query = select(UserRecord.username, UserRecord.display_name, UserRecord.agent_interface)
    rows = (await session.execute(query)).mappings().all()
    return [sections.Agent(r["username"], r["display_name"], r["agent_interface"]) for r in rows]
