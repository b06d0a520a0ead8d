"""Reports: the full-day report over a day of 1,000,000 calls, SQLite and PostgreSQL.

The data set (``benchmarks.reports_data``): one busy day, 1,000,000 calls over six
queues, ten reasons and 1,500 agents (nine in ten inbound; answered, abandoned, IVR
hang-ups, rings missed, wrap-ups), 100,000 SMS and emails, about 150,000 CSAT surveys.
Built once per database and reused (``var/bench/reports-<scale>.db``, PostgreSQL
database ``cti_bench_reports_<scale>``, ``CTI_BENCH_POSTGRES`` to point elsewhere).
``--quick`` uses 50,000 calls.

Measured through the HTTP API in this process (``GET /api/reports/day`` as a
supervisor, JSON out), so routing, auth, the SQL and the serialisation all count:

- fresh: the roll-ups are up to date (the background refresh keeps them so);
- while calls arrive: at the day's peak, a minute after the last background roll-up,
  calls ending and wrap-ups saved have touched the last two quarter hours, so the report
  first recomputes those from the source tables (and, reported beside it, a whole hour);
- cold: every slot of the day is stale (a bulk import, or the first report after the
  upgrade), so the report rolls the whole day up from the source tables first: what a
  plain ``GROUP BY`` over ``calls`` costs.

Baselines: for the fresh report, the cold one (the same SQL straight over the day's
rows); for the cold one, fetching the day's rows through SQLAlchemy and aggregating them
in Python with the same definitions (``cti.reports.figures``): what one would write
without the database doing the grouping (pandas is not a dependency).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select, text

from benchmarks.common import Row, ensure_data_set, postgres_database
from benchmarks.reports_data import DAY, generate
from cti.api.app import create_api
from cti.auth.model import Role
from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.reports import sections
from cti.reports.figures import AgentTally, CallTally, missed_rings, tally_call
from cti.reports.period import ReportRange, day_range
from cti.settings import Settings
from cti.store.db import Sessionmaker, create_engine, create_sessionmaker
from cti.store.models import CallRecord, CsatSurvey, MessageRecord, UserRecord

FULL, QUICK = 1_000_000, 50_000
DATE = DAY.date().isoformat()
SUPERVISOR, PASSWORD = "bench-supervisor", "bench-supervisor-password"
TARGET_SECONDS = 2.0
PEAK_HOUR = 10


class _NoLiveCalls:
    def active(self) -> list[dict[str, Any]]:
        return []

    def call(self, linkedid: str) -> dict[str, Any] | None:
        return None

    def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool:
        return False


async def _ensure(url: str, scale: int) -> None:
    await ensure_data_set(url, "calls", scale, generate, f"a day of {scale:,} calls", every=200_000)


def _postgres_url(scale: int) -> str:
    return postgres_database(f"cti_bench_reports_{scale}")


async def _mark_stale(sessionmaker: Sessionmaker, slots: range) -> None:
    """Make the roll-ups of ``slots`` stale, as writes into them would."""
    marks = [{"source": s, "slot": n} for s in ("calls", "messages", "csat") for n in slots]
    async with sessionmaker.begin() as session:
        await session.execute(
            text(
                "INSERT INTO report_stale_slots (source, slot) VALUES (:source, :slot) "
                "ON CONFLICT DO NOTHING"
            ),
            marks,
        )


async def _supervisor(sessionmaker: Sessionmaker, passwords: Passwords) -> None:
    async with sessionmaker() as session:
        known = await session.scalar(select(UserRecord.id).where(UserRecord.username == SUPERVISOR))
    if known is None:
        await create_user(
            sessionmaker,
            username=SUPERVISOR,
            password=PASSWORD,
            role=Role.SUPERVISOR,
            passwords=passwords,
        )


async def python_day(sessionmaker: Sessionmaker, period: ReportRange) -> dict[str, Any]:
    """The baseline: the day's rows fetched through SQLAlchemy, aggregated in Python."""
    queues: dict[str | None, CallTally] = {}
    reasons: dict[str | None, CallTally] = {}
    slots: dict[int, CallTally] = {}
    directions: dict[str, int] = {}
    agents: dict[str, AgentTally] = {}
    c = CallRecord
    query = select(
        c.started_at,
        c.ended_at,
        c.direction,
        c.queue,
        c.reason,
        c.agent,
        c.outcome,
        c.wait_seconds,
        c.talk_seconds,
        c.details,
    ).where(c.started_at >= period.start_utc, c.started_at < period.end_utc)
    async with sessionmaker() as session:
        result = await session.stream(query.execution_options(yield_per=20_000))
        async for row in result:
            details = row.details or {}
            call = {
                "outcome": row.outcome,
                "wait_seconds": row.wait_seconds,
                "talk_seconds": row.talk_seconds,
                "ended_at": row.ended_at,
                "wrapup": details.get("wrapup"),
            }
            directions[row.direction] = directions.get(row.direction, 0) + 1
            for interface in missed_rings(details):
                agents.setdefault(interface, AgentTally()).missed += 1
            tally = tally_call(call)
            if row.outcome == "answered" and row.agent:
                mine = agents.setdefault(row.agent, AgentTally())
                mine.answered += 1
                mine.outbound += row.direction == "outbound"
                mine.talk_sum += tally.talk_sum
                mine.talk_n += tally.talk_n
                mine.wrapup_sum += tally.wrapup_sum
                mine.wrapup_n += tally.wrapup_n
            if row.direction != "inbound":
                continue
            slot = int(row.started_at.timestamp() // 900)
            queues.setdefault(row.queue, CallTally()).add(tally)
            reasons.setdefault(row.reason, CallTally()).add(tally)
            slots.setdefault(slot, CallTally()).add(tally)
        m = MessageRecord
        in_range = (m.created_at >= period.start_utc, m.created_at < period.end_utc)
        messages: dict[tuple[str, str, str], int] = {}
        for message in await session.execute(
            select(m.channel, m.direction, m.agent, m.assigned_to).where(*in_range)
        ):
            owner = message.assigned_to if message.direction == "inbound" else message.agent
            key = (message.channel, message.direction, owner or "")
            messages[key] = messages.get(key, 0) + 1
        s = CsatSurvey
        surveys: dict[tuple[str, int], int] = {}
        for survey in await session.execute(
            select(s.agent, s.score).where(
                s.sent_at >= period.start_utc, s.sent_at < period.end_utc
            )
        ):
            key = (survey.agent, survey.score or 0)
            surveys[key] = surveys.get(key, 0) + 1
        users = await session.execute(
            select(UserRecord.username, UserRecord.display_name, UserRecord.agent_interface)
        )
        directory = [sections.Agent(u.username, u.display_name, u.agent_interface) for u in users]
    return sections.day(
        period,
        20,
        queues=list(queues.items()),
        reasons=list(reasons.items()),
        slots=list(slots.items()),
        directions=list(directions.items()),
        messages=[(*key, n) for key, n in messages.items()],
        agent_calls=list(agents.items()),
        surveys=[(*key, n) for key, n in surveys.items()],
        directory=directory,
    )


async def _timed(runs: int, step: Callable[[], Awaitable[object]]) -> list[float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        await step()
        durations.append(time.perf_counter() - started)
    return durations


async def _measure(url: str, quick: bool) -> dict[str, list[float]]:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    passwords = Passwords.fast()
    await _supervisor(sessionmaker, passwords)
    settings = Settings(secret_key=SecretStr("reports-benchmark-key-" * 2), demo=False)
    settings.reports.timeout = 600.0  # the cold run must finish, to be measured
    app = create_api(
        settings=settings,
        sessionmaker=sessionmaker,
        live_calls=_NoLiveCalls(),
        passwords=passwords,
    )
    period = day_range(DATE, "UTC", max_days=1)
    peak_hour = period.first_slot + PEAK_HOUR * 4
    hour = range(peak_hour, peak_hour + 4)
    recent = range(peak_hour + 2, peak_hour + 4)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.post(
                "/api/auth/login", json={"username": SUPERVISOR, "password": PASSWORD}
            )
            login.raise_for_status()
            client.headers["Authorization"] = f"Bearer {login.json()['token']}"

            async def day() -> None:
                reply = await client.get("/api/reports/day", params={"date": DATE}, timeout=900)
                reply.raise_for_status()
                assert reply.json()["summary"]["offered"] > 0

            async def recent_stale_day() -> None:
                await _mark_stale(sessionmaker, recent)
                await day()

            async def hour_stale_day() -> None:
                await _mark_stale(sessionmaker, hour)
                await day()

            async def cold_day() -> None:
                await _mark_stale(sessionmaker, period.slots())
                await day()

            await day()  # rolls up whatever is stale: a freshly generated day
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
            figures = {
                "cold": await _timed(1 if quick else 2, cold_day),
                "fresh": await _timed(10 if quick else 7, day),
            }
            figures["live"] = await _timed(3 if quick else 5, recent_stale_day)
            figures["hour"] = await _timed(3 if quick else 5, hour_stale_day)
            figures["python"] = await _timed(1, lambda: python_day(sessionmaker, period))
            return figures
    finally:
        await engine.dispose()


def run(quick: bool) -> list[Row]:
    scale = QUICK if quick else FULL
    bench_dir = Path("var/bench")
    bench_dir.mkdir(parents=True, exist_ok=True)
    databases = {
        "SQLite": f"sqlite+aiosqlite:///{bench_dir / f'reports-{scale}.db'}",
        "PostgreSQL": _postgres_url(scale),
    }
    rows: list[Row] = []
    for label, url in databases.items():
        asyncio.run(_ensure(url, scale))
        figures = asyncio.run(_measure(url, quick))
        fresh, live, cold = figures["fresh"], figures["live"], figures["cold"]
        python = figures["python"][0]
        rows += [
            Row(
                name=f"Full-day report, {scale:,} calls, {label}: p50 (max {max(fresh):.2f} s)",
                unit="s",
                target=f"< {TARGET_SECONDS:g} s",
                measured=statistics.median(fresh),
                baseline=min(cold),
                passed=max(fresh) < TARGET_SECONDS,
                baseline_name="same SQL straight over the day's calls",
            ),
            Row(
                name=f"Full-day report while calls arrive (peak; the last two quarter hours "
                f"to roll up again), {label}: p50 (max {max(live):.2f} s)",
                unit="s",
                target=f"< {TARGET_SECONDS:g} s",
                measured=statistics.median(live),
                baseline=None,
                passed=max(live) < TARGET_SECONDS,
            ),
            Row(
                name=f"Full-day report with the busiest hour to roll up again, {label}: p50 "
                f"(max {max(figures['hour']):.2f} s)",
                unit="s",
                target="reported",
                measured=statistics.median(figures["hour"]),
                baseline=None,
                passed=None,
            ),
            Row(
                name=f"Full-day report cold (whole day to roll up), {label}",
                unit="s",
                target="reported",
                measured=min(cold),
                baseline=python,
                passed=None,
                baseline_name="rows fetched with SQLAlchemy, aggregated in Python",
            ),
        ]
    return rows
