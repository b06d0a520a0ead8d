"""Benchmark-sized contact data: a million contacts and their facts, loaded in bulk.

The data is deterministic for a seed and shaped like a shop's CRM: one or two phones and
usually an email per contact, a few numbers shared by a household, five orders, ten
timeline entries, some deliveries, complaints and purchases each. It goes straight into
the migrated tables (``executemany`` on SQLite, ``COPY`` on PostgreSQL), contact by
contact so every index grows in order.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from cti.contacts.identify import SUFFIX_DIGITS
from cti.contacts.phone import suffix
from cti.store.db import sqlite_path

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
SCRAMBLE = 7919
"""A prime: ``n * SCRAMBLE mod 10**9`` spreads consecutive ids over the number space."""
FIRST = ("Ivan", "Olga", "Sergey", "Anna", "Dmitry", "Elena", "Mikhail", "Natalia", "Pavel")
LAST = ("Petrov", "Smirnov", "Kuznetsov", "Popov", "Volkov", "Sokolov", "Lebedev", "Kozlov")
CATEGORIES = ("laptop", "phone", "tv", "kettle", "fridge", "headphones", "camera")
ORDER_STATUSES = ("delivered",) * 6 + ("new", "processing", "ready", "shipped", "cancelled")
CHANNELS = ("voice", "voice", "voice", "sms", "email", "chat")
REASONS = ("order_status", "delivery_late", "order_ready", "complaint", "debt", None)

TABLES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "id",
        "display_name",
        "search_name",
        "language",
        "lifetime_value_cents",
        "debt_cents",
        "created_at",
        "updated_at",
    ),
    "contact_identities": (
        "contact_id",
        "kind",
        "value",
        "phone_suffix",
        "verified",
        "source",
        "created_at",
    ),
    "orders": (
        "contact_id",
        "number",
        "status",
        "amount_cents",
        "placed_at",
        "ready_at",
        "due_at",
    ),
    "deliveries": ("contact_id", "order_number", "status", "eta", "delivered_at", "address"),
    "tickets": (
        "contact_id",
        "number",
        "kind",
        "status",
        "severity",
        "subject",
        "opened_at",
        "closed_at",
    ),
    "purchases": ("contact_id", "product", "category", "sku", "purchased_at", "amount_cents"),
    "interactions": (
        "contact_id",
        "at",
        "channel",
        "direction",
        "reason",
        "agent",
        "summary",
        "outcome",
        "ref",
        "details",
    ),
}


MOBILE_SPACE = 900_000_000
"""Russian mobile numbers ``9XX XXX-XX-XX`` whose second digit is not 3 (``93x`` is only
partly allocated): nine hundred million numbers, all valid."""


def _mobile(k: int) -> str:
    v = k % MOBILE_SPACE
    if v >= 300_000_000:
        v += 100_000_000
    return f"+79{v:09d}"


def phone_of(n: int) -> str:
    """The main mobile number of contact ``n`` (valid, unique, spread out)."""
    return _mobile(n * SCRAMBLE)


def second_phone_of(n: int) -> str:
    """A second mobile number of contact ``n`` (now and then one another contact holds)."""
    return _mobile(n * SCRAMBLE + MOBILE_SPACE // 2)


def landline_of(n: int) -> str:
    """A Moscow landline, shared by contacts ``n`` and ``n + 1`` when ``n`` is a household."""
    return f"+7495{(n * SCRAMBLE) % 10**7:07d}"


@dataclass
class _Batch:
    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )

    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def rows_for(first: int, last: int, seed: int, now: datetime = EPOCH) -> _Batch:
    """The rows of contacts ``first`` to ``last`` (inclusive), the same for the same seed."""
    batch = _Batch()
    rows = batch.rows
    for n in range(first, last + 1):
        rnd = random.Random(seed * 1_000_003 + n)
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {n}"
        created = now - timedelta(days=rnd.randrange(30, 2000))
        value = rnd.choice((0, 50_000, 500_000, 3_000_000, 20_000_000, 60_000_000))
        debt = rnd.choice((0,) * 9 + (150_000,))
        rows["contacts"].append(
            (n, name, name.lower(), "ru", value, debt, created, created),
        )
        phones = [phone_of(n)]
        if n % 5 == 0:
            phones.append(second_phone_of(n))
        if n % 50 in (0, 1):
            phones.append(landline_of(n - n % 50))
        for phone in phones:
            rows["contact_identities"].append(
                (n, "phone", phone, suffix(phone, SUFFIX_DIGITS), True, "generated", created)
            )
        if n % 5 != 0:
            rows["contact_identities"].append(
                (n, "email", f"customer{n}@example.com", None, False, "generated", created)
            )
        for k in range(5):
            number = f"{n}-{k}"
            placed = now - timedelta(days=rnd.randrange(0, 700), minutes=rnd.randrange(1440))
            status = rnd.choice(ORDER_STATUSES)
            ready = (
                placed + timedelta(days=2) if status in ("ready", "shipped", "delivered") else None
            )
            rows["orders"].append(
                (
                    n,
                    number,
                    status,
                    rnd.randrange(1_000, 20_000_000),
                    placed,
                    ready,
                    placed + timedelta(days=7),
                )
            )
            if k == 0:
                eta = placed + timedelta(days=rnd.randrange(1, 10))
                done = status == "delivered"
                rows["deliveries"].append(
                    (
                        n,
                        number,
                        "delivered" if done else rnd.choice(("scheduled", "in_transit", "failed")),
                        eta,
                        eta if done else None,
                        "Moscow",
                    )
                )
        if n % 3 == 0:
            opened = now - timedelta(days=rnd.randrange(0, 365))
            is_open = rnd.random() < 0.3
            rows["tickets"].append(
                (
                    n,
                    f"T-{n}",
                    rnd.choice(("complaint", "request", "question")),
                    "open" if is_open else "closed",
                    rnd.choice(("low", "normal", "high")),
                    "Generated ticket",
                    opened,
                    None if is_open else opened + timedelta(days=3),
                )
            )
        category = rnd.choice(CATEGORIES)
        rows["purchases"].append(
            (
                n,
                f"{category.title()} model {rnd.randrange(100)}",
                category,
                None,
                now - timedelta(days=rnd.randrange(0, 400)),
                rnd.randrange(1_000, 20_000_000),
            )
        )
        for k in range(10):
            at = now - timedelta(days=rnd.randrange(0, 700), seconds=rnd.randrange(86_400))
            rows["interactions"].append(
                (
                    n,
                    at,
                    rnd.choice(CHANNELS),
                    "inbound",
                    rnd.choice(REASONS),
                    f"agent{rnd.randrange(40)}",
                    "",
                    "resolved",
                    f"gen-{n}-{k}",
                    "{}",
                )
            )
    return batch


def generate(
    url: str,
    contacts: int,
    *,
    seed: int = 1,
    chunk: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Fill the (migrated, empty) database at ``url`` with ``contacts`` contacts and facts."""
    backend = make_url(url).get_backend_name()
    load = _load_sqlite if backend == "sqlite" else _load_postgres
    load(url, _chunks(contacts, seed, chunk), progress)


def _chunks(contacts: int, seed: int, chunk: int) -> Iterator[tuple[int, _Batch]]:
    for first in range(1, contacts + 1, chunk):
        last = min(first + chunk - 1, contacts)
        yield last - first + 1, rows_for(first, last, seed)


def _load_sqlite(
    url: str, chunks: Iterator[tuple[int, _Batch]], progress: Callable[[int], None] | None
) -> None:
    path = sqlite_path(url)
    if path is None:
        raise ValueError("the generator needs a file-backed SQLite database")
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        statements = {
            name: f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for name, cols in TABLES.items()
        }
        for count, batch in chunks:
            with db:
                for name, rows in batch.rows.items():
                    db.executemany(statements[name], [_sqlite_row(r) for r in rows])
            if progress is not None:
                progress(count)
        db.execute("ANALYZE")
    finally:
        db.close()


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # SQLAlchemy keeps SQLite datetimes as naive UTC text with microseconds.
    return tuple(
        v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
        for v in row
    )


def _load_postgres(
    url: str, chunks: Iterator[tuple[int, _Batch]], progress: Callable[[int], None] | None
) -> None:
    import asyncio

    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def load() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET synchronous_commit = off")
            for count, batch in chunks:
                async with conn.transaction():
                    for name, rows in batch.rows.items():
                        await conn.copy_records_to_table(name, records=rows, columns=TABLES[name])
                if progress is not None:
                    progress(count)
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('contacts', 'id'), max(id)) FROM contacts"
            )
            await conn.execute("ANALYZE")
        finally:
            await conn.close()

    asyncio.run(load())
