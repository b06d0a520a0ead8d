"""Apply or undo database migrations from code (``cti db upgrade``, start-up), no alembic.ini."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from cti.store.db import create_engine, ensure_sqlite_dir, safe_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

_Step = Callable[[Config], None]


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations (and the URL, if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url
    return config


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError("no migrations found")
    return revision


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``, creating the SQLite folder if needed."""
    ensure_sqlite_dir(url)
    log.info("migrating %s to %s", safe_url(url), revision)
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` back to ``revision`` (``base``: no tables at all)."""
    log.info("downgrading %s to %s", safe_url(url), revision)
    await _run(url, lambda config: command.downgrade(config, revision))


async def current(url: str) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def _run(url: str, step: _Step) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_with_connection, step)
    finally:
        await engine.dispose()


def _with_connection(connection: Connection, step: _Step) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    step(config)
