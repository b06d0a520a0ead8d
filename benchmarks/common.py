"""The row every benchmark reports, and the one table they are printed in."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass


@dataclass
class Row:
    """One measured figure beside its target and the baseline a user would otherwise pick."""

    name: str
    unit: str
    target: str
    measured: float
    baseline: float | None
    baseline_name: str
    passed: bool


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (from /proc; peak RSS elsewhere)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = [
        "| figure | target | measured | baseline | pass |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        baseline = (
            "—" if row.baseline is None else f"{row.baseline:,.1f} {row.unit} ({row.baseline_name})"
        )
        lines.append(
            f"| {row.name} | {row.target} | {row.measured:,.1f} {row.unit} | {baseline} | "
            f"{'yes' if row.passed else 'NO'} |"
        )
    return "\n".join(lines)
