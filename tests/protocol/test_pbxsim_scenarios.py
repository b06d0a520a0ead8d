"""The simulator's calls match the recordings: same call-relevant events, same call records."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from cti.ami.protocol import AmiFramer, parse_message
from cti.calls.model import CallEventType
from cti.calls.tracker import CallTracker
from cti.pbxsim import PbxSimulator
from tests.conftest import capture_bytes

pytestmark = pytest.mark.protocol

RECORDED = ("answered", "abandoned", "ringnoanswer", "hangup-in-ivr")
FIELDS = (
    "caller_num",
    "caller_name",
    "queue",
    "agent",
    "agent_name",
    "outcome",
    "wait_seconds",
    "talk_seconds",
    "hangup_cause",
    "reason",
)
HANDLED = CallTracker().handled_events


def messages(raw: bytes, *, banner: bool) -> list[dict[str, str]]:
    return [parse_message(frame) for frame in AmiFramer(expect_banner=banner).feed(raw)]


def call_events(stream: list[dict[str, str]]) -> list[str]:
    """The events the tracker reads, with the Local half of each hangup."""
    names = []
    for message in stream:
        name = message.get("Event", "")
        if name not in HANDLED or "ActionID" in message:
            continue
        if name == "VarSet" and not message.get("Variable", "").startswith("CTI_"):
            continue
        names.append(f"{name}:{message['Channel'][-2:]}" if name == "Hangup" else name)
    return names


def records(stream: list[dict[str, str]]) -> list[dict[str, Any]]:
    tracker = CallTracker()
    ended = [
        event.call
        for message in stream
        if "Event" in message
        for event in tracker.handle(message, 0.0)
        if event.type is CallEventType.ENDED
    ]
    assert tracker.calls == {}
    return [{key: call[key] for key in FIELDS} for call in ended]


async def simulate(scenario: str, **options: Any) -> list[dict[str, str]]:
    sim = PbxSimulator(speed=60, **options)
    out: list[bytes] = []
    sim.pbx.emit = out.append
    await sim.place_call(scenario)
    return messages(b"".join(out), banner=False)


@pytest.mark.parametrize("scenario", RECORDED)
async def test_same_events_and_same_record_as_the_recording(scenario: str) -> None:
    recorded = messages(capture_bytes(scenario), banner=True)
    simulated = await simulate(scenario)
    assert call_events(simulated) == call_events(recorded)
    assert records(simulated) == records(recorded)


@pytest.mark.parametrize("scenario", RECORDED)
async def test_every_event_type_has_the_recorded_field_order(scenario: str) -> None:
    order = {
        m["Event"]: list(m) for m in messages(capture_bytes(scenario), banner=True) if "Event" in m
    }
    for message in await simulate(scenario):
        name = message["Event"]
        if name in order and not name.startswith(("Dial", "AgentComplete")):
            assert list(message) == order[name], name


async def test_trunk_shaped_calls_give_device_interfaces() -> None:
    (record,) = records(await simulate("answered", shape="trunk"))
    assert (record["agent"], record["outcome"], record["talk_seconds"]) == (
        "PJSIP/1001",
        "answered",
        3.0,
    )


async def test_a_burst_splits_like_its_queue_events() -> None:
    sim = PbxSimulator(speed=100, seed=3)
    out: list[bytes] = []
    sim.pbx.emit = out.append
    for queue in sim.pbx.queues.values():
        for member in queue.members:
            member.agent.talk = 20
    tasks = [
        sim.pbx.call(
            sim.plan("abandoned", caller=f"+7916100{n:04d}", name=f"Caller {n}", digits="2")
        )
        for n in range(30)
    ]
    outcomes = Counter(await asyncio.gather(*tasks))
    stream = messages(b"".join(out), banner=False)
    got = records(stream)
    events = Counter(m["Event"] for m in stream if "Event" in m)
    assert len(got) == 30
    assert Counter(r["outcome"] for r in got) == outcomes
    assert outcomes["answered"] == events["AgentConnect"] > 0
    assert outcomes["abandoned"] == events["QueueCallerAbandon"] > 0
    assert sim.pbx.channels == {}
