"""The in-process bus: order, topic patterns, slow subscribers, closing."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.bus.base import Subscription, topic_matches
from cti.bus.exceptions import BusClosedError, InvalidTopicError, MessageEncodingError
from cti.bus.factory import create_bus
from cti.bus.memory import InProcessBus
from cti.bus.redis import RedisBus

pytestmark = pytest.mark.unit


def drain_now(sub: Subscription) -> list[tuple[str, dict[str, object]]]:
    return [item for item in iter(sub.get_nowait, None)]


def test_topic_patterns() -> None:
    assert topic_matches("call.*", "call.answered")
    assert topic_matches("*", "sms.received")
    assert topic_matches("call.ended", "call.ended")
    assert not topic_matches("call.ended", "call.ended.x")
    assert not topic_matches("call.*", "agent.paused")


words = st.text(alphabet="abc.", min_size=1, max_size=6)


@given(st.lists(words, min_size=1, max_size=3), st.booleans(), words)
def test_a_subscription_wants_exactly_what_its_patterns_match(
    patterns: list[str], wildcard: bool, topic: str
) -> None:
    if wildcard:
        patterns[0] += "*"
    sub = Subscription(tuple(patterns), 10, lambda _: None)
    assert sub.wants(topic) == any(topic_matches(p, topic) for p in patterns)


async def test_each_subscriber_gets_its_topics_in_publish_order() -> None:
    bus = InProcessBus()
    calls = bus.subscribe("call.*")
    agents = bus.subscribe("agent.state")
    everything = bus.subscribe()
    for n in range(100):
        await bus.publish("call.started" if n % 2 else "agent.state", {"n": n})
    assert [m["n"] for _, m in drain_now(calls)] == list(range(1, 100, 2))
    assert [m["n"] for _, m in drain_now(agents)] == list(range(0, 100, 2))
    assert [m["n"] for _, m in drain_now(everything)] == list(range(100))
    await bus.close()


async def test_a_slow_subscriber_loses_only_its_own_backlog(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InProcessBus()
    slow = bus.subscribe("call.*", maxsize=10)
    fast = bus.subscribe("call.*", maxsize=10)
    seen: list[int] = []

    async def consume() -> None:
        async for _, message in fast:
            seen.append(message["n"])

    consumer = asyncio.create_task(consume())
    with caplog.at_level(logging.WARNING, logger="cti.bus"):
        for n in range(1000):
            await bus.publish("call.started", {"n": n})
            await asyncio.sleep(0)
    await bus.close()
    await asyncio.wait_for(consumer, 1)
    assert seen == list(range(1000)) and fast.dropped == 0
    assert slow.dropped == 990
    assert drain_now(slow) == [("call.started", {"n": n}) for n in range(990, 1000)]
    warnings = [r for r in caplog.records if "slow event subscriber" in r.getMessage()]
    assert len(warnings) == 1 and getattr(warnings[0], "error_id", None) == "bus.slow_subscriber"


async def test_publishing_never_waits_for_a_full_subscriber() -> None:
    bus = InProcessBus()
    stuck = bus.subscribe("x", maxsize=1)
    others_ran = 0

    async def other() -> None:
        nonlocal others_ran
        others_ran += 1

    task = asyncio.create_task(other())
    for n in range(10_000):
        await bus.publish("x", {"n": n})
    assert others_ran == 0, "publish yielded to the event loop"
    await task
    assert stuck.dropped == 9_999 and stuck.get_nowait() == ("x", {"n": 9_999})


async def test_a_waiting_consumer_wakes_on_publish_and_stops_on_close() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("x")

    async def consume() -> list[dict[str, object]]:
        return [message async for _, message in sub]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await bus.publish("x", {"a": 1})
    await bus.publish("x", {"a": 2})
    await bus.close()
    assert await asyncio.wait_for(task, 1) == [{"a": 1}, {"a": 2}]
    assert sub.closed


async def test_a_closed_subscription_receives_nothing_more() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("x")
    sub.close()
    await bus.publish("x", {"a": 1})
    assert len(sub) == 0
    with pytest.raises(StopAsyncIteration):
        await sub.get()


async def test_a_closed_bus_refuses_use() -> None:
    bus = InProcessBus()
    await bus.close()
    with pytest.raises(BusClosedError) as err:
        await bus.publish("x", {})
    assert err.value.error_id == "bus.closed"
    with pytest.raises(BusClosedError):
        bus.subscribe("x")


@pytest.mark.parametrize("pattern", ["", "call.*.x", "*call"])
async def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidTopicError) as err:
        InProcessBus().subscribe(pattern)
    assert err.value.error_id == "bus.invalid_topic"


@pytest.mark.parametrize("topic", ["", "call.*"])
async def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(InvalidTopicError):
        await InProcessBus().publish(topic, {})


async def test_check_json_refuses_what_could_not_cross_processes() -> None:
    bus = InProcessBus(check_json=True)
    sub = bus.subscribe()
    with pytest.raises(MessageEncodingError) as err:
        await bus.publish("call.started", {"at": datetime(2026, 1, 1)})
    assert err.value.error_id == "bus.message_not_json" and len(sub) == 0
    await InProcessBus().publish("call.started", {"at": datetime(2026, 1, 1)})


def test_the_factory_picks_redis_only_when_configured() -> None:
    assert isinstance(create_bus(None), InProcessBus)
    assert isinstance(create_bus(""), InProcessBus)
    assert isinstance(create_bus("redis://127.0.0.1:6379/0"), RedisBus)
