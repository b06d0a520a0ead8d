"""The Redis bus against a real Redis: two processes' worth of buses, order, outages."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from cti.bus.base import Delivery, Subscription
from cti.bus.exceptions import BusClosedError, MessageEncodingError
from cti.bus.redis import RedisBus
from tests.relay import Relay

pytestmark = pytest.mark.integration


def quick(url: str, *, max_buffer: int = 100_000, health_interval: float = 5.0) -> RedisBus:
    """A bus that retries every 50-200 ms, so outage tests stay short."""
    return RedisBus(
        url,
        max_buffer=max_buffer,
        health_interval=health_interval,
        retry_min=0.05,
        retry_max=0.2,
    )


async def take(sub: Subscription, count: int, timeout: float = 10.0) -> list[Delivery]:
    items: list[Delivery] = []

    async def collect() -> None:
        while len(items) < count:
            items.append(await sub.get())

    await asyncio.wait_for(collect(), timeout)
    return items


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def relay(redis_url: str) -> AsyncIterator[Relay]:
    """A cuttable path to the test Redis; the shared Redis server itself is never stopped."""
    target = urlsplit(redis_url)
    relay = await Relay(target.hostname or "127.0.0.1", target.port or 6379).start()
    yield relay
    await relay.restore()
    await relay.cut()


def via(relay: Relay, redis_url: str) -> str:
    return f"redis://127.0.0.1:{relay.port}{urlsplit(redis_url).path}"


async def test_two_processes_see_each_others_messages_in_order(redis_url: str) -> None:
    a, b = RedisBus(redis_url), RedisBus(redis_url)
    await a.start()
    await b.start()
    on_a, on_b = a.subscribe("call.*", maxsize=20_000), b.subscribe("call.*", maxsize=20_000)
    agents_on_b = b.subscribe("agent.*")
    for n in range(10_000):
        await a.publish("call.answered" if n % 3 else "call.ringing", {"n": n, "from": "a"})
    await b.publish("call.ended", {"n": 0, "from": "b"})
    await b.publish("agent.paused", {"agent": "1001"})
    got_b = await take(on_b, 10_001)
    assert [m["n"] for _, m in got_b if m["from"] == "a"] == list(range(10_000))
    assert [t for t, _ in got_b[:3]] == ["call.ringing", "call.answered", "call.answered"]
    assert ("call.ended", {"n": 0, "from": "b"}) in got_b
    got_a = await take(on_a, 10_001)
    assert [m["n"] for _, m in got_a if m["from"] == "a"] == list(range(10_000))
    assert await take(agents_on_b, 1) == [("agent.paused", {"agent": "1001"})]
    assert a.healthy and b.healthy and a.pending == 0
    await a.close()
    await b.close()


async def test_channel_prefixes_keep_deployments_apart(redis_url: str) -> None:
    one, other = RedisBus(redis_url, "site1:"), RedisBus(redis_url, "site2:")
    await one.start()
    await other.start()
    sub = other.subscribe()
    await one.publish("call.started", {"site": 1})
    await other.publish("call.started", {"site": 2})
    assert await take(sub, 1) == [("call.started", {"site": 2})]
    await asyncio.sleep(0.1)
    assert len(sub) == 0
    await one.close()
    await other.close()


async def test_a_slow_subscriber_is_bounded_and_does_not_stall_the_others(
    redis_url: str,
) -> None:
    bus = RedisBus(redis_url)
    await bus.start()
    slow = bus.subscribe("*", maxsize=5)
    fast = bus.subscribe("*", maxsize=2000)
    seen: list[int] = []

    async def consume() -> None:
        async for _, message in fast:
            seen.append(message["n"])

    consumer = asyncio.create_task(consume())
    for n in range(2000):
        await bus.publish("t", {"n": n})
    await until(lambda: len(seen) == 2000)
    assert seen == list(range(2000)) and fast.dropped == 0
    assert len(slow) == 5 and slow.dropped == 1995
    await bus.close()
    await consumer


async def test_publishes_during_an_outage_are_delivered_in_order_after_it(
    redis_url: str, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = quick(via(relay, redis_url))
    listener = RedisBus(redis_url)
    await publisher.start()
    await listener.start()
    sub = listener.subscribe("call.*")
    await publisher.publish("call.started", {"n": -1})
    assert await take(sub, 1) == [("call.started", {"n": -1})]
    with caplog.at_level(logging.INFO, logger="cti.bus"):
        await relay.cut()
        for n in range(50):
            await publisher.publish("call.started", {"n": n})
        await until(lambda: not publisher.healthy)
        await asyncio.sleep(0.5)
        assert len(sub) == 0 and publisher.pending == 50
        await relay.restore()
        got = await take(sub, 50)
        await until(lambda: publisher.healthy)
    assert [m["n"] for _, m in got] == list(range(50))
    down = [r for r in caplog.records if getattr(r, "error_id", None) == "bus.redis_down"]
    back = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(down) == 1 and len(back) == 1
    await publisher.close()
    await listener.close()


async def test_a_bus_started_while_redis_is_unreachable_catches_up(
    redis_url: str, relay: Relay
) -> None:
    await relay.cut()
    late = quick(via(relay, redis_url))
    await late.start(timeout=0.3)
    local = late.subscribe()
    watcher = RedisBus(redis_url)
    await watcher.start()
    remote = watcher.subscribe()
    for n in range(20):
        await late.publish("sms.received", {"n": n})
    assert not late.healthy
    await relay.restore()
    assert [m["n"] for _, m in await take(remote, 20)] == list(range(20))
    assert [m["n"] for _, m in await take(local, 20)] == list(range(20))
    await late.close()
    await watcher.close()


async def test_a_listener_that_was_away_counts_what_it_missed(redis_url: str, relay: Relay) -> None:
    publisher = RedisBus(redis_url)
    listener = quick(via(relay, redis_url))
    await publisher.start()
    await listener.start()
    sub = listener.subscribe()
    await publisher.publish("t", {"n": 0})
    assert await take(sub, 1) == [("t", {"n": 0})]
    await relay.cut()
    await until(lambda: not listener.healthy)
    for n in range(1, 11):
        await publisher.publish("t", {"n": n})
    await until(lambda: publisher.pending == 0)
    await relay.restore()
    await until(lambda: listener.healthy)
    await publisher.publish("t", {"n": 11})
    assert await take(sub, 1) == [("t", {"n": 11})]
    assert listener.lost == 10
    await publisher.close()
    await listener.close()


async def test_a_half_open_connection_is_noticed_and_replaced(redis_url: str, relay: Relay) -> None:
    listener = quick(via(relay, redis_url), health_interval=0.1)
    publisher = RedisBus(redis_url)
    await listener.start()
    await publisher.start()
    sub = listener.subscribe()
    relay.freeze()
    await until(lambda: not listener.healthy, timeout=3)
    await relay.restore()
    await until(lambda: listener.healthy, timeout=3)
    await publisher.publish("t", {"after": "freeze"})
    assert await take(sub, 1) == [("t", {"after": "freeze"})]
    await publisher.close()
    await listener.close()


async def test_duplicates_and_foreign_messages_on_the_channel_are_ignored(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = RedisBus(redis_url)
    await bus.start()
    sub = bus.subscribe()
    raw = aioredis.Redis.from_url(redis_url)
    envelope = {"src": "other-process", "seq": 1, "topic": "t", "message": {"n": 1}}
    with caplog.at_level(logging.WARNING, logger="cti.bus"):
        await raw.publish(bus.channel, json.dumps(envelope))
        await raw.publish(bus.channel, json.dumps(envelope))
        await raw.publish(bus.channel, b"not json")
        await raw.publish(bus.channel, json.dumps({**envelope, "seq": 2, "message": {"n": 2}}))
        got = await take(sub, 2)
    assert [m for _, m in got] == [{"n": 1}, {"n": 2}]
    assert bus.duplicates == 1 and bus.received == 2
    assert any(getattr(r, "error_id", None) == "bus.malformed" for r in caplog.records)
    await raw.aclose()
    await bus.close()


async def test_errors_in_the_callers_own_message_are_raised_to_it(redis_url: str) -> None:
    bus = RedisBus(redis_url)
    await bus.start()
    with pytest.raises(MessageEncodingError):
        await bus.publish("call.started", {"at": datetime(2026, 1, 1)})
    assert bus.pending == 0 and bus.published == 0
    await bus.close()
    with pytest.raises(BusClosedError):
        await bus.publish("call.started", {})
    with pytest.raises(BusClosedError):
        bus.subscribe("call.*")


async def test_the_outage_buffer_is_bounded(redis_url: str, relay: Relay) -> None:
    await relay.cut()
    bus = quick(via(relay, redis_url), max_buffer=100)
    await bus.start(timeout=0.2)
    sub = bus.subscribe()
    for n in range(250):
        await bus.publish("t", {"n": n})
    assert bus.pending == 100 and bus.dropped == 150
    await relay.restore()
    assert [m["n"] for _, m in await take(sub, 100)] == list(range(150, 250))
    await bus.close()
