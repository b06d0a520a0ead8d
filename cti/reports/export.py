"""Reports as CSV: one table per section, a header row, safe to open in a spreadsheet.

A text cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is
prefixed with ``'`` so a spreadsheet shows it instead of running it as a formula (CSV
injection). Numbers are written as they are; an empty cell means "no figure" (nothing
to average). The text starts with a byte-order mark so Excel reads UTF-8 names right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DAY_SECTIONS = ("queues", "hours", "reasons", "channels", "agents", "csat")


def cell(value: Any) -> str | int | float:
    """One value as a CSV cell, defused if it is text a spreadsheet would evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The header and rows as CSV text (RFC 4180, CRLF line ends, BOM first)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell(name) for name in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return BOM + out.getvalue()


def section_csv(section: Mapping[str, Any], group: str | None = None) -> str:
    """A section as a wide table: the group's label, then one column per figure; a total row."""
    figures = [name for name in section["total"] if name not in {"key", "label"}]
    extra = [
        name for name in ("username", "interface") if any(name in row for row in section["rows"])
    ]
    header = [group or section["by"], *extra, *figures]
    rows = [
        [row["label"], *(row.get(name) for name in extra), *(row.get(name) for name in figures)]
        for row in section["rows"]
    ]
    rows.append(["Total", *([None] * len(extra)), *(section["total"][name] for name in figures)])
    return write_csv(header, rows)


def day_csv(report: Mapping[str, Any]) -> str:
    """The full-day report as one long table: section, group, figure, value.

    One shape for sections with different figures; a spreadsheet's pivot table turns it
    back into wide tables.
    """
    rows: list[list[Any]] = []
    for name in DAY_SECTIONS:
        section = report[name]
        for row in [*section["rows"], {"label": "Total", **section["total"]}]:
            for figure, value in row.items():
                if figure in {"key", "label", "username", "interface"}:
                    continue
                rows.append([name, row["label"], figure, value])
    return write_csv(["section", "group", "figure", "value"], rows)
