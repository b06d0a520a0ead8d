"""Every real Asterisk 22 recording, replayed in random chunk sizes, gives the right calls."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import SCENARIOS, capture_bytes
from tests.replay import replay_calls

pytestmark = pytest.mark.protocol


def only(calls: list[dict[str, object]]) -> dict[str, object]:
    assert len(calls) == 1
    return calls[0]


@pytest.mark.parametrize("seed", range(5))
def test_answered(seed: int) -> None:
    calls, tracker = replay_calls(capture_bytes("answered"), seed)
    call = only(calls)
    assert call["caller_num"] == "+79161234567"
    assert call["caller_name"] == "Ivan Petrov"
    assert call["queue"] == "sales"
    assert call["agent"] == "Local/agent1@agents"
    assert call["agent_name"] == "Alice"
    assert call["outcome"] == "answered"
    assert call["talk_seconds"] == 3.0
    assert call["wait_seconds"] == 1.0
    assert call["reason"] == "delivery"
    assert call["hangup_cause"] == 16
    assert call["linkedid"] == "1795403632.0"
    assert not tracker.calls


@pytest.mark.parametrize("seed", range(5))
def test_abandoned(seed: int) -> None:
    calls, _ = replay_calls(capture_bytes("abandoned"), seed)
    call = only(calls)
    assert (call["queue"], call["outcome"], call["wait_seconds"]) == ("support", "abandoned", 8.0)
    assert call["agent"] is None
    rings = call["rings"]
    assert isinstance(rings, list) and [r["interface"] for r in rings] == ["Local/agent3@agents"]


@pytest.mark.parametrize("seed", range(5))
def test_ring_no_answer_then_second_attempt(seed: int) -> None:
    calls, _ = replay_calls(capture_bytes("ringnoanswer"), seed)
    call = only(calls)
    assert call["outcome"] == "abandoned"
    assert call["wait_seconds"] == 24.0
    rings = call["rings"]
    assert isinstance(rings, list)
    assert [r["outcome"] for r in rings] == ["noanswer", "cancelled"]


@pytest.mark.parametrize("seed", range(5))
def test_hangup_in_ivr(seed: int) -> None:
    calls, _ = replay_calls(capture_bytes("hangup-in-ivr"), seed)
    call = only(calls)
    assert call["outcome"] == "ivr_hangup"
    assert call["queue"] is None
    assert call["ivr_started_at"] is not None


def queue_event_counts(raw: bytes) -> Counter[str]:
    names = Counter[str]()
    for line in raw.split(b"\r\n"):
        if line.startswith(b"Event: "):
            names[line[7:].decode()] += 1
    return names


@pytest.mark.parametrize("seed", range(3))
def test_burst30_split_matches_the_queue_events(seed: int) -> None:
    raw = capture_bytes("burst30")
    calls, tracker = replay_calls(raw, seed)
    counts = queue_event_counts(raw)
    outcomes = Counter(str(call["outcome"]) for call in calls)
    assert len(calls) == 30
    assert outcomes["answered"] == counts["AgentConnect"] == 10
    assert outcomes["abandoned"] == counts["QueueCallerAbandon"] == 20
    assert sorted(str(c["caller_num"]) for c in calls) == [f"+7916100{n:04d}" for n in range(30)]
    assert Counter(str(c["agent"]) for c in calls if c["agent"]) == {
        "Local/agent1@agents": 5,
        "Local/agent2@agents": 5,
    }
    assert not tracker.calls


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_tracker_forgets_every_finished_call(scenario: str) -> None:
    _, tracker = replay_calls(capture_bytes(scenario), 7)
    assert tracker.calls == {}
    assert tracker._channel_call == {}
    assert tracker._legs == {}
