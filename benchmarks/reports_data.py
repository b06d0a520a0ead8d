"""A benchmark day of contact-center traffic: calls, messages and CSAT surveys, in bulk.

Deterministic for a seed and shaped like a large center's busy weekday: an intraday
curve with morning and afternoon peaks, six queues of different size and temper, ten
reasons, 1,500 agents, nine calls in ten inbound; most answered, some abandoned, a few
hung up in the IVR; one answered call in ten rang another agent first without answer;
most answered calls wrapped up within a minute or two. Rows carry ``details`` as the
writer stores them (rings, routing, IVR path, wrap-up), so a scan pays for the real
row width. Loaded straight into migrated tables: ``executemany`` on SQLite, ``COPY``
on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
import math
import random
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from cti.store.db import sqlite_path

DAY = datetime(2026, 11, 10, tzinfo=UTC)
"""The benchmark's day (a Tuesday), UTC."""
AGENTS = 1_500
QUEUES = {
    # queue: (share of inbound calls, mean wait s, abandon rate, mean talk s)
    "sales": (0.30, 18.0, 0.05, 260.0),
    "support": (0.25, 35.0, 0.10, 420.0),
    "billing": (0.15, 25.0, 0.07, 300.0),
    "delivery": (0.15, 15.0, 0.04, 150.0),
    "complaints": (0.05, 60.0, 0.15, 540.0),
    "frontdesk": (0.10, 8.0, 0.02, 90.0),
}
REASONS = (
    ("order_status", 0.22),
    ("delivery_late", 0.12),
    ("order_ready", 0.10),
    ("complaint", 0.06),
    ("debt", 0.05),
    ("return", 0.08),
    ("billing_question", 0.09),
    ("product_question", 0.12),
    ("callback", 0.04),
    (None, 0.12),
)
DISPOSITIONS = ("resolved",) * 6 + ("follow_up", "escalated", "sale", "callback")
HOURLY = (1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 19, 15, 16, 19, 18, 15, 12, 9, 7, 5, 4, 2, 1)
"""Relative arrivals per UTC hour: overnight trickle, peaks at 10:00 and 14:00."""
CALL_COLUMNS = (
    "linkedid",
    "direction",
    "started_at",
    "answered_at",
    "ended_at",
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
    "details",
)
MESSAGE_COLUMNS = (
    "channel",
    "direction",
    "provider",
    "provider_id",
    "sender",
    "recipient",
    "body",
    "status",
    "attempts",
    "agent",
    "assigned_to",
    "created_at",
    "details",
)
SURVEY_COLUMNS = ("contact_id", "agent", "about", "channel", "sent_at", "score", "answered_at")
USER_COLUMNS = (
    "username",
    "display_name",
    "password_hash",
    "role",
    "agent_interface",
    "active",
    "created_at",
)


def agent_of(n: int) -> tuple[str, str, str]:
    """Agent ``n``'s interface, username and display name."""
    return f"PJSIP/{2000 + n}", f"agent{n:04d}", f"Agent {n:04d}"


def _queue_agents() -> dict[str, list[int]]:
    """Agents per queue in proportion to its traffic; every fifth agent also serves a second."""
    names = list(QUEUES)
    shares = [QUEUES[q][0] for q in names]
    members: dict[str, list[int]] = {q: [] for q in names}
    rnd = random.Random(3)
    for n in range(AGENTS):
        home = rnd.choices(names, shares)[0]
        members[home].append(n)
        if n % 5 == 0:
            members[rnd.choice(names)].append(n)
    return members


@functools.cache
def _hour_bounds(total: int) -> list[int]:
    """The first arrival of each hour (and one past the last)."""
    weights = sum(HOURLY)
    return [round(total * sum(HOURLY[:h]) / weights) for h in range(25)]


def _at(rnd: random.Random, n: int, total: int, day: datetime) -> datetime:
    """When the ``n``-th of ``total`` arrivals of the day comes: in order, hours as busy as
    ``HOURLY`` says, so rows are stored roughly in time order as the call writer stores them."""
    bounds = _hour_bounds(total)
    hour = bisect.bisect_right(bounds, n) - 1
    size = max(bounds[hour + 1] - bounds[hour], 1)
    return day + timedelta(hours=hour, seconds=(n - bounds[hour] + rnd.random()) / size * 3600)


def call_rows(
    first: int, count: int, seed: int, day: datetime = DAY, total: int = 1_000_000
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Calls ``first`` to ``first + count - 1`` of the day's ``total``, and the CSAT surveys
    they led to."""
    rnd = random.Random(seed * 1_000_003 + first)
    members = _QUEUE_AGENTS
    queues = list(QUEUES)
    shares = [QUEUES[q][0] for q in queues]
    reasons = [r for r, _ in REASONS]
    reason_shares = [w for _, w in REASONS]
    calls: list[tuple[Any, ...]] = []
    surveys: list[tuple[Any, ...]] = []
    for n in range(first, first + count):
        started = _at(rnd, n, total, day)
        inbound = rnd.random() < 0.9
        contact = 1 + n % 200_000
        caller = f"+7916{n % 10_000_000:07d}"
        details: dict[str, Any] = {"stage": "ended", "transfers": [], "rings": []}
        queue = agent_n = answered_at = wait = talk = None
        reason = rnd.choices(reasons, reason_shares)[0]
        if inbound:
            queue = rnd.choices(queues, shares)[0]
            _, mean_wait, abandon_rate, mean_talk = QUEUES[queue]
            ivr = 5.0 + rnd.random() * 25.0
            details["ivr_started_at"] = started.timestamp() + 1.0
            details["ivr_path"] = f"known>key:{1 + n % 4}>queue:{queue}"
            details["reason_confidence"] = round(0.5 + rnd.random() / 2, 2)
            details["routing"] = {"rule": queue, "queue": queue, "why": f"reason {reason}"}
            roll = rnd.random()
            if roll < 0.03:
                outcome, end = "ivr_hangup", started + timedelta(seconds=ivr)
                queue = None
            elif roll < 0.03 + abandon_rate:
                outcome = "abandoned"
                wait = round(rnd.expovariate(1 / (mean_wait * 1.5)), 3)
                end = started + timedelta(seconds=ivr + wait)
            elif roll < 0.035 + abandon_rate:
                outcome, wait = "lost", round(rnd.random() * 30, 3)
                end = started + timedelta(seconds=ivr + wait)
            else:
                outcome = "answered"
                wait = round(rnd.expovariate(1 / mean_wait), 3)
                talk = round(rnd.lognormvariate(math.log(mean_talk) - 0.32, 0.8), 3)
                agent_n = rnd.choice(members[queue])
            if queue is not None:
                details["queued_at"] = started.timestamp() + ivr
                details["queue_position"] = 1 + int((wait or 0) // 10)
        else:
            outcome = "answered" if rnd.random() < 0.6 else "unanswered"
            agent_n = rnd.randrange(AGENTS)
            wait = None
            talk = (
                round(rnd.lognormvariate(math.log(180.0), 0.7), 3)
                if outcome == "answered"
                else None
            )
            ivr = 0.0
            if outcome == "unanswered":
                end = started + timedelta(seconds=15 + rnd.random() * 30)
                agent_n = None
        if outcome == "answered":
            assert agent_n is not None
            answered_at = started + timedelta(seconds=ivr + (wait or rnd.random() * 20))
            end = answered_at + timedelta(seconds=talk or 0)
            interface, username, name = agent_of(agent_n)
            if inbound and rnd.random() < 0.1:
                other = agent_of(rnd.choice(members[queue or "sales"]))[0]
                details["rings"].append({"interface": other, "queue": queue, "outcome": "noanswer"})
            details["rings"].append({"interface": interface, "queue": queue, "outcome": "answered"})
            if rnd.random() < 0.85:
                after = end + timedelta(seconds=rnd.expovariate(1 / 45))
                details["wrapup"] = {
                    "disposition": rnd.choice(DISPOSITIONS),
                    "notes": "",
                    "by": username,
                    "at": after.isoformat(),
                }
            if inbound and rnd.random() < 0.2:
                sent = end + timedelta(seconds=60)
                score = rnd.choices((1, 2, 3, 4, 5), (3, 4, 10, 30, 53))[0]
                answered = rnd.random() < 0.35
                surveys.append(
                    (
                        contact,
                        username,
                        f"call:{n}",
                        "sms",
                        sent,
                        score if answered else None,
                        sent + timedelta(minutes=7) if answered else None,
                    )
                )
        interface, _, name = agent_of(agent_n) if agent_n is not None else (None, None, None)
        calls.append(
            (
                f"{int(started.timestamp())}.{n}",
                "inbound" if inbound else "outbound",
                started,
                answered_at,
                end,
                caller,
                None,
                queue,
                interface,
                name,
                outcome,
                wait,
                talk,
                16,
                "Normal Clearing",
                reason,
                str(contact),
                json.dumps(details),
            )
        )
    return calls, surveys


def message_rows(
    first: int, count: int, seed: int, day: datetime = DAY, total: int = 100_000
) -> list[tuple[Any, ...]]:
    """Messages ``first`` to ``first + count - 1`` of the day's ``total``: SMS and email, both
    ways."""
    rnd = random.Random(seed * 7_000_001 + first)
    rows: list[tuple[Any, ...]] = []
    for n in range(first, first + count):
        channel = "sms" if rnd.random() < 0.6 else "email"
        inbound = rnd.random() < 0.55
        agent = agent_of(rnd.randrange(AGENTS))[1]
        rows.append(
            (
                channel,
                "inbound" if inbound else "outbound",
                "twilio" if channel == "sms" else "smtp",
                f"bench-{n}",
                "+79160000000" if inbound else "shop",
                "shop" if inbound else "+79160000000",
                "Where is my order?" if inbound else "Your order is on its way.",
                "received" if inbound else "sent",
                0 if inbound else 1,
                None if inbound else agent,
                agent if inbound else None,
                _at(rnd, n, total, day),
                "{}",
            )
        )
    return rows


def users() -> list[tuple[Any, ...]]:
    """One agent account per interface, so reports can name them."""
    return [
        (username, name, "!", "agent", interface, True, DAY - timedelta(days=30))
        for interface, username, name in map(agent_of, range(AGENTS))
    ]


_QUEUE_AGENTS = _queue_agents()


def generate(
    url: str,
    calls: int,
    *,
    seed: int = 1,
    chunk: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Fill the migrated, empty database at ``url`` with a day of ``calls`` calls, a tenth as
    many messages, their CSAT surveys and the agents' accounts."""
    backend = make_url(url).get_backend_name()
    batches = _batches(calls, seed, chunk)
    if backend == "sqlite":
        _load_sqlite(url, batches, progress)
    else:
        asyncio.run(_load_postgres(url, batches, progress))


Batch = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


def _batches(calls: int, seed: int, chunk: int) -> Iterator[tuple[int, Batch]]:
    yield 0, {"users": (USER_COLUMNS, users())}
    contacts = min(200_000, calls)
    yield (
        0,
        {
            "contacts": (
                (
                    "id",
                    "display_name",
                    "search_name",
                    "lifetime_value_cents",
                    "debt_cents",
                    "created_at",
                    "updated_at",
                ),
                [
                    (
                        n,
                        f"Customer {n}",
                        f"customer {n}",
                        0,
                        0,
                        DAY - timedelta(days=30),
                        DAY - timedelta(days=30),
                    )
                    for n in range(1, contacts + 1)
                ],
            )
        },
    )
    for first in range(0, calls, chunk):
        count = min(chunk, calls - first)
        call_batch, survey_batch = call_rows(first, count, seed)
        yield (
            count,
            {
                "calls": (CALL_COLUMNS, call_batch),
                "csat_surveys": (SURVEY_COLUMNS, survey_batch),
                "messages": (MESSAGE_COLUMNS, message_rows(first // 10, count // 10, seed)),
            },
        )


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _load_sqlite(
    url: str, batches: Iterator[tuple[int, Batch]], progress: Callable[[int], None] | None
) -> None:
    path = sqlite_path(url)
    if path is None:
        raise ValueError("the generator needs a file-backed SQLite database")
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        for count, batch in batches:
            with db:
                for table, (columns, rows) in batch.items():
                    sql = (
                        f"INSERT INTO {table} ({', '.join(columns)}) "
                        f"VALUES ({', '.join('?' * len(columns))})"
                    )
                    db.executemany(sql, [tuple(map(_sqlite_value, row)) for row in rows])
            if progress is not None:
                progress(count)
        db.execute("ANALYZE")
    finally:
        db.close()


async def _load_postgres(
    url: str, batches: Iterator[tuple[int, Batch]], progress: Callable[[int], None] | None
) -> None:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        for count, batch in batches:
            async with conn.transaction():
                for table, (columns, rows) in batch.items():
                    await conn.copy_records_to_table(table, records=rows, columns=columns)
            if progress is not None:
                progress(count)
        for table in ("contacts", "users", "calls", "messages", "csat_surveys"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce(max(id), 1)) FROM {table}"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
