"""The AMI lease against a real Redis: taking, keeping, losing, giving back, and its takeovers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from cti.ami.client import AmiClient
from cti.bridge import AmiReader
from cti.bus.memory import InProcessBus
from cti.calls.service import CallService
from cti.cluster.lease import RedisLease, lease_key, term_key
from cti.cluster.ledger import LedgerKeys
from cti.cluster.ownership import AmiOwnership, ami_ownership, call_ledger
from cti.pbxsim import PbxSimulator
from cti.settings import Settings
from cti.store.db import create_engine, create_sessionmaker
from cti.store.migrate import upgrade
from cti.store.repositories import CallRepository, CallWriter
from tests.relay import Relay

pytestmark = pytest.mark.integration

SECRET = "s3cret-for-tests"
KEY = lease_key("127.0.0.1", 5038)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def lease(url: str, holder: str, ttl: float = 0.5) -> RedisLease:
    return RedisLease(url, KEY, holder, ttl=ttl, timeout=0.2)


# -- the lease on its own -------------------------------------------------------------------


async def test_one_contender_takes_the_lease_and_the_other_is_refused(redis_url: str) -> None:
    one, two = lease(redis_url, "one"), lease(redis_url, "two")
    assert await one.acquire()
    assert not await two.acquire()
    assert await one.owner() == "one"
    assert await one.acquire(), "a holder asking again (its reply lost) keeps its lease"
    await one.close()
    await two.close()


async def test_renewing_keeps_the_lease_past_its_first_term(redis_url: str) -> None:
    one, two = lease(redis_url, "one", ttl=0.3), lease(redis_url, "two", ttl=0.3)
    assert await one.acquire()
    for _ in range(4):
        await asyncio.sleep(0.1)
        assert await one.renew()
    assert not await two.acquire()
    assert await one.owner() == "one"
    await one.close()
    await two.close()


async def test_an_unrenewed_lease_expires_and_its_old_holder_cannot_renew_it(
    redis_url: str,
) -> None:
    one, two = lease(redis_url, "one", ttl=0.2), lease(redis_url, "two", ttl=0.2)
    assert await one.acquire()
    await asyncio.sleep(0.25)
    assert await two.acquire()
    assert not await one.renew(), "compare-and-pexpire: not the holder any more"
    assert await two.owner() == "two"
    await one.close()
    await two.close()


async def test_only_the_holder_can_give_the_lease_back(redis_url: str) -> None:
    one, two = lease(redis_url, "one", ttl=5.0), lease(redis_url, "two", ttl=5.0)
    assert await one.acquire()
    assert not await two.release(), "compare-and-del: not the holder"
    assert await one.owner() == "one"
    assert await one.release()
    assert await one.owner() is None
    assert await two.acquire()
    await one.close()
    await two.close()


async def test_each_term_gets_a_higher_number_and_only_the_holder_draws_it(
    redis_url: str,
) -> None:
    one, two = lease(redis_url, "one", ttl=5.0), lease(redis_url, "two", ttl=5.0)
    assert one.term_key == term_key("127.0.0.1", 5038)
    assert await one.acquire()
    first = await one.begin_term()
    assert await two.begin_term() == 0, "not the holder: no term"
    assert await one.release() and await two.acquire()
    second = await two.begin_term()
    assert 0 < first < second
    assert await one.begin_term() == 0
    await one.close()
    await two.close()


# -- ownership: AMI readers that contend for one simulated Asterisk ------------------------


class TimedReader(AmiReader):
    """The real reader, noting when it started and stopped reading."""

    started: list[float]
    stopped: list[float]

    async def start(self) -> None:
        await super().start()
        self.started.append(time.monotonic())

    async def stop(self, *, logoff: bool = True) -> None:
        was_reading = self.reading
        await super().stop(logoff=logoff)
        if was_reading:
            self.stopped.append(time.monotonic())


class Contender:
    """One would-be AMI reader, built as ``build_runtime`` builds it, on SQLite."""

    def __init__(self, sim: PbxSimulator, redis_url: str, database_url: str, ttl: float) -> None:
        settings = Settings()
        settings.ami.port = sim.port
        settings.ami.secret = SecretStr(SECRET)
        settings.ami.reconnect_min = 0.05
        settings.ami.lease_seconds = ttl
        settings.ami.lease_retry_seconds = 0.05
        settings.redis.url = redis_url
        self.engine = create_engine(database_url)
        self.repository = CallRepository(create_sessionmaker(self.engine))
        ledger = call_ledger(settings)
        assert ledger is not None
        self.ledger = ledger
        self.writer = CallWriter(ledger.journaled_store(self.repository), linger=0.01)
        self.service = CallService(InProcessBus(), ledger.sink(self.writer))
        client = AmiClient(settings.ami, wanted=self.service.handled_events)
        self.reader = TimedReader(client, self.service)
        self.reader.started, self.reader.stopped = [], []
        self.ownership: AmiOwnership = ami_ownership(
            settings, ledger, self.reader, self.service, self.repository
        )

    async def start(self) -> Contender:
        await self.writer.start()
        await self.ownership.start()
        return self

    async def stop(self) -> None:
        await self.ownership.stop()
        await self.reader.stop()
        await self.writer.close()
        await self.ownership.aclose()
        await self.engine.dispose()


def logged_in(sim: PbxSimulator) -> int:
    return sum(1 for session in sim.sessions if session.logged_in)


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    simulator = await PbxSimulator(secret=SECRET, speed=20).start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await upgrade(url)
    return url


@pytest.fixture
async def relay(redis_url: str) -> AsyncIterator[Relay]:
    """A path to the test Redis that a test can cut or freeze."""
    target = urlsplit(redis_url)
    relay = await Relay(target.hostname or "127.0.0.1", target.port or 6379).start()
    yield relay
    await relay.restore()
    await relay.cut()


def through(relay: Relay, redis_url: str) -> str:
    return urlunsplit(urlsplit(redis_url)._replace(netloc=f"127.0.0.1:{relay.port}"))


@pytest.mark.parametrize("outage", ["frozen", "refused"])
async def test_an_owner_cut_off_from_redis_stops_reading_before_another_takes_over(
    sim: PbxSimulator, redis_url: str, relay: Relay, database: str, outage: str
) -> None:
    ttl = 1.0
    first = await Contender(sim, through(relay, redis_url), database, ttl).start()
    await until(lambda: first.ownership.owner and logged_in(sim) == 1)
    second = await Contender(sim, redis_url, database, ttl).start()
    try:
        await asyncio.sleep(0.5)
        assert not second.ownership.owner and logged_in(sim) == 1
        if outage == "frozen":
            relay.freeze()  # renewals hang: a half-open path to Redis
        else:
            await relay.cut()  # renewals fail at once: Redis gone
        last_grant = first.ownership.timer.granted_at
        assert last_grant is not None
        await until(lambda: bool(second.reader.started), timeout=3 * ttl)
        assert first.reader.stopped, "the cut-off owner never stopped reading"
        stopped, started = first.reader.stopped[0], second.reader.started[0]
        assert stopped < started, "the old owner stopped reading before the new one began"
        assert stopped <= last_grant + ttl, "stopped within the term Redis gave"
        assert started - stopped < ttl / 2, "the successor came soon after the expiry"
        assert not first.ownership.owner
        await until(lambda: logged_in(sim) == 1)
    finally:
        await second.stop()
        await relay.restore()
        await first.stop()


async def test_a_clean_stop_gives_the_lease_back_at_once(
    sim: PbxSimulator, redis_url: str, database: str
) -> None:
    ttl = 3.0
    first = await Contender(sim, redis_url, database, ttl).start()
    await until(lambda: first.ownership.owner and logged_in(sim) == 1)
    second = await Contender(sim, redis_url, database, ttl).start()
    try:
        await asyncio.sleep(0.3)
        assert not second.ownership.owner
        stopping = time.monotonic()
        await first.stop()
        await until(lambda: logged_in(sim) == 1 and second.ownership.owner, timeout=ttl)
        took = time.monotonic() - stopping
        assert took < ttl / 3, f"takeover after a clean stop took {took:.2f} s"
    finally:
        await second.stop()


async def test_a_new_owner_stores_what_the_dead_one_left(
    sim: PbxSimulator, redis_url: str, database: str
) -> None:
    """A finished call not yet committed, and a live call that ended while nobody read."""
    keys = LedgerKeys.of("127.0.0.1", sim.port)
    dead = aioredis.Redis.from_url(redis_url)
    finished = {"linkedid": "1700000000.1", "started_at": 1700000000.0, "outcome": "answered"}
    stored = {"linkedid": "1700000000.2", "started_at": 1700000000.0, "outcome": "answered"}
    live = {
        "linkedid": "1700000000.3",
        "started_at": 1700000001.0,
        "caller_num": "+79161234567",
        "queue": "sales",
        "stage": "queued",
        "queued_at": 1700000003.0,
        "channels": {"1700000000.3": "Local/s@inbound-00000001;2"},
    }
    await dead.hset(keys.ended, mapping={c["linkedid"]: json.dumps(c) for c in (finished, stored)})
    await dead.hset(keys.live, live["linkedid"], json.dumps(live))
    heir = Contender(sim, redis_url, database, ttl=1.0)
    await heir.repository.save_many([{**stored, "wrapup": {"disposition": "sale"}}])
    await heir.start()
    try:
        await until(lambda: heir.writer.written >= 1 and heir.ownership.replayer.written >= 2)
        again = await heir.repository.get("1700000000.2")
        assert again is not None and again["wrapup"] == {"disposition": "sale"}, "not replaced"
        assert await heir.repository.get("1700000000.1") is not None
        vanished = await heir.repository.get("1700000000.3")
        assert vanished is not None
        assert (vanished["caller_num"], vanished["queue"], vanished["outcome"]) == (
            "+79161234567",
            "sales",
            "lost",
        )
        assert vanished["started_at"] == 1700000001.0 and vanished["vanished"] is True
        await until(lambda: heir.ledger.journaled >= 1)
        await asyncio.sleep(0.1)
        assert await dead.hgetall(keys.ended) == {}, "committed calls leave the ledger"
        assert await dead.hgetall(keys.live) == {}
    finally:
        await heir.stop()
        await dead.aclose()


async def test_a_record_of_a_vanished_call_never_replaces_one_seen_to_the_end(
    database_url: str,
) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    calls = CallRepository(create_sessionmaker(engine))
    seen: dict[str, Any] = {"linkedid": "1.1", "started_at": 1.0, "outcome": "answered"}
    guessed: dict[str, Any] = {"linkedid": "1.1", "started_at": 1.0, "outcome": "lost"}
    await calls.save_many([seen])
    await calls.save_many([{**guessed, "vanished": True}])
    await calls.save_many([{**guessed, "linkedid": "1.2"}], replace=False)
    await calls.save_many([{**seen, "linkedid": "1.2", "outcome": "abandoned"}], replace=False)
    first, second = await calls.get("1.1"), await calls.get("1.2")
    assert first is not None and first["outcome"] == "answered"
    assert second is not None and second["outcome"] == "lost"
    assert await calls.count() == 2
    await engine.dispose()
