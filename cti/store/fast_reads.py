"""The hot read path (caller lookup, dossier) straight on the database driver.

Every call starts with these reads, so they skip what SQLAlchemy's async layer adds per
query (an execution context, a greenlet switch, on SQLite four thread hops through
aiosqlite) and run statements compiled once:

- ``SqliteReads`` runs all of one read's statements in one thread hop, on a plain
  ``sqlite3`` connection kept per worker thread;
- ``PostgresReads`` runs them on the asyncpg connection under a pooled SQLAlchemy one
  (autocommit, ``create_reader``), one round trip per statement.

Statements stay SQLAlchemy ``select()`` objects built once at import, and rows come back
through SQLAlchemy's own result processing (aware datetimes, JSON), so queries are
still written in one place and read the same as through a session. Measured in
``benchmarks/contacts.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Compiled, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

AnySelect = Select[*tuple[Any, ...]]
Query = tuple[AnySelect, dict[str, Any]]


class FastReads(Protocol):
    """Read several statements at once, quickly; rows have attribute access by column."""

    async def fetch_all(self, queries: Sequence[Query]) -> list[list[Any]]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    compiled: Compiled
    names: list[str]
    row: Callable[..., Any]
    processors: Sequence[Callable[[Any], Any] | None]

    def values(self, params: dict[str, Any]) -> tuple[Any, ...]:
        bound = self.compiled.construct_params(params) or {}
        return tuple(bound[name] for name in self.names)

    def read(self, raw: Sequence[Any]) -> Any:
        """One row with SQLAlchemy's own conversions (aware datetimes, JSON), by name."""
        return self.row(
            *(
                v if p is None or v is None else p(v)
                for p, v in zip(self.processors, raw, strict=True)
            )
        )


class _Statements:
    """Statements compiled once for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._compiled: dict[AnySelect, _Prepared] = {}

    def prepare(self, statement: AnySelect) -> _Prepared:
        found = self._compiled.get(statement)
        if found is None:
            compiled = statement.compile(dialect=self.dialect)
            columns = list(statement.selected_columns)
            found = _Prepared(
                sql=str(compiled),
                compiled=compiled,
                names=list(compiled.positiontup or []),
                row=namedtuple("Row", [c.key for c in columns], rename=True),  # type: ignore[misc]
                processors=[
                    c.type.dialect_impl(self.dialect).result_processor(self.dialect, None)
                    for c in columns
                ],
            )
            self._compiled[statement] = found
        return found


class SqliteReads:
    """A few read-only ``sqlite3`` connections, one per worker thread."""

    def __init__(self, path: Path, *, workers: int = 2, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._statements = _Statements(sqlite.dialect(paramstyle="qmark"))
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def fetch_all(self, queries: Sequence[Query]) -> list[list[Any]]:
        """The rows of several statements, read in one hop and one snapshot."""
        prepared = [(self._statements.prepare(q), params) for q, params in queries]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run_all, prepared)

    def _run_all(self, prepared: list[tuple[_Prepared, dict[str, Any]]]) -> list[list[Any]]:
        conn = self._connection()
        results = []
        conn.execute("BEGIN")
        try:
            for query, params in prepared:
                rows = conn.execute(query.sql, query.values(params)).fetchall()
                results.append([query.read(row) for row in rows])
        finally:
            conn.execute("COMMIT")
        return results

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                check_same_thread=False,
                isolation_level=None,
            )
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    async def close(self) -> None:
        """Close every connection (after the workers finish what they run)."""
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()


class PostgresReads:
    """Statements run on the asyncpg connection of a pooled (autocommit) connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._statements = _Statements(engine.dialect)

    async def fetch_all(self, queries: Sequence[Query]) -> list[list[Any]]:
        """The rows of several statements on one connection; a dead one is replaced once."""
        prepared = [(self._statements.prepare(q), params) for q, params in queries]
        try:
            return await self._run_all(prepared)
        except _GONE as exc:
            log.info("a pooled database connection had died (%s); reading again", exc)
            return await self._run_all(prepared)

    async def _run_all(self, prepared: list[tuple[_Prepared, dict[str, Any]]]) -> list[list[Any]]:
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None, "a pooled connection always has its driver connection"
            try:
                results = []
                for query, params in prepared:
                    rows = await driver.fetch(query.sql, *query.values(params))
                    results.append([query.read(row) for row in rows])
                return results
            except _GONE:
                await conn.invalidate()
                raise

    async def close(self) -> None:
        await self.engine.dispose()


def _gone() -> tuple[type[BaseException], ...]:
    import asyncpg

    errors = asyncpg.exceptions
    return (
        errors.ConnectionDoesNotExistError,
        errors.PostgresConnectionError,
        errors.OperatorInterventionError,
        errors.InternalClientError,
        asyncpg.InterfaceError,
        OSError,
    )


_GONE = _gone()
