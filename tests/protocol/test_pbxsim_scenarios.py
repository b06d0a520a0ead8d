"""The simulator's calls match the recordings: same events, same fields, same call records.

Asterisk publishes device states and queue member states from other threads, so their
place in the stream moves from run to run (the recordings themselves disagree); they
are compared as state, not as position. Everything a channel does is compared in order,
per channel and, for the events the call tracker reads, across the whole stream.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

import pytest

from cti.ami.protocol import AmiFramer, parse_message
from cti.calls.model import CallEventType
from cti.calls.tracker import CallTracker
from cti.pbxsim.engine import PbxConfig, ProbeScript, Shape
from cti.pbxsim.scenarios import generate, generate_burst, plan_for, run_calls
from tests.conftest import CAPTURES, capture_bytes

pytestmark = pytest.mark.protocol

RECORDED = ("answered", "abandoned", "ringnoanswer", "hangup-in-ivr")
ASYNC_STATE = frozenset({"DeviceStateChange", "QueueMemberStatus"})
RECORD_FIELDS = (
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

Message = dict[str, str]


def messages(raw: bytes, *, banner: bool) -> list[Message]:
    return [parse_message(frame) for frame in AmiFramer(expect_banner=banner).feed(raw)]


def recorded(scenario: str) -> list[Message]:
    """The recording's events, without the replies to the recording client's actions."""
    return [
        m
        for m in messages(capture_bytes(scenario), banner=True)
        if "Event" in m
        and "ActionID" not in m
        and m["Event"] not in ("FullyBooted", "SuccessfulAuth")
    ]


def simulated(scenario: str, **options: Any) -> list[Message]:
    return messages(generate(scenario, **options).raw, banner=False)


def role(channel: str) -> str:
    """``Local/agent3@agents-00000005;1`` and ``-00000006;1`` play the same role."""
    return re.sub(r"-[0-9a-f]{8}", "", channel)


def per_channel(stream: list[Message]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = defaultdict(list)
    for m in stream:
        if "Channel" in m and m["Event"] != "OriginateResponse":
            detail = m.get("Application") or m.get("Variable") or m.get("DialStatus", "")
            seen[role(m["Channel"])].append(f"{m['Event']} {detail}".strip())
    return dict(seen)


def tracked(stream: list[Message]) -> list[str]:
    """The events the call tracker reads, in stream order, with the channel's role."""
    names = []
    for m in stream:
        name = m["Event"]
        if name not in HANDLED:
            continue
        if name == "VarSet" and not m["Variable"].startswith("CTI_"):
            continue
        names.append(f"{name} {role(m.get('Channel', ''))}")
    return names


def records(stream: list[Message]) -> list[dict[str, Any]]:
    tracker = CallTracker()
    ended = [
        event.call
        for message in stream
        for event in tracker.handle(message, 0.0)
        if event.type is CallEventType.ENDED
    ]
    assert tracker.calls == {}, "a call was left open"
    return [{key: call[key] for key in RECORD_FIELDS} for call in ended]


@pytest.mark.parametrize("scenario", RECORDED)
def test_same_events_in_the_same_order(scenario: str) -> None:
    want, got = recorded(scenario), simulated(scenario)
    assert tracked(got) == tracked(want)
    assert per_channel(got) == per_channel(want)
    strip = [m["Event"] for m in want if m["Event"] not in ASYNC_STATE | {"OriginateResponse"}]
    assert Counter(m["Event"] for m in got if m["Event"] in strip) == Counter(strip)


@pytest.mark.parametrize("scenario", RECORDED)
def test_every_event_type_has_the_recorded_field_order(scenario: str) -> None:
    shapes: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for m in messages(capture_bytes(scenario), banner=True):
        shapes[m.get("Event", "")].add(tuple(k for k in m if k != "ActionID"))
    for m in simulated(scenario):
        assert tuple(k for k in m if k != "ActionID") in shapes[m["Event"]], m["Event"]


@pytest.mark.parametrize("scenario", RECORDED)
def test_same_call_record_as_the_recording(scenario: str) -> None:
    assert records(simulated(scenario)) == records(recorded(scenario))


@pytest.mark.parametrize("scenario", RECORDED)
def test_same_fastagi_results_on_ami(scenario: str) -> None:
    def results(stream: list[Message]) -> list[tuple[str, str, str]]:
        return [
            (m["Command"], m["ResultCode"], m["Result"])
            for m in stream
            if m["Event"] == "AGIExecEnd"
        ]

    assert results(simulated(scenario)) == results(recorded(scenario))


@pytest.mark.parametrize("scenario", RECORDED)
def test_same_fastagi_dialogue_as_the_recording(scenario: str) -> None:
    """The probe IVR's commands and Asterisk's replies, write by write (header aside)."""
    lines = (CAPTURES / scenario / "agi.jsonl").read_text().splitlines()
    want = [(step["dir"], step["data"]) for step in map(json.loads, lines)][1:]
    session = generate(scenario).calls[0].agi
    assert session is not None
    got = session.transcript[1:]
    assert [d for d in got if d[0] == "out"] == [d for d in want if d[0] == "out"]
    replies = [text for way, text in got if way == "in"]
    recorded_replies = [text for way, text in want if way == "in"]
    assert replies[: len(recorded_replies)] == recorded_replies
    assert replies[len(recorded_replies) :] in ([], ["510 Invalid or unknown command\n"]), (
        "the hangup-in-ivr probe closed before reading its last reply"
    )


@pytest.mark.parametrize("scenario", RECORDED)
def test_device_and_member_states_end_where_the_recording_ends(scenario: str) -> None:
    def final(stream: list[Message]) -> dict[str, str]:
        state = {}
        for m in stream:
            if m["Event"] == "DeviceStateChange":
                state[m["Device"]] = m["State"]
            elif m["Event"] == "QueueMemberStatus":
                state[f"{m['Queue']}/{m['MemberName']}"] = m["Status"]
        return state

    got, want = final(simulated(scenario)), final(recorded(scenario))
    assert {k: v for k, v in got.items() if k in want} == want


def test_names_and_ids_have_asterisks_shapes() -> None:
    stream = simulated("ringnoanswer", start=1795403685.5)
    first = stream[0]
    assert first["Channel"] == "Local/s@inbound-00000000;1"
    assert first["Uniqueid"] == first["Linkedid"] == "1795403685.0"
    legs = [m["Channel"] for m in stream if m["Event"] == "Newchannel"]
    assert legs == [
        "Local/s@inbound-00000000;1",
        "Local/s@inbound-00000000;2",
        "Local/agent3@agents-00000001;1",
        "Local/agent3@agents-00000001;2",
        "Local/agent3@agents-00000002;1",
        "Local/agent3@agents-00000002;2",
    ]
    uniqueids = [m["Uniqueid"] for m in stream if m["Event"] == "Newchannel"]
    assert [u.split(".")[1] for u in uniqueids] == ["0", "1", "2", "3", "4", "5"]
    assert uniqueids[4].split(".")[0] == "1795403702", "second ring: 15 s timeout + 1 s retry"
    assert {m["Linkedid"] for m in stream if "Linkedid" in m} == {"1795403685.0"}
    ring = next(m for m in stream if m["Event"] == "AgentRingNoAnswer")
    assert ring["RingTime"] == "15000"


def test_same_seed_same_bytes() -> None:
    first = generate("answered", seed=7).raw
    assert first == generate("answered", seed=7).raw
    other = generate("answered", seed=8).raw
    assert other != first

    def without_random_parts(raw: bytes) -> bytes:
        return re.sub(rb"(CommandId|BridgeUniqueid): \S+", b"", raw)

    assert without_random_parts(other) == without_random_parts(first)


@pytest.mark.parametrize("scenario", RECORDED)
def test_trunk_shape_gives_the_same_records_with_device_channels(scenario: str) -> None:
    stream = simulated(scenario, shape="trunk")
    inbound = stream[0]
    assert re.fullmatch(r"PJSIP/trunk-[0-9a-f]{8}", inbound["Channel"])
    assert inbound["Uniqueid"] == inbound["Linkedid"]
    assert inbound["ChannelState"] == "4" and inbound["CallerIDNum"] == "+79161234567"
    assert not any(m.get("Channel", "").startswith("Local/") for m in stream)
    want = records(recorded(scenario))
    got = records(stream)
    for record in want:
        if record["agent"]:
            record["agent"] = "PJSIP/1001"
    assert got == want


def test_trunk_agent_legs_ring_then_answer() -> None:
    stream = simulated("answered", shape="trunk")
    alice = [
        m
        for m in stream
        if m["Event"] == "QueueMemberStatus"
        and m["Queue"] == "sales"
        and m["MemberName"] == "Alice"
    ]
    assert [m["Status"] for m in alice] == ["6", "2", "1"], "ringing, in use, free again"
    assert [m["CallsTaken"] for m in alice] == ["0", "0", "1"]
    assert alice[0]["LastCall"] == "0"
    assert int(alice[-1]["LastCall"]) >= int(float(stream[0]["Uniqueid"]))
    leg = next(m for m in stream if m["Event"] == "AgentCalled")
    assert re.fullmatch(r"PJSIP/1001-[0-9a-f]{8}", leg["DestChannel"])
    assert leg["DestLinkedid"] == leg["Linkedid"] == stream[0]["Uniqueid"]


def test_unanswered_call_leaves_the_queue_on_its_own_timeout() -> None:
    stream = simulated("unanswered")
    assert not any(m["Event"] == "QueueCallerAbandon" for m in stream)
    assert any(m["Event"] == "QueueCallerLeave" for m in stream)
    status = [m["Value"] for m in stream if m.get("Variable") == "QUEUESTATUS"]
    assert status == ["TIMEOUT"]
    (record,) = records(stream)
    assert (record["outcome"], record["queue"]) == ("unanswered", "support")


def test_fail_open_when_the_ivr_is_unreachable() -> None:
    config = PbxConfig.recordings(ivr=("127.0.0.1", 9))
    stream = messages(generate("answered", config=config).raw, banner=False)
    assert not any(m["Event"].startswith("AGIExec") for m in stream)
    agistatus = [m["Value"] for m in stream if m.get("Variable") == "AGISTATUS"]
    assert agistatus == ["FAILURE"]
    (record,) = records(stream)
    assert (record["queue"], record["outcome"]) == ("sales", "answered"), "the default queue"


def test_direct_dial_of_the_agent_chosen_by_the_ivr() -> None:
    plan = plan_for("answered")
    plan.probe = ProbeScript(agent="PJSIP/1002", bogus=False)
    config = PbxConfig.production(missing_prompts=frozenset())
    stream = messages(run_calls([(0.0, plan)], config=config).raw, banner=False)
    assert [m["Value"] for m in stream if m.get("Variable") == "AGISTATUS"] == ["SUCCESS"]
    dials = [
        (m["Context"], m["Priority"], m["AppData"])
        for m in stream
        if m["Event"] == "Newexten" and m["Application"] == "Dial"
    ]
    assert dials == [("cti-route", "4", "PJSIP/1002,15")]
    dial = [
        (m["Event"], m.get("DialString") or m.get("DialStatus"))
        for m in stream
        if "Dial" in m["Event"]
    ]
    assert dial == [("DialBegin", "1002"), ("DialState", "RINGING"), ("DialEnd", "ANSWER")]
    assert not any(m["Event"].startswith(("QueueCaller", "Agent")) for m in stream)
    (record,) = records(stream)
    assert (record["agent"], record["outcome"], record["queue"]) == ("PJSIP/1002", "answered", None)


# -- bursts ------------------------------------------------------------------------------


def queue_sizes_are_consistent(stream: list[Message]) -> dict[str, list[str]]:
    """Replay the queue events; every Position and Count must follow from the ones before."""
    waiting: dict[str, list[str]] = defaultdict(list)
    for m in stream:
        name = m["Event"]
        if name == "QueueCallerJoin":
            queue = waiting[m["Queue"]]
            queue.append(m["Uniqueid"])
            assert m["Position"] == m["Count"] == str(len(queue))
        elif name == "QueueCallerAbandon":
            queue = waiting[m["Queue"]]
            assert m["Position"] == str(queue.index(m["Uniqueid"]) + 1)
        elif name == "QueueCallerLeave":
            queue = waiting[m["Queue"]]
            assert m["Position"] == str(queue.index(m["Uniqueid"]) + 1)
            queue.remove(m["Uniqueid"])
            assert m["Count"] == str(len(queue))
    return waiting


def counted_talk_times(stream: list[Message]) -> list[int]:
    """Talk times ``app_queue`` counts: only a member's latest connected call (one start time)."""
    latest: dict[str, str] = {}
    talks = []
    for m in stream:
        if m["Event"] == "AgentConnect":
            latest[m["Interface"]] = m["Uniqueid"]
        elif m["Event"] == "AgentComplete" and latest.get(m["Interface"]) == m["Uniqueid"]:
            talks.append(int(m["TalkTime"]))
            del latest[m["Interface"]]
    return talks


def holdtime_from(stream: list[Message], queue: str) -> int:
    """``recalc_holdtime`` replayed: the first call sets it while nothing is counted yet."""
    latest: dict[str, str] = {}
    counted = holdtime = 0
    for m in stream:
        if m.get("Queue") != queue:
            continue
        if m["Event"] == "AgentConnect":
            hold = int(m["HoldTime"])
            holdtime = hold if counted == 0 else (holdtime * 3 + hold) >> 2
            latest[m["Interface"]] = m["Uniqueid"]
        elif m["Event"] == "AgentComplete" and latest.get(m["Interface"]) == m["Uniqueid"]:
            counted += 1
            del latest[m["Interface"]]
        elif m["Event"] == "QueueCallerAbandon":
            counted += 1
    return holdtime


def exponential(values: list[int]) -> int:
    average = 0
    for n, value in enumerate(values):
        average = value if n == 0 else (average * 3 + value) >> 2
    return average


def test_a_burst_keeps_queue_positions_counts_and_statistics_consistent() -> None:
    run = generate_burst(30)
    assert run.pbx is not None
    stream = messages(run.raw, banner=False)
    assert queue_sizes_are_consistent(stream) == {"sales": []}
    outcomes = Counter(run.outcomes)
    got = records(stream)
    assert len(got) == 30
    assert Counter(r["outcome"] for r in got) == outcomes
    assert outcomes["answered"] > 0 and outcomes["abandoned"] > 0
    events = Counter(m["Event"] for m in stream)
    assert events["AgentConnect"] == events["AgentComplete"] == outcomes["answered"]
    assert events["QueueCallerAbandon"] == outcomes["abandoned"]
    sales = run.pbx.queues["sales"]
    talks = counted_talk_times(stream)
    assert 0 < len(talks) < outcomes["answered"], "Local agents take calls on top of calls"
    assert (sales.completed, sales.abandoned) == (len(talks), outcomes["abandoned"])
    assert sales.holdtime == holdtime_from(stream, "sales")
    assert sales.talktime == exponential(talks)
    assert sum(m.calls for m in sales.members) == sales.completed
    abandons = [m for m in stream if m["Event"] == "QueueCallerAbandon"]
    assert all(int(m["HoldTime"]) in (10, 11) for m in abandons), "hold: 10 s in the queue"
    assert run.pbx.channels == {} and run.pbx.calls == {}


@pytest.mark.parametrize("shape", ["local", "trunk"])
def test_queue_status_and_summary_report_the_played_calls(shape: Shape) -> None:
    run = generate_burst(12, gap=0.5, shape=shape, hold=30.0)
    assert run.pbx is not None
    stream = messages(run.raw, banner=False)
    items = dict(run.pbx.queue_status("sales"))
    params = items["QueueParams"]
    outcomes = Counter(run.outcomes)
    talks = counted_talk_times(stream)
    assert params["Completed"] == str(len(talks))
    assert params["TalkTime"] == str(exponential(talks))
    assert params["Abandoned"] == str(outcomes["abandoned"])
    assert params["Holdtime"] == str(holdtime_from(stream, "sales"))
    assert params["Calls"] == "0"
    members = [values for name, values in run.pbx.queue_status("sales") if name == "QueueMember"]
    assert sum(int(m["CallsTaken"]) for m in members) == len(talks)
    (summary,) = run.pbx.queue_summary("sales")
    assert summary["HoldTime"] == params["Holdtime"]
    assert summary["TalkTime"] == params["TalkTime"]
    assert (summary["LoggedIn"], summary["Available"], summary["Callers"]) == ("2", "2", "0")
    if shape == "trunk":
        assert len(talks) == outcomes["answered"], "one call at a time per phone"


def test_a_trunk_burst_never_rings_a_busy_agent() -> None:
    run = generate_burst(10, shape="trunk", hold=60.0)
    stream = messages(run.raw, banner=False)
    busy: set[str] = set()
    for m in stream:
        if m["Event"] == "AgentCalled":
            assert m["Interface"] not in busy
            busy.add(m["Interface"])
        elif m["Event"] in ("AgentComplete", "AgentRingNoAnswer"):
            busy.discard(m["Interface"])
        elif m["Event"] == "DialEnd" and m["DialStatus"] == "CANCEL":
            busy.discard("PJSIP/" + m["DestChannel"].split("/")[1].split("-")[0])
    queue_sizes_are_consistent(stream)
    assert len(records(stream)) == 10
