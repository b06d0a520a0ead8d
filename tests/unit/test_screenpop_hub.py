"""The hub's outboxes: a slow screen is closed, never holds up the others."""

from __future__ import annotations

import asyncio

import pytest

from cti.bus.memory import InProcessBus
from screenpop.hub import SLOW, Hub
from screenpop.state import ENDED_KEEP, MemoryPopState

pytestmark = pytest.mark.unit


def pop(call_id: str, stage: str = "ringing") -> dict[str, object]:
    return {"type": "pop", "version": 1, "call": {"id": call_id, "stage": stage}}


async def test_a_slow_screen_is_closed_and_a_fast_one_gets_everything() -> None:
    bus = InProcessBus()
    await bus.start()
    hub = Hub(bus, MemoryPopState(), outbox=10)
    await hub.start()
    got: list[str] = []
    stuck = asyncio.Event()

    async def fast(text: str) -> None:
        got.append(text)

    async def slow(_: str) -> None:
        await stuck.wait()

    quick = hub.connect("alice", fast)
    sluggish = hub.connect("alice", slow)
    pumps = [asyncio.create_task(quick.pump()), asyncio.create_task(sluggish.pump())]
    for n in range(50):
        await bus.publish("screenpop.pop", {"agent": "alice", "message": pop(str(n))})
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert len(got) == 50
    assert sluggish.doomed.is_set() and sluggish.closing is not None
    assert sluggish.closing[0] == SLOW and hub.slow_closed == 1
    pumps[1].cancel()
    hub.disconnect(sluggish)
    await hub.close()
    assert (await asyncio.wait_for(pumps[0], 1))[0] == 1001
    await bus.close()


async def test_messages_for_nobody_here_are_dropped_cheaply() -> None:
    hub = Hub(InProcessBus(), MemoryPopState())
    hub.deliver("nobody", pop("1"))
    assert hub.delivered == 0 and hub.connections == 0


async def test_state_keeps_live_pops_and_forgets_old_ended_ones() -> None:
    now = [1000.0]
    state = MemoryPopState(clock=lambda: now[0])
    await state.save_pop("alice", pop("a", "ended"))
    await state.save_pop("alice", pop("b", "ringing"))
    await state.save_pop("alice", pop("b", "talking"))
    assert [p["call"]["stage"] for p in await state.pops("alice")] == ["ended", "talking"]
    now[0] += ENDED_KEEP + 1
    assert [p["call"]["id"] for p in await state.pops("alice")] == ["b"]
    await state.drop_pop("alice", "b")
    assert await state.pops("alice") == []
