"""The simulator writes every event and reply of the recordings byte for byte as Asterisk 22."""

from __future__ import annotations

from collections import Counter

import pytest

from cti.ami.protocol import AmiFramer, parse_headers
from cti.pbxsim.render import (
    BANNER,
    SCHEMAS,
    render_error,
    render_event,
    render_goodbye,
    render_list_complete,
    render_list_start,
    render_response,
    render_success,
)
from tests.conftest import SCENARIOS, capture_bytes

pytestmark = pytest.mark.protocol

RECORDED_EVENTS = {
    "Newchannel",
    "NewCallerid",
    "NewConnectedLine",
    "LocalBridge",
    "DialBegin",
    "DialState",
    "DialEnd",
    "Newstate",
    "Newexten",
    "VarSet",
    "AGIExecStart",
    "AGIExecEnd",
    "DTMFBegin",
    "DTMFEnd",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentRingNoAnswer",
    "AgentConnect",
    "AgentComplete",
    "QueueMemberStatus",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "SoftHangupRequest",
    "HangupRequest",
    "Hangup",
    "DeviceStateChange",
    "OriginateResponse",
    "FullyBooted",
    "SuccessfulAuth",
    "QueueParams",
    "QueueMember",
    "QueueEntry",
    "QueueStatusComplete",
    "QueueSummary",
    "QueueSummaryComplete",
    "CoreShowChannel",
    "CoreShowChannelsComplete",
}


def frames(scenario: str) -> list[bytes]:
    return AmiFramer().feed(capture_bytes(scenario))


def rerender(frame: bytes) -> bytes:
    """Build the message again from its values alone, the way the simulator does."""
    values = parse_headers(frame)
    if "Event" in values:
        return render_event(values["Event"], values)
    response, action_id = values["Response"], values.get("ActionID", "")
    rest = [(k, v) for k, v in values.items() if k not in ("Response", "ActionID")]
    if response == "Goodbye":
        return render_goodbye(action_id)
    if values.get("EventList") == "start":
        return render_list_start(action_id, values["Message"])
    if list(values) == ["Response", "ActionID", "Message"] and response == "Success":
        return render_success(action_id, values["Message"])
    return render_response(response, action_id, rest)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_recorded_message_renders_identically(scenario: str) -> None:
    for frame in frames(scenario):
        assert rerender(frame) == frame + b"\r\n\r\n", frame[:60]


def test_the_recordings_hold_every_event_type_the_simulator_must_cover() -> None:
    seen = Counter(
        parse_headers(frame).get("Event") for scenario in SCENARIOS for frame in frames(scenario)
    )
    assert set(seen) - {None} == RECORDED_EVENTS
    assert set(SCHEMAS) >= RECORDED_EVENTS


def test_privilege_is_part_of_the_format_not_of_the_values() -> None:
    rendered = render_event("Newexten", {"Privilege": "call,all", "Channel": "X"})
    assert b"Privilege: dialplan,all\r\n" in rendered


def test_list_items_carry_action_id_only_when_the_action_had_one() -> None:
    with_id = render_list_complete("QueueStatusComplete", "qs-1", 3)
    without = render_list_complete("QueueStatusComplete", "", 0)
    assert with_id == (
        b"Event: QueueStatusComplete\r\nActionID: qs-1\r\nEventList: Complete\r\n"
        b"ListItems: 3\r\n\r\n"
    )
    assert without == b"Event: QueueStatusComplete\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"


def test_replies_follow_manager_c() -> None:
    assert BANNER == b"Asterisk Call Manager/11.0.0\r\n"
    assert render_error("a1", "Authentication failed") == (
        b"Response: Error\r\nActionID: a1\r\nMessage: Authentication failed\r\n\r\n"
    )
    assert render_error("", "Permission denied") == (
        b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
    )
    assert render_goodbye("bye") == (
        b"Response: Goodbye\r\nActionID: bye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    )


def test_hangup_carries_tech_cause_only_when_given() -> None:
    plain = render_event("Hangup", {"Channel": "PJSIP/1001-00000001", "Cause": "16"})
    assert b"TechCause" not in plain
    sip = render_event("Hangup", {"Channel": "PJSIP/1001-00000001", "TechCause": "487"})
    assert sip.endswith(b"Cause-txt: \r\nTechCause: 487\r\n\r\n")
