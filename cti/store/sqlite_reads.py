"""Hot reads on SQLite in one thread hop.

aiosqlite moves every step of a query (cursor, execute, fetch, close) to its thread and
back: four hops of tens of microseconds each. For the caller lookup, on every call, this
runs the whole query in one hop on a plain ``sqlite3`` connection kept per worker
thread. Statements are SQLAlchemy ``select()`` objects compiled once for SQLite, so the
query is still written in one place.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Select
from sqlalchemy.dialects import sqlite

_DIALECT = sqlite.dialect(paramstyle="qmark")
AnySelect = Select[*tuple[Any, ...]]


class SqliteReads:
    """A few read-only ``sqlite3`` connections, one per worker thread."""

    def __init__(self, path: Path, *, workers: int = 2, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._compiled: dict[AnySelect, tuple[str, list[str]]] = {}

    def prepare(self, statement: AnySelect) -> tuple[str, list[str]]:
        """The SQL of ``statement`` and the order of its parameters, compiled once."""
        found = self._compiled.get(statement)
        if found is None:
            compiled = statement.compile(dialect=_DIALECT)
            found = (str(compiled), list(compiled.positiontup or []))
            self._compiled[statement] = found
        return found

    async def fetch(self, statement: AnySelect, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of ``statement`` (built once, reused) with these bound values."""
        sql, names = self.prepare(statement)
        values = tuple(params[name] for name in names)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, sql, values)

    def _run(self, sql: str, values: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn.execute(sql, values).fetchall()

    async def close(self) -> None:
        """Close every connection (after the workers finish what they run)."""
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
