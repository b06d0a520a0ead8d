"""Which screens show a call: ringing, answered elsewhere, transferred, ended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cti.calls.model import CallEvent, CallEventType
from screenpop.service import PopService
from screenpop.state import MemoryPopState

pytestmark = pytest.mark.unit

PHONES = {"pjsip/1001": "alice", "pjsip/1002": "bob", "pjsip/1003": "carol"}


class Bus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        body = message["message"]
        what = body["call"]["stage"] if body["type"] == "pop" else body["type"]
        self.sent.append((topic.rsplit(".", 1)[1], message["agent"], what))


def event(what: CallEventType, **data: str) -> CallEvent:
    call = {"linkedid": "1.1", "caller_num": None, "queue": "sales", "started_at": 1.0}
    return CallEvent(what, 2.0, call, data)


async def run(*events: CallEvent) -> tuple[Bus, MemoryPopState]:
    bus, state = Bus(), MemoryPopState()
    service = PopService(bus, state, None, lambda i: PHONES.get(i.lower()))
    for item in events:
        service.on_call_event(item)
    await asyncio.sleep(0.05)
    await service.aclose()
    return bus, state


async def test_a_ring_answered_elsewhere_closes_the_others_and_the_end_stays_for_wrap_up() -> None:
    bus, state = await run(
        event(CallEventType.AGENT_RINGING, agent="PJSIP/1001"),
        event(CallEventType.AGENT_RINGING, agent="PJSIP/1002"),
        event(CallEventType.ANSWERED, agent="PJSIP/1002"),
        event(CallEventType.ENDED),
    )
    assert bus.sent == [
        ("pop", "alice", "ringing"),
        ("pop", "bob", "ringing"),
        ("close", "alice", "pop.closed"),
        ("pop", "bob", "talking"),
        ("pop", "bob", "ended"),
    ]
    assert await state.pops("alice") == []
    assert [p["call"]["stage"] for p in await state.pops("bob")] == ["ended"]


async def test_an_attended_transfer_hands_the_card_over() -> None:
    bus, _ = await run(
        event(CallEventType.AGENT_RINGING, agent="PJSIP/1001"),
        event(CallEventType.ANSWERED, agent="PJSIP/1001"),
        event(CallEventType.TRANSFERRED, to="PJSIP/1003-0000000a", kind="attended"),
        event(CallEventType.ENDED),
    )
    assert bus.sent[2:] == [
        ("pop", "alice", "talking"),
        ("pop", "carol", "talking"),
        ("pop", "alice", "ended"),
        ("pop", "carol", "ended"),
    ], "both talked to the caller: both get the wrap-up"


async def test_a_blind_transfer_says_where_and_the_next_ring_pops_up() -> None:
    bus, state = await run(
        event(CallEventType.AGENT_RINGING, agent="PJSIP/1001"),
        event(CallEventType.ANSWERED, agent="PJSIP/1001"),
        event(CallEventType.TRANSFERRED, to="1003@agents-phones", kind="blind"),
        event(CallEventType.AGENT_RINGING, agent="PJSIP/1003"),
    )
    assert bus.sent[2:] == [("pop", "alice", "talking"), ("pop", "carol", "ringing")]
    (card,) = await state.pops("alice")
    assert card["call"]["transferred_to"] == "1003@agents-phones"


async def test_a_ring_nobody_answered_leaves_no_card() -> None:
    bus, state = await run(
        event(CallEventType.AGENT_RINGING, agent="PJSIP/1001"),
        event(CallEventType.AGENT_RING_ENDED, agent="PJSIP/1001", outcome="noanswer"),
        event(CallEventType.AGENT_RINGING, agent="PJSIP/9999"),
    )
    assert bus.sent == [("pop", "alice", "ringing"), ("close", "alice", "pop.closed")]
    assert await state.pops("alice") == []


async def test_a_call_adopted_at_a_takeover_ends_on_the_screens_the_old_reader_used() -> None:
    """A process that took AMI over knows nothing of who saw the call: the call says."""
    call = {
        "linkedid": "1.1",
        "caller_num": None,
        "queue": "sales",
        "started_at": 1.0,
        "agent": "PJSIP/1002",
        "answered_at": 3.0,
        "rings": [{"interface": "PJSIP/1001"}, {"interface": "PJSIP/1002"}],
    }
    bus, state = await run(CallEvent(CallEventType.ENDED, 9.0, call, {}))
    assert bus.sent == [("close", "alice", "pop.closed"), ("pop", "bob", "ended")]
    assert [p["call"]["stage"] for p in await state.pops("bob")] == ["ended"]
