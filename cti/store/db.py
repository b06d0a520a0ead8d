"""Async engines and sessions for SQLite (the default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

Sessionmaker = async_sessionmaker[AsyncSession]

SQLITE_BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT = 10.0


def async_url(url: str | URL) -> URL:
    """The URL with an async driver: ``sqlite://`` becomes aiosqlite, ``postgresql://`` asyncpg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.get_driver_name() != "aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in {"postgresql", "postgres"} and parsed.get_driver_name() != "asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a file-backed SQLite URL, or None (in-memory, or not SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_dir(url: str | URL) -> None:
    """Create the folder of a SQLite file if it is missing (nothing for other databases)."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def create_engine(
    url: str | URL, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any
) -> AsyncEngine:
    """An async engine: SQLite in WAL mode with foreign keys and a busy timeout, or asyncpg.

    Creates no connection and no folder; ``cti.store.migrate.upgrade`` makes the folder.
    """
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = sqlite_path(parsed) is None
        if in_memory:
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"timeout": sqlite_busy_timeout_ms / 1000})
        engine = _create_async_engine(parsed, **kwargs)
        _sqlite_pragmas(engine, busy_timeout_ms=sqlite_busy_timeout_ms, wal=not in_memory)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT})
    return _create_async_engine(parsed, **kwargs)


def create_reader(url: str | URL) -> AsyncEngine | None:
    """A small engine for the hot read path (caller lookup, dossier), or None for SQLite.

    On PostgreSQL it runs in autocommit and without a ping per checkout: one round trip per
    query instead of four (ping, BEGIN, query, ROLLBACK). A connection that died with the
    server is noticed by the query itself (``PostgresReads`` then reads again once).
    """
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        return None
    return _create_async_engine(
        parsed,
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        pool_size=5,
        max_overflow=10,
        connect_args={"timeout": CONNECT_TIMEOUT},
    )


def create_sessionmaker(engine: AsyncEngine) -> Sessionmaker:
    """Sessions whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(sessionmaker: Sessionmaker, timeout: float = 2.0) -> bool:
    """Whether the database answers ``SELECT 1`` within ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout), sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("database is not reachable: %s: %s", type(exc).__name__, exc)
        return False
    return True


@contextlib.asynccontextmanager
async def open_database(url: str | URL) -> AsyncIterator[Sessionmaker]:
    """A session factory over a new engine, disposed on exit (for the CLI and scripts)."""
    engine = create_engine(url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def _sqlite_pragmas(engine: AsyncEngine, *, busy_timeout_ms: int, wal: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()
