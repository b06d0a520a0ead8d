"""Agents' live state folded from Asterisk's own queue-member events (the recordings)."""

from __future__ import annotations

import pytest

from cti.ami.protocol import AmiFramer, parse_message
from cti.routing.board import AgentBoard, AgentProfile
from cti.routing.engine import Agent, AgentState
from tests.conftest import capture_bytes

pytestmark = pytest.mark.unit

ALICE = AgentProfile("alice", "Local/agent1@agents", {"sales": 3})


def board() -> tuple[AgentBoard, list[Agent]]:
    seen: list[Agent] = []
    b = AgentBoard(seen.append)
    b.set_profiles([ALICE])
    return b, seen


def member(event: str, **fields: str) -> dict[str, str]:
    base = {
        "Event": event,
        "Queue": "sales",
        "MemberName": "Alice",
        "Interface": "Local/agent1@agents",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "LastCall": "0",
        "LoginTime": "1795403601",
    }
    return {**base, **fields}


def test_an_agent_not_in_any_queue_is_logged_out() -> None:
    _, seen = board()
    assert seen[-1].state is AgentState.LOGGED_OUT


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"Status": "1"}, AgentState.AVAILABLE),
        ({"Status": "6"}, AgentState.RINGING),
        ({"Status": "2"}, AgentState.ON_CALL),
        ({"Status": "5"}, AgentState.LOGGED_OUT),
        ({"Paused": "1", "PausedReason": "lunch"}, AgentState.PAUSED),
    ],
)
def test_member_status_becomes_agent_state(fields: dict[str, str], state: AgentState) -> None:
    b, seen = board()
    b.on_event(member("QueueMemberStatus", **fields), now=1795403700.0)
    assert seen[-1].state is state
    if state is AgentState.PAUSED:
        assert seen[-1].pause_reason == "lunch"


def test_removed_from_the_last_queue_means_logged_out() -> None:
    b, seen = board()
    b.on_event(member("QueueMemberAdded"), now=1.0)
    b.on_event(member("QueueMemberAdded", Queue="support"), now=2.0)
    b.on_event(member("QueueMemberRemoved"), now=3.0)
    assert seen[-1].state is AgentState.AVAILABLE
    b.on_event(member("QueueMemberRemoved", Queue="support"), now=4.0)
    assert seen[-1].state is AgentState.LOGGED_OUT


def test_wrap_up_keeps_an_agent_from_being_rung_until_it_ends() -> None:
    b, seen = board()
    b.on_event(member("QueueMemberStatus"), now=100.0)
    b.on_event(
        {"Event": "AgentComplete", "Interface": "Local/agent1@agents", "Wrapuptime": "30"},
        now=100.0,
    )
    assert seen[-1].state_at(110.0) is AgentState.WRAP_UP
    assert seen[-1].state_at(131.0) is AgentState.AVAILABLE


def test_a_read_back_replaces_what_was_known() -> None:
    b, seen = board()
    b.on_event(member("QueueMemberStatus", Paused="1"), now=1.0)
    b.on_snapshot(
        [
            {
                "Event": "QueueMember",
                "Queue": "sales",
                "Name": "Alice",
                "Location": "Local/agent1@agents",
                "Status": "1",
                "Paused": "0",
                "LastCall": "1795403000",
                "LoginTime": "0",
            }
        ]
    )
    assert seen[-1].state is AgentState.AVAILABLE and seen[-1].idle_since == 1795403000


@pytest.mark.parametrize("scenario", ["answered", "burst30"])
def test_the_recordings_leave_alice_free_after_her_calls(scenario: str) -> None:
    b, seen = board()
    framer = AmiFramer()
    states = []
    for raw in framer.feed(capture_bytes(scenario)):
        msg = parse_message(raw)
        if msg is not None:
            b.on_event(msg, now=1795403700.0)
            states.append(seen[-1].state)
    assert AgentState.ON_CALL in states
    assert seen[-1].state_at(1795499999.0) is AgentState.AVAILABLE


def test_occupancy_is_talk_time_over_time_logged_in() -> None:
    b, seen = board()
    b.on_event(member("QueueMemberStatus", LoginTime="1000"), now=1000.0)
    done = {"Event": "AgentComplete", "Interface": "Local/agent1@agents", "TalkTime": "300"}
    b.on_event(done, now=2000.0)
    assert seen[-1].occupancy == pytest.approx(0.3)
    b.on_event({**done, "TalkTime": "200"}, now=3000.0)
    assert seen[-1].occupancy == pytest.approx(0.25)
