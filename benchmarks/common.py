"""What every benchmark reports (``Row``) and the one table the runner prints."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass

import psutil


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
