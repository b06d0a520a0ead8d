"""Storage against real databases: SQLite and PostgreSQL, migrations, repositories, writer."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.auth.exceptions import InvalidCredentials, UserExists, UserNotFound
from cti.auth.model import Role
from cti.auth.passwords import Passwords
from cti.auth.service import (
    authenticate,
    create_user,
    deactivate_user,
    list_users,
    set_password,
)
from cti.calls.model import AgentRing, Call, CallOutcome, CallStage
from cti.store import migrate
from cti.store.db import Sessionmaker, create_engine, create_sessionmaker
from cti.store.models import Base, CallRecord
from cti.store.repositories import AuditRepository, CallRepository, UserRepository
from cti.store.writer import CallWriter

pytestmark = pytest.mark.integration

T0 = 1_795_403_632.21
TABLES = {"calls", "users", "audit_log", "messages"}


def finished_call(n: int, *, ended: float | None = None, **changes: Any) -> dict[str, Any]:
    """A finished call as the call service hands it over (``Call.to_dict()``)."""
    start = T0 + n * 100
    call = Call(
        linkedid=f"{start:.1f}",
        started_at=start,
        caller_num=f"+7916000{n:04d}",
        caller_name="Иван Петров",
        stage=CallStage.ENDED,
        queue="sales",
        queued_at=start + 1.3,
        agent="PJSIP/1001",
        agent_name="Alice",
        answered_at=start + 4.5,
        ended_at=ended if ended is not None else start + 64.25,
        wait_seconds=3.2,
        talk_seconds=59.75,
        hangup_cause=16,
        hangup_cause_txt="Normal Clearing",
        outcome=CallOutcome.ANSWERED,
        reason="delivery",
        ivr_started_at=start + 0.6,
        rings=[AgentRing("PJSIP/1001", "Alice", "sales", "PJSIP/1001-00000001", start + 1.4)],
        transfers=[{"kind": "blind", "to": "200"}],
    )
    data = call.to_dict()
    data.update(changes)
    return data


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database, emptied again (downgraded to base) afterwards."""
    await migrate.upgrade(db_url)
    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()
        await migrate.downgrade(db_url, "base")


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> Sessionmaker:
    return create_sessionmaker(engine)


@pytest.fixture
def calls(sessionmaker: Sessionmaker) -> CallRepository:
    return CallRepository(sessionmaker)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _schema_drift(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


# --- migrations -----------------------------------------------------------------------------


async def test_migrations_go_up_and_down_and_match_the_models(db_url: str) -> None:
    await migrate.upgrade(db_url)
    assert await migrate.current(db_url) == migrate.head()
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) >= TABLES
            assert await conn.run_sync(_schema_drift) == []
        await migrate.downgrade(db_url, "base")
        assert await migrate.current(db_url) is None
        async with engine.connect() as conn:
            assert not TABLES & await conn.run_sync(_tables)
        await migrate.upgrade(db_url)
        await migrate.upgrade(db_url)
        assert await migrate.current(db_url) == migrate.head()
    finally:
        await engine.dispose()
        await migrate.downgrade(db_url, "base")


async def test_upgrade_creates_the_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'cti.db'}"
    await migrate.upgrade(url)
    assert (tmp_path / "a" / "b" / "cti.db").is_file()
    with sqlite3.connect(tmp_path / "a" / "b" / "cti.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_sqlite_enforces_foreign_keys(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await engine.dispose()


# --- calls ----------------------------------------------------------------------------------


async def test_a_call_comes_back_as_it_was_saved(calls: CallRepository) -> None:
    call = finished_call(1)
    await calls.save_many([call])
    stored = await calls.get(call["linkedid"])
    assert stored is not None
    assert stored.keys() == call.keys()
    for key, value in call.items():
        if isinstance(value, float):
            assert stored[key] == pytest.approx(value, abs=1e-6), key
        else:
            assert stored[key] == value, key
    assert await calls.get("no-such-call") is None


async def test_times_are_stored_timezone_aware(sessionmaker: Sessionmaker) -> None:
    await CallRepository(sessionmaker).save_many([finished_call(1)])
    async with sessionmaker() as session:
        record = await session.scalar(select(CallRecord))
    assert record is not None
    assert record.started_at.tzinfo is not None
    assert record.started_at.utcoffset() == timedelta(0)
    assert record.started_at == datetime.fromtimestamp(T0 + 100, UTC)


async def test_save_many_is_idempotent_on_linkedid(calls: CallRepository) -> None:
    first = finished_call(1)
    await calls.save_many([first, finished_call(2)])
    await calls.save_many([first])
    assert await calls.count() == 2
    resent = finished_call(1, outcome="abandoned", agent=None, talk_seconds=None)
    await calls.save_many([resent])
    assert await calls.count() == 2
    stored = await calls.get(first["linkedid"])
    assert stored is not None
    assert (stored["outcome"], stored["agent"], stored["talk_seconds"]) == ("abandoned", None, None)


async def test_duplicates_inside_one_batch_keep_the_last(calls: CallRepository) -> None:
    await calls.save_many([finished_call(1, reason="first"), finished_call(1, reason="second")])
    assert await calls.count() == 1
    stored = await calls.get(finished_call(1)["linkedid"])
    assert stored is not None and stored["reason"] == "second"


async def test_recent_is_newest_first_and_pages_back(calls: CallRepository) -> None:
    batch = [finished_call(n, ended=T0 + 10_000 - n * 7) for n in range(25)]
    batch.append(finished_call(99, ended_at=None))
    await calls.save_many(batch[::2])
    await calls.save_many(batch[1::2])
    page = await calls.recent(10)
    ends = [c["ended_at"] for c in page]
    assert ends == sorted(ends, reverse=True)
    assert [c["linkedid"] for c in page] == [c["linkedid"] for c in batch[:10]]
    seen = list(page)
    while len(page) == 10:
        before = datetime.fromtimestamp(page[-1]["ended_at"], UTC)
        page = await calls.recent(10, before=before)
        seen.extend(page)
    assert [c["linkedid"] for c in seen] == [c["linkedid"] for c in batch[:25]]
    assert await calls.recent(0) == []


async def test_for_caller_finds_one_numbers_calls(calls: CallRepository) -> None:
    await calls.save_many([finished_call(n, caller_num="+79160000001") for n in range(3)])
    await calls.save_many([finished_call(5)])
    found = await calls.for_caller("+79160000001", 10)
    assert len(found) == 3
    assert {c["caller_num"] for c in found} == {"+79160000001"}


# --- the call writer ------------------------------------------------------------------------


class Switch:
    """A call store that can be pointed at another one, as a database coming back would."""

    def __init__(self, store: CallRepository) -> None:
        self.store = store
        self.attempts = 0

    async def save_many(self, calls: Sequence[Mapping[str, Any]]) -> None:
        self.attempts += 1
        await self.store.save_many(calls)


def unreachable_url(db_url: str, tmp_path: Path) -> str:
    """A URL of the same kind that cannot be opened: a closed port, or a missing folder."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'cti.db'}"
    return url.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_writer_writes_in_the_background(calls: CallRepository) -> None:
    writer = CallWriter(calls, batch_size=7)
    await writer.start()
    for n in range(30):
        writer.submit(finished_call(n))
    await writer.flush(timeout=10)
    assert await calls.count() == 30
    assert writer.written == 30 and writer.pending == 0
    assert await writer.close() == []


async def test_writer_gathers_calls_into_batches_and_flush_does_not_wait(
    calls: CallRepository,
) -> None:
    counting = Switch(calls)
    writer = CallWriter(counting, linger=0.3)
    await writer.start()
    for n in range(5):
        writer.submit(finished_call(n))
        await asyncio.sleep(0.01)
    await wait_until(lambda: writer.written == 5)
    assert counting.attempts == 1, "calls arriving close together go in one write"
    writer.submit(finished_call(5))
    async with asyncio.timeout(0.2):  # well inside the linger time
        await writer.flush()
    assert counting.attempts == 2 and await writer.close() == []


async def test_writer_keeps_calls_while_the_database_is_away(
    db_url: str, calls: CallRepository, tmp_path: Path
) -> None:
    dead_engine = create_engine(unreachable_url(db_url, tmp_path))
    switch = Switch(CallRepository(create_sessionmaker(dead_engine)))
    writer = CallWriter(switch, batch_size=5, retry_min=0.01, retry_max=0.05)
    await writer.start()
    try:
        for n in range(12):
            writer.submit(finished_call(n))
        await wait_until(lambda: writer.failures >= 3)
        assert writer.pending == 12
        assert not writer.healthy
        with pytest.raises(TimeoutError):
            await writer.flush(timeout=0.1)
        writer.submit(finished_call(12))
        switch.store = calls
        await writer.flush(timeout=10)
        assert writer.healthy and writer.pending == 0
        assert await calls.count() == 13
        assert [c["linkedid"] for c in await calls.recent(13)] == [
            finished_call(n)["linkedid"] for n in reversed(range(13))
        ]
    finally:
        assert await writer.close(timeout=5) == []
        await dead_engine.dispose()


async def test_writer_backoff_is_capped() -> None:
    class Down:
        def __init__(self) -> None:
            self.at: list[float] = []

        async def save_many(self, calls: Sequence[Mapping[str, Any]]) -> None:
            self.at.append(asyncio.get_running_loop().time())
            raise ConnectionRefusedError("database down")

    down = Down()
    writer = CallWriter(down, retry_min=0.01, retry_max=0.04)
    writer.submit(finished_call(1))
    await writer.start()
    await wait_until(lambda: len(down.at) >= 8)
    gaps = [b - a for a, b in zip(down.at, down.at[1:], strict=False)]
    expected = [min(0.04, 0.01 * 2**n) for n in range(len(gaps))]
    assert all(gap >= want * 0.9 for gap, want in zip(gaps, expected, strict=True))
    assert max(gaps) < 0.5, "without the cap the 8th wait would be 1.28 s"
    left = await writer.close(timeout=0.05)
    assert [c["linkedid"] for c in left] == [finished_call(1)["linkedid"]]


async def test_writer_sets_a_malformed_call_aside_and_writes_the_rest(
    calls: CallRepository,
) -> None:
    writer = CallWriter(calls)
    await writer.start()
    writer.submit(finished_call(1))
    writer.submit({"linkedid": "", "started_at": T0})
    writer.submit(finished_call(2, started_at="yesterday"))
    writer.submit(finished_call(3))
    await writer.flush(timeout=10)
    assert await calls.count() == 2
    assert len(writer.rejected) == 2
    assert writer.written == 2
    await writer.close()


class TcpProxy:
    """A TCP relay to PostgreSQL that the test can cut and restore, like a network outage."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links.update({writer, up_writer})
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()
            self.links.discard(writer)


async def test_writer_survives_a_postgresql_outage(postgres_url: str) -> None:
    await migrate.upgrade(postgres_url)
    url = make_url(postgres_url)
    proxy = TcpProxy(url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = create_engine(proxied)
    direct = create_engine(postgres_url)
    calls = CallRepository(create_sessionmaker(direct))
    writer = CallWriter(CallRepository(create_sessionmaker(engine)), retry_min=0.02, retry_max=0.1)
    await writer.start()
    try:
        writer.submit(finished_call(1))
        await writer.flush(timeout=10)
        await proxy.stop()
        for n in range(2, 12):
            writer.submit(finished_call(n))
        await wait_until(lambda: writer.failures >= 2)
        assert writer.pending == 10
        assert await calls.count() == 1
        await proxy.start()
        await writer.flush(timeout=15)
        assert await calls.count() == 11
    finally:
        with contextlib.suppress(Exception):
            await proxy.stop()
        await writer.close(timeout=1)
        await engine.dispose()
        await direct.dispose()
        await migrate.downgrade(postgres_url, "base")


async def test_writer_waits_out_a_locked_sqlite_database(sqlite_url: str) -> None:
    await migrate.upgrade(sqlite_url)
    engine = create_engine(sqlite_url, sqlite_busy_timeout_ms=20)
    calls = CallRepository(create_sessionmaker(engine))
    writer = CallWriter(calls, retry_min=0.02, retry_max=0.05)
    path = make_url(sqlite_url).database
    assert path is not None
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        await writer.start()
        for n in range(5):
            writer.submit(finished_call(n))
        await wait_until(lambda: writer.failures >= 2)
        assert writer.pending == 5
        locker.execute("COMMIT")
        await writer.flush(timeout=10)
        assert await calls.count() == 5
    finally:
        locker.close()
        await writer.close(timeout=1)
        await engine.dispose()


async def test_close_reports_what_could_not_be_written(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'cti.db'}")
    writer = CallWriter(CallRepository(create_sessionmaker(engine)), retry_min=0.01)
    await writer.start()
    writer.submit(finished_call(1))
    writer.submit(finished_call(2))
    left = await writer.close(timeout=0.2)
    assert [c["linkedid"] for c in left] == [finished_call(n)["linkedid"] for n in (1, 2)]
    with pytest.raises(RuntimeError):
        writer.submit(finished_call(3))
    await engine.dispose()


# --- users and audit ------------------------------------------------------------------------


async def test_users_create_list_password_deactivate(sessionmaker: Sessionmaker) -> None:
    passwords = Passwords.fast()
    alice = await create_user(
        sessionmaker,
        username="Alice",
        password="alice-password",
        role="supervisor",
        agent_interface="PJSIP/1001",
        actor="root",
        passwords=passwords,
    )
    assert (alice.username, alice.display_name, alice.role) == ("alice", "alice", Role.SUPERVISOR)
    assert alice.created_at.tzinfo is not None
    with pytest.raises(UserExists):
        await create_user(
            sessionmaker, username="ALICE", password="x" * 8, role="agent", passwords=passwords
        )
    await create_user(
        sessionmaker, username="bob", password="bob-password", role=Role.AGENT, passwords=passwords
    )
    assert [u.username for u in await list_users(sessionmaker)] == ["alice", "bob"]

    logged_in = await authenticate(sessionmaker, "ALICE", "alice-password", passwords)
    assert logged_in.id == alice.id
    with pytest.raises(InvalidCredentials):
        await authenticate(sessionmaker, "alice", "wrong-password", passwords)
    with pytest.raises(InvalidCredentials):
        await authenticate(sessionmaker, "nobody", "alice-password", passwords)

    await set_password(sessionmaker, "alice", "new-password", actor="root", passwords=passwords)
    with pytest.raises(InvalidCredentials):
        await authenticate(sessionmaker, "alice", "alice-password", passwords)
    assert (await authenticate(sessionmaker, "alice", "new-password", passwords)).id == alice.id

    await deactivate_user(sessionmaker, "bob", actor="root")
    with pytest.raises(InvalidCredentials):
        await authenticate(sessionmaker, "bob", "bob-password", passwords)
    with pytest.raises(UserNotFound):
        await deactivate_user(sessionmaker, "nobody")

    async with sessionmaker() as session:
        bob = await UserRepository(session).get_by_username("bob")
        entries = await AuditRepository(session).latest()
    assert bob is not None and not bob.active
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("root", "user.deactivate", "bob"),
        ("root", "user.password", "alice"),
        ("cli", "user.create", "bob"),
        ("root", "user.create", "alice"),
    ]
    assert entries[-1]["details"] == {"role": "supervisor", "agent_interface": "PJSIP/1001"}
    assert all("password" not in str(e["details"]) for e in entries)


async def test_a_failed_create_leaves_no_audit_entry(sessionmaker: Sessionmaker) -> None:
    passwords = Passwords.fast()
    await create_user(
        sessionmaker, username="carol", password="carol-pass", role="admin", passwords=passwords
    )
    with pytest.raises(UserExists):
        await create_user(
            sessionmaker, username="carol", password="carol-pass", role="admin", passwords=passwords
        )
    async with sessionmaker() as session:
        assert len(await AuditRepository(session).latest()) == 1


async def test_weak_hash_is_upgraded_on_login(sessionmaker: Sessionmaker) -> None:
    await create_user(
        sessionmaker,
        username="dave",
        password="dave-password",
        role="agent",
        passwords=Passwords.fast(),
    )
    strong = Passwords()
    await authenticate(sessionmaker, "dave", "dave-password", strong)
    async with sessionmaker() as session:
        found = await UserRepository(session).get_credentials("dave")
    assert found is not None
    assert not strong.needs_rehash(found[1])
