"""The call-state machine on shapes the recordings do not show: trunks, direct dials, resync."""

from __future__ import annotations

import pytest

from cti.calls.model import CallEventType
from cti.calls.tracker import CallTracker, interface_of

pytestmark = pytest.mark.unit

TRUNK = "PJSIP/trunk-0000000a"
AGENT = "PJSIP/1001-0000000b"


def chan(
    event: str, channel: str, uniqueid: str, linkedid: str = "100.1", **extra: str
) -> dict[str, str]:
    return {
        "Event": event,
        "Channel": channel,
        "CallerIDNum": extra.pop("CallerIDNum", "+79161234567"),
        "CallerIDName": extra.pop("CallerIDName", "Иван Петров"),
        "Uniqueid": uniqueid,
        "Linkedid": linkedid,
        **extra,
    }


def dial(event: str, dest: str, dest_uid: str, **extra: str) -> dict[str, str]:
    return chan(event, TRUNK, "100.1", DestChannel=dest, DestUniqueid=dest_uid, **extra)


def kinds(events: list[object]) -> list[str]:
    return [e.type.value for e in events]  # type: ignore[attr-defined]


def test_interface_of_strips_the_channel_suffix() -> None:
    assert interface_of("PJSIP/1001-0000000b") == "PJSIP/1001"
    assert interface_of("Local/agent1@agents-00000001;1") == "Local/agent1@agents"
    assert interface_of("SIP/my-trunk") == "SIP/my-trunk"


def test_direct_dial_to_an_agent_on_a_trunk_call() -> None:
    tracker = CallTracker()
    out = tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    assert kinds(out) == ["call.started"]
    assert tracker.calls["100.1"].caller_name == "Иван Петров"
    tracker.handle(chan("Newchannel", AGENT, "100.2", CallerIDNum="1001"), 1.0)
    assert tracker.calls["100.1"].caller_num == "+79161234567"
    assert kinds(tracker.handle(dial("DialBegin", AGENT, "100.2"), 1.0)) == ["call.agent_ringing"]
    answered = tracker.handle(dial("DialEnd", AGENT, "100.2", DialStatus="ANSWER"), 4.0)
    assert kinds(answered) == ["call.answered"]
    assert answered[0].data["agent"] == "PJSIP/1001"
    assert answered[0].call["wait_seconds"] == 4.0
    assert tracker.handle(chan("Hangup", AGENT, "100.2", Cause="16"), 30.0) == []
    ended = tracker.handle(
        chan("Hangup", TRUNK, "100.1", Cause="16", **{"Cause-txt": "Normal Clearing"}), 30.0
    )
    assert kinds(ended) == ["call.ended"]
    call = ended[0].call
    assert (call["outcome"], call["talk_seconds"], call["agent"]) == (
        "answered",
        26.0,
        "PJSIP/1001",
    )
    assert call["hangup_cause_txt"] == "Normal Clearing"
    assert tracker.calls == {}


def test_agent_busy_then_queue_timeout_is_unanswered() -> None:
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    tracker.handle(chan("Newchannel", AGENT, "100.2"), 1.0)
    tracker.handle(dial("DialBegin", AGENT, "100.2"), 1.0)
    out = tracker.handle(dial("DialEnd", AGENT, "100.2", DialStatus="BUSY"), 2.0)
    assert out[0].data["outcome"] == "busy"
    tracker.handle(chan("Hangup", AGENT, "100.2"), 2.0)
    tracker.handle(chan("QueueCallerJoin", TRUNK, "100.1", Queue="sales", Position="1"), 3.0)
    tracker.handle(chan("QueueCallerLeave", TRUNK, "100.1", Queue="sales", Position="1"), 63.0)
    (ended,) = tracker.handle(chan("Hangup", TRUNK, "100.1", Cause="16"), 64.0)
    assert ended.call["outcome"] == "unanswered"
    assert ended.call["queue"] == "sales"


def test_nested_dial_from_an_agent_leg_is_not_a_second_ring() -> None:
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    tracker.handle(chan("QueueCallerJoin", TRUNK, "100.1", Queue="sales", Position="1"), 0.0)
    leg = "Local/agent1@agents-00000001;1"
    tracker.handle(
        chan(
            "AgentCalled",
            TRUNK,
            "100.1",
            Queue="sales",
            Interface="Local/agent1@agents",
            MemberName="Alice",
            DestChannel=leg,
        ),
        1.0,
    )
    nested = chan("DialBegin", "Local/agent1@agents-00000001;2", "100.3", DestChannel=AGENT)
    assert tracker.handle(nested, 1.0) == []
    assert len(tracker.calls["100.1"].rings) == 1


def test_reconcile_ends_ghosts_and_adopts_unknown_calls() -> None:
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    tracker.handle(chan("QueueCallerJoin", TRUNK, "100.1", Queue="sales", Position="1"), 1.0)
    live = [
        chan(
            "CoreShowChannel",
            "PJSIP/trunk-0000000c",
            "200.1",
            linkedid="200.1",
            Application="Queue",
            ApplicationData="support,,,,60",
            BridgeId="",
            Duration="00:00:42",
        ),
    ]
    entries = [
        {
            "Event": "QueueEntry",
            "Queue": "support",
            "Position": "2",
            "Uniqueid": "200.1",
            "Wait": "40",
        }
    ]
    events = tracker.reconcile(live, entries, 100.0)
    assert kinds(events) == ["call.ended", "call.started", "call.queued"]
    assert events[0].call["outcome"] == "lost"
    adopted = tracker.calls["200.1"]
    assert (adopted.started_at, adopted.queue, adopted.queue_position, adopted.queued_at) == (
        58.0,
        "support",
        2,
        60.0,
    )


def test_reconcile_after_a_gap_sees_the_call_was_answered() -> None:
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    live = [
        chan(
            "CoreShowChannel",
            TRUNK,
            "100.1",
            Application="Queue",
            ApplicationData="sales,,,,60",
            BridgeId="b1",
            Duration="00:01:00",
        ),
        chan(
            "CoreShowChannel",
            AGENT,
            "100.2",
            Application="AppQueue",
            ApplicationData="(Outgoing Line)",
            BridgeId="b1",
            Duration="00:00:30",
        ),
    ]
    events = tracker.reconcile(live, [], 60.0)
    assert "call.answered" in kinds(events)
    assert tracker.calls["100.1"].agent == "PJSIP/1001"
    assert tracker.calls["100.1"].queue == "sales"


def test_reconcile_with_nothing_live_ends_an_answered_call_as_answered() -> None:
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    tracker.handle(chan("Newchannel", AGENT, "100.2"), 0.0)
    tracker.handle(dial("DialBegin", AGENT, "100.2"), 0.0)
    tracker.handle(dial("DialEnd", AGENT, "100.2", DialStatus="ANSWER"), 5.0)
    (ended,) = tracker.reconcile([], [], 65.0)
    assert ended.call["outcome"] == "answered"
    assert ended.call["talk_seconds"] == 60.0
    assert "vanished" in ended.call["hangup_cause_txt"]
    assert tracker.calls == {} and tracker._legs == {}


def test_blind_transfer_is_recorded() -> None:
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    tracker.handle(chan("Newchannel", AGENT, "100.2"), 0.0)
    out = tracker.handle(
        {
            "Event": "BlindTransfer",
            "Result": "Success",
            "TransfererChannel": AGENT,
            "TransfererUniqueid": "100.2",
            "Extension": "1002",
            "Context": "agents-phones",
        },
        9.0,
    )
    assert kinds(out) == [CallEventType.TRANSFERRED.value]
    assert tracker.calls["100.1"].transfers[0]["to"] == "1002@agents-phones"


def test_unknown_and_junk_events_change_nothing() -> None:
    tracker = CallTracker()
    assert tracker.handle({"Event": "Hangup", "Uniqueid": "nope"}, 0.0) == []
    assert tracker.handle({"Event": "AgentConnect"}, 0.0) == []
    assert tracker.handle({"Response": "Success"}, 0.0) == []
    assert (
        tracker.handle({"Event": "QueueCallerJoin", "Uniqueid": "x", "Position": "abc"}, 0.0) == []
    )
    assert tracker.calls == {}


def test_to_dict_carries_every_field_but_the_live_channels() -> None:
    from dataclasses import asdict

    from cti.calls.model import AgentRing, Call, CallOutcome, CallStage

    call = Call(linkedid="1.1", started_at=1.0, stage=CallStage.ENDED, outcome=CallOutcome.ANSWERED)
    call.rings.append(
        AgentRing("PJSIP/1001", "Alice", "sales", "PJSIP/1001-1", 2.0, 3.0, "answered")
    )
    call.transfers.append({"kind": "blind", "to": "1002@x"})
    call.channels["1.1"] = "PJSIP/trunk-1"
    expected = asdict(call)
    del expected["channels"]
    expected.update(stage="ended", outcome="answered")
    assert call.to_dict() == expected


def test_attended_transfer_is_recorded_with_asterisk_22_headers() -> None:
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    tracker.handle(chan("Newchannel", AGENT, "100.2"), 0.0)
    out = tracker.handle(
        {
            "Event": "AttendedTransfer",
            "Result": "Success",
            "OrigTransfererChannel": AGENT,
            "OrigTransfererUniqueid": "100.2",
            "SecondTransfererChannel": "PJSIP/1001-0000000c",
            "SecondTransfererUniqueid": "200.1",
            "TransferTargetChannel": "PJSIP/1002-0000000d",
            "DestType": "Bridge",
        },
        9.0,
    )
    assert kinds(out) == [CallEventType.TRANSFERRED.value]
    assert tracker.calls["100.1"].transfers[0] == {
        "kind": "attended",
        "by": AGENT,
        "result": "Success",
        "to": "PJSIP/1002-0000000d",
    }


def test_reconcile_believes_the_bridge_over_a_queue_entry_read_just_before() -> None:
    """``QueueStatus`` is answered before ``CoreShowChannels``: a caller answered between
    the two is still listed as waiting, but already bridged to the agent."""
    tracker = CallTracker()
    tracker.handle(chan("Newchannel", TRUNK, "100.1"), 0.0)
    live = [
        chan(
            "CoreShowChannel",
            TRUNK,
            "100.1",
            Application="Queue",
            ApplicationData="sales,,,,60",
            BridgeId="b1",
            Duration="00:00:20",
        ),
        chan(
            "CoreShowChannel",
            AGENT,
            "100.2",
            Application="AppQueue",
            ApplicationData="(Outgoing Line)",
            BridgeId="b1",
            Duration="00:00:01",
        ),
    ]
    entries = [
        {
            "Event": "QueueEntry",
            "Queue": "sales",
            "Position": "1",
            "Uniqueid": "100.1",
            "Wait": "19",
        }
    ]
    events = tracker.reconcile(live, entries, 20.0)
    assert kinds(events)[-2:] == ["call.queued", "call.answered"]
    call = tracker.calls["100.1"]
    assert (call.agent, call.queue, call.stage.value) == ("PJSIP/1001", "sales", "talking")
