"""Fixtures shared by every test group: recordings, real Redis, real PostgreSQL, SQLite."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

CAPTURES = Path(__file__).parent / "captures"
SCENARIOS = ("answered", "abandoned", "ringnoanswer", "hangup-in-ivr", "burst30")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

REDIS_URL = os.environ.get("CTI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_ADMIN_DSN = os.environ.get(
    "CTI_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def need_service(what: str, why: str) -> None:
    """Fail under CI, skip elsewhere, when a real peer the test needs is missing."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    return CAPTURES


def capture_bytes(scenario: str) -> bytes:
    return (CAPTURES / scenario / "ami.raw").read_bytes()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database, flushed before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        need_service("Redis", str(exc))
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


def _postgres_database() -> Iterator[str]:
    import asyncpg

    if not _port_open("127.0.0.1", 5432):
        need_service("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    name = f"cti_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        need_service("PostgreSQL", str(exc))
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    yield from _postgres_database()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own, dropped after it."""
    yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh database of each kind: the test runs once on SQLite, once on PostgreSQL."""
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    )
    return url
