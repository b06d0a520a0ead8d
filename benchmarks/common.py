"""What every benchmark reports (``Row``) and the one table the runner prints."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

POSTGRES = os.environ.get("CTI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
"""The PostgreSQL server benchmarks keep their data sets in (``CTI_BENCH_POSTGRES``)."""


def postgres_database(name: str) -> str:
    """The address of the benchmark database ``name``, created when missing (kept between
    runs: building a data set takes minutes)."""
    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(f"{POSTGRES}/postgres")
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{POSTGRES}/{name}"


async def ensure_data_set(
    url: str,
    table: str,
    scale: int,
    generate: Callable[..., object],
    what: str,
    every: int = 100_000,
) -> None:
    """Migrate ``url`` and fill it with ``generate(url, scale, progress=...)`` unless
    ``table`` already holds ``scale`` rows (a data set is built once and kept)."""
    from sqlalchemy import text

    from cti.store.db import create_engine
    from cti.store.migrate import upgrade

    await upgrade(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            count = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
    finally:
        await engine.dispose()
    if count == scale:
        return
    if count:
        raise SystemExit(f"{url} holds {count} rows in {table}, not {scale}: drop it first")
    print(f"  generating {what} into {url} …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if n and (done % every < n or done == scale):
            print(f"    {done:,} / {scale:,}", file=sys.stderr, flush=True)

    await asyncio.to_thread(generate, url, scale, progress=tick)
    print(f"  generated in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure beside its target and the baseline from the same run.

    ``passed`` is ``None`` for a figure reported without a target of its own.
    """

    name: str
    unit: str
    target: str
    measured: float
    baseline: float | None
    passed: bool | None
    baseline_name: str = ""


def p99_ms(seconds: list[float]) -> float:
    """The 99th percentile of durations in seconds, in milliseconds."""
    return statistics.quantiles(seconds, n=100)[98] * 1000


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    return float(psutil.Process().memory_info().rss) / 2**20


def machine() -> str:
    """Cores, OS and Python: the line printed above every table."""
    return (
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def number(value: float) -> str:
    """Thousands separated, two significant decimals for small values, counts as integers."""
    if isinstance(value, int):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """The rows as one Markdown table: figure, target, measured, baseline, pass/fail."""
    lines = ["| figure | target | measured | baseline | pass/fail |", "|---|---|---|---|---|"]
    for row in rows:
        baseline = "—"
        if row.baseline is not None:
            baseline = f"{number(row.baseline)} {row.unit}"
            if row.baseline_name:
                baseline += f" ({row.baseline_name})"
        verdict = {True: "pass", False: "**FAIL**", None: "—"}[row.passed]
        lines.append(
            f"| {row.name} | {row.target} | {number(row.measured)} {row.unit} | {baseline} "
            f"| {verdict} |"
        )
    return "\n".join(lines)
