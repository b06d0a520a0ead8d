"""Caller lookup and dossier build on a million contacts, SQLite and PostgreSQL.

The data set (``cti.contacts.generate``): 1,000,000 contacts, about 2,000,000 identities,
5,000,000 orders, 10,000,000 timeline entries, plus deliveries, tickets and purchases. It
is built once per database and reused by later runs (``var/bench/`` for SQLite, database
``cti_bench_contacts_<scale>`` on the local PostgreSQL, ``CTI_BENCH_POSTGRES`` to point
elsewhere). ``--quick`` uses 50,000 contacts.

Measured warm, in one process, through the server's own code: ``identify()`` of a caller
ID written as a trunk sends it (``8 9xx xxx-xx-xx``), and ``DossierService.build()`` of a
random contact. The baselines are what a first version would do: find the caller with an
unindexed ``LIKE '%digits'`` over the identities, and build the dossier after that lookup.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text

from benchmarks.common import Row, ensure_data_set, p99_ms, postgres_database
from cti.contacts.dossier import build_dossier_service
from cti.contacts.generate import generate, phone_of
from cti.contacts.identify import MatchLevel, identify
from cti.settings import DatabaseSettings, Settings
from cti.store.db import Sessionmaker, create_engine, create_sessionmaker

FULL, QUICK = 1_000_000, 50_000
NAIVE_LOOKUP = text(
    "SELECT c.id, c.display_name, i.value FROM contact_identities i "
    "JOIN contacts c ON c.id = i.contact_id "
    "WHERE i.kind = 'phone' AND i.value LIKE :pattern ORDER BY c.id"
)


def trunk_format(e164: str) -> str:
    """``+79161234567`` as a Russian trunk often sends it: ``8 916 123-45-67``."""
    d = e164[2:]
    return f"8 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}"


async def _ensure(url: str, scale: int) -> None:
    await ensure_data_set(url, "contacts", scale, generate, f"{scale:,} contacts", every=100_000)


def _postgres_url(scale: int) -> str:
    return postgres_database(f"cti_bench_contacts_{scale}")


async def _timed(samples: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    durations = []
    for i in range(samples):
        started = time.perf_counter()
        await step(i)
        durations.append(time.perf_counter() - started)
    return durations


async def _measure(url: str, scale: int, quick: bool) -> dict[str, list[float]]:
    engine = create_engine(url)
    sessionmaker: Sessionmaker = create_sessionmaker(engine)
    service = build_dossier_service(Settings(database=DatabaseSettings(url=url)), sessionmaker)
    contacts = service.contacts
    rnd = random.Random(7)
    ids = [rnd.randrange(1, scale + 1) for _ in range(20_000)]
    callers = [trunk_format(phone_of(n)) for n in ids]

    async def lookup(i: int) -> None:
        found = await identify(contacts, callers[i % len(callers)])
        assert found.level is MatchLevel.EXACT

    async def dossier(i: int) -> None:
        built = await service.build(ids[-1 - i % len(ids)])
        assert built is not None

    async def naive_lookup(i: int) -> None:
        digits = phone_of(ids[i])[-10:]
        async with sessionmaker() as session:
            rows = (await session.execute(NAIVE_LOOKUP, {"pattern": f"%{digits}"})).all()
        assert rows

    async def naive_dossier(i: int) -> None:
        digits = phone_of(ids[i])[-10:]
        async with sessionmaker() as session:
            rows = (await session.execute(NAIVE_LOOKUP, {"pattern": f"%{digits}"})).all()
        assert await service.build(rows[0][0]) is not None

    try:
        await _timed(500, lookup)
        await _timed(300, dossier)
        n_fast, n_slow = (1_000, 5) if quick else (5_000, 20)
        return {
            "lookup": await _timed(n_fast, lookup),
            "dossier": await _timed(n_fast // 2, dossier),
            "naive_lookup": await _timed(n_slow, naive_lookup),
            "naive_dossier": await _timed(n_slow, naive_dossier),
        }
    finally:
        await service.aclose()
        await engine.dispose()


def run(quick: bool) -> list[Row]:
    scale = QUICK if quick else FULL
    bench_dir = Path("var/bench")
    bench_dir.mkdir(parents=True, exist_ok=True)
    databases = {
        "SQLite": f"sqlite+aiosqlite:///{bench_dir / f'contacts-{scale}.db'}",
        "PostgreSQL": _postgres_url(scale),
    }
    rows: list[Row] = []
    for label, url in databases.items():
        asyncio.run(_ensure(url, scale))
        figures = asyncio.run(_measure(url, scale, quick))
        lookup, naive = p99_ms(figures["lookup"]), p99_ms(figures["naive_lookup"])
        build, naive_build = p99_ms(figures["dossier"]), p99_ms(figures["naive_dossier"])
        rows += [
            Row(
                name=f"Caller lookup p99, {scale:,} contacts, {label}",
                unit="ms",
                target="≤ 1 ms",
                measured=lookup,
                baseline=naive,
                passed=lookup <= 1.0,
                baseline_name="unindexed LIKE '%digits'",
            ),
            Row(
                name=f"Dossier build p99, {scale:,} contacts, {label}",
                unit="ms",
                target="≤ 15 ms",
                measured=build,
                baseline=naive_build,
                passed=build <= 15.0,
                baseline_name="after a LIKE lookup",
            ),
        ]
    return rows
