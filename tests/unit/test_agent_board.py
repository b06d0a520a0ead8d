"""Agents' live state folded from Asterisk's own queue-member events (the recordings)."""

from __future__ import annotations

import json

import pytest

from cti.ami.protocol import AmiFramer, parse_message
from cti.routing.board import AgentBoard, AgentProfile, Outlook
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


def test_queue_figures_agree_with_asterisks_own_read_back() -> None:
    """The callers waiting, folded from the events of a burst of 30 calls, equal the
    ``QueueParams`` Asterisk sent in the middle of it; the read-back's hold time wins."""
    b, _ = board()
    framer = AmiFramer()
    read_back: dict[str, list[dict[str, str]]] = {}
    for now, raw in enumerate(framer.feed(capture_bytes("burst30"))):
        msg = parse_message(raw)
        if msg is None:
            continue
        kind = msg.get("Event", "")
        if kind in ("QueueParams", "QueueMember", "QueueEntry"):
            if kind == "QueueParams":
                assert b.outlook(msg["Queue"]).position == int(msg["Calls"]) + 1
            read_back.setdefault(kind, []).append(dict(msg))
        elif kind == "QueueStatusComplete":
            entries, params = read_back.get("QueueEntry", []), read_back["QueueParams"]
            b.on_snapshot(read_back["QueueMember"], entries, params, now=float(now))
            for queue in params:
                assert b.holdtime(queue["Queue"]) == int(queue["Holdtime"])
                assert b.outlook(queue["Queue"]).position == int(queue["Calls"]) + 1
        else:
            b.on_event(msg, now=float(now))
    assert len(read_back["QueueParams"]) >= 2
    assert b.outlook("sales").position == 1


def test_a_read_back_gives_the_oldest_wait_and_the_expected_wait() -> None:
    b, _ = board()
    b.on_snapshot(
        [],
        entries=[
            {"Queue": "sales", "Uniqueid": "1.1", "Wait": "40"},
            {"Queue": "sales", "Uniqueid": "1.2", "Wait": "5"},
        ],
        params=[{"Queue": "sales", "Holdtime": "30", "Completed": "3", "Abandoned": "1"}],
        now=1000.0,
    )
    assert b.oldest_waits(1010.0) == {"sales": 50.0}
    assert b.outlook("sales") == Outlook(position=3, expected_wait=30)
    connect = {"Event": "AgentConnect", "Queue": "sales", "Uniqueid": "1.1", "HoldTime": "50"}
    b.on_event(connect, now=1010.0)
    assert b.outlook("sales") == Outlook(position=2, expected_wait=35)  # (3 * 30 + 50) >> 2
    assert b.outlook("billing") == Outlook(position=1, expected_wait=None)


def test_a_board_restored_from_another_process_export_routes_the_same() -> None:
    """The state another process follows (``cti.cluster.replica``): through JSON, the same
    agents, waits and expected waits, and later events move both boards alike."""
    b, seen = board()
    framer = AmiFramer()
    messages = [m for raw in framer.feed(capture_bytes("burst30")) if (m := parse_message(raw))]
    half = len(messages) // 2
    for now, msg in enumerate(messages[:half]):
        b.on_event(msg, now=1795403700.0 + now)
    done = {"Event": "AgentComplete", "Interface": "Local/agent1@agents", "TalkTime": "300"}
    b.on_event({**done, "Queue": "sales", "Wrapuptime": "30"}, now=1795403900.0)
    copy, copied = board()
    copy.restore(json.loads(json.dumps(b.export())))
    assert copied[-1] == seen[-1]
    for now, msg in enumerate(messages[half:]):
        b.on_event(msg, now=1795404000.0 + now)
        copy.on_event(msg, now=1795404000.0 + now)
        assert copied[-1] == seen[-1]
    later = 1795405000.0
    assert copy.oldest_waits(later) == b.oldest_waits(later)
    assert copy.outlook("sales") == b.outlook("sales")
    assert copy.holdtime("sales") == b.holdtime("sales") > 0


def test_restoring_something_else_fails_loudly() -> None:
    b, _ = board()
    with pytest.raises((KeyError, TypeError)):
        b.restore({"members": {"PJSIP/1001": {"queues": [], "colour": "red"}}})
