"""Alembic environment: runs on a connection handed in by ``cti.store.migrate``, or on its own."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from cti.store.db import create_engine
from cti.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    """Run the pending revisions on an open synchronous connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    """Open an async engine on the URL and run the revisions through it."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline(url: str) -> None:
    """Print the SQL instead of running it (``alembic upgrade --sql``)."""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


shared = config.attributes.get("connection")
if shared is not None:
    run_on(shared)
else:
    database_url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not database_url:
        raise RuntimeError("no database URL: set sqlalchemy.url or use cti.store.migrate")
    if context.is_offline_mode():
        run_offline(database_url)
    else:
        asyncio.run(run_async(database_url))
