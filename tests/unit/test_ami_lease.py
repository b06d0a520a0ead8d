"""The AMI lease's timing and the hand-over of live calls between processes: pure parts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.calls.model import CallEventType
from cti.calls.service import CallService
from cti.calls.tracker import CallTracker
from cti.cluster.lease import LeaseTimer, lease_key

pytestmark = pytest.mark.unit

TRUNK = "PJSIP/trunk-0000000a"
AGENT = "PJSIP/1001-0000000b"


def chan(event: str, channel: str, uniqueid: str, **extra: str) -> dict[str, str]:
    return {
        "Event": event,
        "Channel": channel,
        "CallerIDNum": "+79161234567",
        "CallerIDName": "Иван Петров",
        "Uniqueid": uniqueid,
        "Linkedid": "100.1",
        **extra,
    }


def test_the_key_names_the_asterisk_and_keeps_its_keys_in_one_cluster_slot() -> None:
    assert lease_key("pbx.example.org", 5038) == "cti:ami-owner:{pbx.example.org:5038}"


def test_a_term_runs_from_when_the_request_left_less_the_margin() -> None:
    timer = LeaseTimer(ttl=3.0, margin=0.3)
    assert not timer.held(0.0) and timer.remaining(0.0) == 0.0
    assert timer.next_renewal() is None
    timer.granted(10.0)
    assert timer.held(12.69) and not timer.held(12.7)
    assert timer.remaining(12.0) == pytest.approx(0.7)
    assert timer.next_renewal() == 11.0
    timer.revoke()
    assert not timer.held(10.5) and timer.next_renewal() is None


def test_a_margin_as_long_as_the_term_is_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        LeaseTimer(ttl=1.0, margin=1.0)


@given(
    ttl=st.floats(0.3, 60.0),
    steps=st.lists(
        st.tuples(st.floats(0.0, 30.0), st.floats(0.0, 5.0), st.floats(0.0, 90.0)),
        min_size=1,
        max_size=20,
    ),
)
def test_the_owner_never_believes_in_a_lease_redis_may_have_given_away(
    ttl: float, steps: list[tuple[float, float, float]]
) -> None:
    """Whatever the delays, while ``held`` says yes the key has not expired in Redis."""
    timer = LeaseTimer(ttl=ttl, margin=ttl / 10)
    sent = 0.0
    expiry = 0.0
    for gap, delay, probe in steps:
        sent += gap
        timer.granted(sent)
        expiry = sent + delay + ttl  # Redis runs the command ``delay`` after it left
        now = sent + probe
        if timer.held(now):
            assert now < expiry


def followed_call() -> CallTracker:
    """A caller queued, an agent's phone ringing: what the old owner was following."""
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 1.0)
    tracker.handle(chan("AGIExecStart", TRUNK, "100.1"), 2.0)
    tracker.handle(chan("VarSet", TRUNK, "100.1", Variable="CTI_REASON", Value="order"), 3.0)
    tracker.handle(chan("QueueCallerJoin", TRUNK, "100.1", Queue="sales", Position="1"), 4.0)
    tracker.handle(chan("Newchannel", AGENT, "100.2"), 5.0)
    tracker.handle(
        chan(
            "AgentCalled",
            TRUNK,
            "100.1",
            Queue="sales",
            Interface="PJSIP/1001",
            MemberName="Alice",
            DestChannel=AGENT,
        ),
        5.0,
    )
    return tracker


def adopted(old: CallTracker) -> CallTracker:
    """A new owner's tracker, from the old one's export as it travels through Redis."""
    new = CallTracker()
    state = json.loads(json.dumps(old.export("100.1")))
    new.adopt(state)
    return new


def test_an_adopted_call_carries_on_and_ends_with_its_whole_history() -> None:
    new = adopted(followed_call())
    answered = new.handle(
        chan("AgentConnect", TRUNK, "100.1", Queue="sales", DestChannel=AGENT, HoldTime="3"), 8.0
    )
    assert [e.type for e in answered] == [CallEventType.ANSWERED]
    new.handle(chan("Hangup", AGENT, "100.2"), 20.0)
    (ended,) = new.handle(chan("Hangup", TRUNK, "100.1", Cause="16"), 20.0)
    call = ended.call
    assert (call["started_at"], call["ivr_started_at"], call["reason"]) == (1.0, 2.0, "order")
    assert (call["queue"], call["agent_name"], call["outcome"]) == ("sales", "Alice", "answered")
    assert call["talk_seconds"] == 12.0 and ended.data == {}
    assert new.calls == {}


def test_an_adopted_call_gone_from_asterisk_is_recorded_as_vanished() -> None:
    new = adopted(followed_call())
    (ended,) = new.reconcile([], [], 30.0)
    assert ended.type is CallEventType.ENDED and ended.data == {"vanished": True}
    assert (ended.call["caller_num"], ended.call["queue"]) == ("+79161234567", "sales")
    assert ended.call["outcome"] == "lost"


def test_an_adopted_call_living_on_in_a_leg_it_never_saw_is_kept() -> None:
    new = adopted(followed_call())
    newer_leg = chan("CoreShowChannel", "PJSIP/1002-0000000c", "100.3", Duration="00:00:02")
    assert new.reconcile([newer_leg], [], 30.0) == []
    assert set(new.calls["100.1"].channels) == {"100.3"}


class Sink:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def submit(self, call: dict[str, Any]) -> None:
        self.calls.append(call)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        pass


async def test_the_service_hands_over_and_marks_the_record_of_a_vanished_call() -> None:
    sink = Sink()
    service = CallService(sink, sink)
    state = followed_call().export("100.1")
    assert state is not None
    assert service.restart_tracking([state, {"linkedid": "broken"}]) == 1
    await service.on_snapshot([], [])
    (record,) = sink.calls
    assert record["linkedid"] == "100.1" and record["vanished"] is True
    assert service.restart_tracking() == 0 and service.active() == []
