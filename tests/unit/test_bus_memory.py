"""The in-process bus: order, patterns, slow subscribers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cti.bus.base import topic_matches
from cti.bus.memory import InProcessBus

pytestmark = pytest.mark.unit


def test_topic_patterns() -> None:
    assert topic_matches("call.*", "call.answered")
    assert topic_matches("*", "sms.received")
    assert topic_matches("call.ended", "call.ended")
    assert not topic_matches("call.ended", "call.ended.x")
    assert not topic_matches("call.*", "agent.paused")


async def test_order_and_patterns() -> None:
    bus = InProcessBus()
    calls = bus.subscribe("call.*")
    everything = bus.subscribe()
    for n in range(100):
        await bus.publish("call.started" if n % 2 else "agent.state", {"n": n})
    got = [calls.get_nowait() for _ in range(len(calls))]
    assert [m["n"] for _, m in got if m] == list(range(1, 100, 2))
    assert len(everything) == 100
    await bus.close()


async def test_a_slow_subscriber_loses_only_its_own_backlog(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InProcessBus()
    slow = bus.subscribe("call.*", maxsize=10)
    fast = bus.subscribe("call.*", maxsize=10_000)
    with caplog.at_level(logging.WARNING):
        for n in range(1000):
            await bus.publish("call.started", {"n": n})
    assert len(slow) == 10 and slow.dropped == 990
    assert slow.get_nowait() == ("call.started", {"n": 990})
    assert len(fast) == 1000 and fast.dropped == 0
    assert len([r for r in caplog.records if "slow event subscriber" in r.getMessage()]) == 1


async def test_iteration_ends_when_closed() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("x")
    await bus.publish("x", {"a": 1})

    async def consume() -> list[dict[str, int]]:
        return [message async for _, message in sub]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await bus.close()
    assert await asyncio.wait_for(task, 1) == [{"a": 1}]
    await bus.publish("x", {"a": 2})
