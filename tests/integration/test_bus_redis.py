"""The Redis bus against a real Redis: two processes' worth of buses, order, outages."""

from __future__ import annotations

import asyncio

import pytest

from cti.bus.redis import RedisBus
from tests.relay import Relay

pytestmark = pytest.mark.integration


async def drain(
    sub: object, count: int, timeout: float = 10.0
) -> list[tuple[str, dict[str, object]]]:
    items = []

    async def take() -> None:
        while len(items) < count:
            items.append(await sub.get())  # type: ignore[attr-defined]

    await asyncio.wait_for(take(), timeout)
    return items


async def test_messages_cross_processes_in_order(redis_url: str) -> None:
    a, b = RedisBus(redis_url), RedisBus(redis_url)
    await a.start()
    await b.start()
    on_b = b.subscribe("call.*", maxsize=20_000)
    on_a = a.subscribe("call.ended")
    for n in range(10_000):
        await a.publish("call.started" if n % 100 else "call.ended", {"n": n})
    got = await drain(on_b, 10_000)
    assert [m["n"] for _, m in got] == list(range(10_000))
    assert len(await drain(on_a, 100)) == 100
    await a.close()
    await b.close()


async def test_events_published_while_redis_is_away_arrive_later(redis_url: str) -> None:
    host, port = redis_url.split("//")[1].split("/")[0].split(":")
    relay = await Relay(host, int(port)).start()
    publisher = RedisBus(f"redis://127.0.0.1:{relay.port}/15", retry_min=0.05, retry_max=0.2)
    listener = RedisBus(redis_url)
    await publisher.start()
    await listener.start()
    sub = listener.subscribe("call.*")
    await publisher.publish("call.started", {"n": -1})
    assert (await drain(sub, 1))[0][1] == {"n": -1}
    await relay.cut()
    for n in range(50):
        await publisher.publish("call.started", {"n": n})
    await asyncio.sleep(0.5)
    assert not publisher.healthy
    await relay.restore()
    got = await drain(sub, 50)
    assert [m["n"] for _, m in got] == list(range(50))
    async with asyncio.timeout(3):
        while not publisher.healthy:
            await asyncio.sleep(0.05)
    await publisher.close()
    await listener.close()
    await relay.cut()


async def test_a_slow_subscriber_does_not_stall_the_others(redis_url: str) -> None:
    bus = RedisBus(redis_url)
    await bus.start()
    slow = bus.subscribe("*", maxsize=5)
    fast = bus.subscribe("*", maxsize=5000)
    for n in range(2000):
        await bus.publish("t", {"n": n})
    assert len(await drain(fast, 2000)) == 2000
    assert len(slow) == 5 and slow.dropped == 1995
    await bus.close()
