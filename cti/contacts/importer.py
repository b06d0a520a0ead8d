"""Importing contacts from CSV or JSON Lines: checked row by row, upserted, rejects reported.

A row is written whole or not at all: it is checked completely first, and a row the
database refuses is rolled back on its own and reported. Rows are matched to existing
contacts by CRM id (``external_id``), else by a phone or email only one contact holds, so
importing the same file twice changes nothing.

CSV columns: ``external_id, name, language, phones, emails, lifetime_value_cents,
debt_cents``; several phones or emails in one cell are separated by ``;``. JSON Lines
rows may also carry ``orders``, ``deliveries``, ``tickets`` and ``purchases`` lists.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.exc import DBAPIError, IntegrityError

from cti.contacts.phone import DEFAULT_RULES, PhoneRules
from cti.contacts.records import ContactIn, InvalidContact, check_contact
from cti.store.contacts import find_existing, save_contact
from cti.store.db import Sessionmaker

Format = Literal["csv", "jsonl"]
LIST_COLUMNS = ("phones", "emails")
INT_COLUMNS = ("lifetime_value_cents", "debt_cents")
MAX_LINE = 1_000_000
BATCH = 500


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row left out, with every reason."""

    line: int
    problems: list[str]
    row: dict[str, Any] | str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "problems": self.problems, "row": self.row}


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def guess_format(path: Path) -> Format:
    """``csv`` for .csv, ``jsonl`` for .jsonl / .ndjson / .json."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    raise ValueError(f"cannot tell the format of {path.name}: use .csv or .jsonl, or --format")


def read_rows(path: Path, fmt: Format) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    """``(line, row)`` pairs; a line that is not a row at all comes as ``Rejected``."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if fmt == "csv":
            yield from _csv_rows(handle)
        else:
            yield from _jsonl_rows(handle)


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    reader = csv.DictReader(lines)
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, Rejected(line, ["more cells than columns"], _plain(row))
            continue
        data: dict[str, Any] = {}
        for column, cell in row.items():
            text = (cell or "").strip()
            if not text:
                continue
            if column in LIST_COLUMNS:
                data[column] = [part.strip() for part in text.split(";") if part.strip()]
            elif column in INT_COLUMNS:
                data[column] = int(text) if text.lstrip("-").isdigit() else text
            else:
                data[column] = text
        yield line, data


def _jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if len(text) > MAX_LINE:
            yield line, Rejected(line, [f"line longer than {MAX_LINE} characters"], "")
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            yield line, Rejected(line, [f"not JSON: {exc}"], text[:200])
            continue
        if not isinstance(data, dict):
            yield line, Rejected(line, ["not a JSON object"], text[:200])
            continue
        yield line, data


async def import_rows(
    sessionmaker: Sessionmaker,
    rows: Iterable[tuple[int, dict[str, Any] | Rejected]],
    *,
    rules: PhoneRules = DEFAULT_RULES,
    source: str = "import",
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> ImportReport:
    """Check and upsert every row; returns what happened to each."""
    report = ImportReport()
    pending: list[tuple[int, ContactIn, dict[str, Any]]] = []
    for line, row in rows:
        report.rows += 1
        if isinstance(row, Rejected):
            report.rejected.append(row)
        else:
            try:
                pending.append((line, check_contact(ContactIn, row, rules), row))
            except InvalidContact as exc:
                report.rejected.append(Rejected(line, exc.problems, row))
        if len(pending) >= batch:
            await _write(sessionmaker, pending, report, source)
            pending = []
        if progress is not None:
            progress(1)
    if pending:
        await _write(sessionmaker, pending, report, source)
    report.rejected.sort(key=lambda r: r.line)
    return report


async def _write(
    sessionmaker: Sessionmaker,
    rows: list[tuple[int, ContactIn, dict[str, Any]]],
    report: ImportReport,
    source: str,
) -> None:
    """One transaction for the batch; if the database refuses it, one per row."""
    try:
        created = 0
        async with sessionmaker.begin() as session:
            for _, contact, _ in rows:
                existing = await find_existing(session, contact)
                await save_contact(session, contact, contact_id=existing, source=source)
                created += existing is None
        report.created += created
        report.updated += len(rows) - created
        return
    except (IntegrityError, DBAPIError) as exc:
        if len(rows) == 1:
            line, _, raw = rows[0]
            report.rejected.append(Rejected(line, [f"database refused it: {_short(exc)}"], raw))
            return
    for row in rows:
        await _write(sessionmaker, [row], report, source)


def _short(exc: DBAPIError) -> str:
    return str(exc.orig).splitlines()[0][:200] if exc.orig is not None else type(exc).__name__


def _plain(row: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in row.items()}
