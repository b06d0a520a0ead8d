"""Outbound calls and the queue's exit key on the simulator, over real AMI and FastAGI sockets.

The server's ``Originate`` of an agent's phone into ``cti-outbound`` (click-to-call,
call-backs) must produce the events Asterisk 22 sends, field for field, whatever the
agent's phone and the customer's phone do; a caller pressing 1 in a queue must leave it
the way ``app_queue`` lets them go and reach the ``callback`` FastAGI script.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from cti.ami.client import AmiClient, Snapshot
from cti.ami.protocol import AmiFramer, parse_message
from cti.pbxsim import Callee, PbxSimulator
from cti.settings import AmiSettings
from ivr.agi.server import AgiServer, AgiSession
from tests.integration.test_bridge import wait_until

pytestmark = pytest.mark.integration

SECRET = "demo-secret"
SPEED = 100.0
AGENT = "PJSIP/1001"
CUSTOMER = "+79161234567"
ORIGINATE = {
    "Channel": AGENT,
    "Context": "cti-outbound",
    "Exten": CUSTOMER,
    "Priority": "1",
    "CallerID": '"Ivan Petrov" <+79161234567>',
    "Timeout": "20000",
    "ChannelId": "cti-out-42",
    "Variable": "CTI_OUTBOUND_ID=42,CTI_OUTBOUND_KIND=callback,CTI_CALLER_ID=+74950000000,"
    "CTI_CALLER_NAME=Acme,CTI_ANNOUNCE=callfold/callback-hello,CTI_DIAL_SECONDS=30",
    "Async": "true",
}
WANTED = (
    "Newchannel",
    "Newstate",
    "Newexten",
    "NewCallerid",
    "NewConnectedLine",
    "DialBegin",
    "DialState",
    "DialEnd",
    "OriginateResponse",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "HangupRequest",
    "SoftHangupRequest",
    "Hangup",
    "DeviceStateChange",
    "QueueMemberStatus",
)
Event = dict[str, str]


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    simulator = await PbxSimulator(shape="trunk", speed=SPEED, auth_delay=0).start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def ami(sim: PbxSimulator) -> AsyncIterator[AmiClient]:
    settings = AmiSettings(port=sim.port, secret=SecretStr(SECRET), ping_interval=5)
    client = AmiClient(settings, wanted=WANTED, resync=False)
    await client.connect()
    yield client
    await client.close()


class Events:
    """What one AMI session has seen, read on demand from the client's stream."""

    def __init__(self, client: AmiClient) -> None:
        self.stream = client.stream()
        self.seen: list[Event] = []

    async def until(self, done: Callable[[Event], bool], timeout: float = 5.0) -> list[Event]:
        """Read events up to and including the first ``done`` accepts; return them all."""
        async with asyncio.timeout(timeout):
            async for item in self.stream:
                if isinstance(item, Snapshot) or item["Event"] == "FullyBooted":
                    continue
                self.seen.append(item)
                if done(item):
                    return self.seen
        raise AssertionError("the stream ended")

    def of(self, uniqueid: str) -> list[str]:
        """Names of the events about one channel (as ``Channel`` or as ``Dest``)."""
        return [
            e["Event"]
            for e in self.seen
            if uniqueid in (e.get("Uniqueid"), e.get("DestUniqueid"))
            and not (e["Event"].startswith("Dial") and e.get("Uniqueid") == uniqueid)
        ]


def hangup_of(uniqueid: str) -> Callable[[Event], bool]:
    return lambda e: e["Event"] == "Hangup" and e["Uniqueid"] == uniqueid


def event(events: list[Event], name: str, **fields: str) -> Event:
    """The one event named ``name`` whose fields include ``fields``."""
    found = [
        e for e in events if e["Event"] == name and all(e.get(k) == v for k, v in fields.items())
    ]
    assert len(found) == 1, (name, fields, found)
    return found[0]


def agent_answers(sim: PbxSimulator, after: float | None, talk: float = 20.0) -> None:
    for queue in sim.pbx.queues.values():
        for member in queue.members:
            if member.interface == AGENT:
                member.answer_after, member.talk = after, talk


async def originate(ami: AmiClient, **changes: str) -> Event:
    reply = await ami.action("Originate", **{**ORIGINATE, **changes})
    assert isinstance(reply, dict)
    return reply


async def test_agent_and_customer_answer_talk_and_the_customer_hangs_up(
    sim: PbxSimulator, ami: AmiClient
) -> None:
    events = Events(ami)
    reply = await originate(ami)
    assert (reply["Response"], reply["Message"]) == ("Success", "Originate successfully queued")
    await events.until(hangup_of("cti-out-42"))
    seen = await events.until(lambda e: e.get("Queue") == "sales" and e.get("Status") == "1")
    names = [e["Event"] for e in seen]
    trunk = event(seen, "Newchannel", Channel="PJSIP/trunk-00000001")
    assert events.of("cti-out-42") == [
        "Newchannel",  # PJSIP/1001-00000000, Down, in the phone's context
        "Newexten",  # AppDial2 (Outgoing Line): ast_dial owns it
        *["VarSet"] * 6,  # the Originate's variables, last first
        "NewCallerid",  # what the agent's phone displays: the customer
        "NewConnectedLine",
        "DialBegin",  # the originate's own dial: no calling channel
        "Newstate",  # Ringing
        "DialState",
        "Newstate",  # Up: the agent answered
        "DialEnd",
        "OriginateResponse",  # Success, Reason 4: only now does the dialplan run
        "Newexten",  # cti-outbound,+79161234567,1 NoOp
        "Newexten",  # Set(CALLERID(num)=...)
        "NewCallerid",
        "Newexten",  # Set(CALLERID(name)=...)
        "NewCallerid",
        "Newexten",  # GotoIf
        "Newexten",  # Dial(...,A(...))
        "BridgeEnter",
        "BridgeLeave",
        "SoftHangupRequest",
        "Hangup",
    ]
    assert events.of(trunk["Uniqueid"]) == [
        "Newchannel",
        "Newexten",
        "NewCallerid",
        "NewConnectedLine",
        "DialBegin",
        "Newstate",  # Ringing
        "DialState",
        "Newstate",  # Up
        "DialEnd",
        "BridgeEnter",
        "HangupRequest",  # the customer hung up first (talks 5 s, the agent 20 s)
        "BridgeLeave",
        "Hangup",
    ]
    response = event(seen, "OriginateResponse")
    assert response == {
        "Event": "OriginateResponse",
        "Privilege": "call,all",
        "ActionID": response["ActionID"],
        "Response": "Success",
        "Channel": "PJSIP/1001-00000000",
        "Context": "cti-outbound",
        "Exten": CUSTOMER,
        "Reason": "4",
        "Uniqueid": "cti-out-42",
        "CallerIDNum": CUSTOMER,
        "CallerIDName": "Ivan Petrov",
    }
    assert {e["Linkedid"] for e in seen if "Linkedid" in e} == {"cti-out-42"}
    agent = event(seen, "Newchannel", Uniqueid="cti-out-42")
    assert (agent["Channel"], agent["Context"], agent["Exten"]) == (
        "PJSIP/1001-00000000",
        "agents-phones",
        "s",
    )
    variables = [(e["Variable"], e["Value"]) for e in seen if e["Event"] == "VarSet"]
    assert variables == [
        ("CTI_DIAL_SECONDS", "30"),
        ("CTI_ANNOUNCE", "callfold/callback-hello"),
        ("CTI_CALLER_NAME", "Acme"),
        ("CTI_CALLER_ID", "+74950000000"),
        ("CTI_OUTBOUND_KIND", "callback"),
        ("CTI_OUTBOUND_ID", "42"),
    ]
    outbound = [e for e in seen if e.get("Context") == "cti-outbound" and e["Event"] == "Newexten"]
    assert [(e["Priority"], e["Application"], e["AppData"]) for e in outbound] == [
        ("1", "NoOp", f"Outbound callback 42 to {CUSTOMER}"),
        ("2", "Set", "CALLERID(num)=+74950000000"),
        ("3", "Set", "CALLERID(name)=Acme"),
        ("4", "GotoIf", "0?plain"),
        ("5", "Dial", f"PJSIP/{CUSTOMER}@trunk,30,A(callfold/callback-hello)"),
    ]
    begin = event(seen, "DialBegin", DestUniqueid=trunk["Uniqueid"])
    assert (begin["Channel"], begin["DialString"]) == ("PJSIP/1001-00000000", f"{CUSTOMER}@trunk")
    assert (begin["CallerIDNum"], begin["CallerIDName"]) == ("+74950000000", "Acme")
    assert (begin["DestCallerIDNum"], begin["DestConnectedLineNum"]) == (CUSTOMER, "+74950000000")
    assert event(seen, "DialEnd", DestUniqueid=trunk["Uniqueid"])["DialStatus"] == "ANSWER"
    assert event(seen, "DialEnd", DestUniqueid="cti-out-42")["DialStatus"] == "ANSWER"
    assert "Uniqueid" not in event(seen, "DialBegin", DestUniqueid="cti-out-42")
    bridge = {e["BridgeUniqueid"] for e in seen if e["Event"].startswith("Bridge")}
    assert len(bridge) == 1 and names.count("BridgeDestroy") == 1
    hangups = [
        (e["Uniqueid"], e["Cause"], e.get("TechCause")) for e in seen if e["Event"] == "Hangup"
    ]
    assert hangups == [(trunk["Uniqueid"], "16", None), ("cti-out-42", "16", None)]
    phone = [e["State"] for e in seen if e["Event"] == "DeviceStateChange" and e["Device"] == AGENT]
    assert phone == ["RINGING", "INUSE", "NOT_INUSE"]
    alice = [(e["Queue"], e["Status"]) for e in seen if e["Event"] == "QueueMemberStatus"]
    assert alice == [(q, s) for s in ("6", "2", "1") for q in ("frontdesk", "sales")]
    assert not sim.pbx.channels and not sim.pbx.calls


async def test_the_agent_hangs_up_first_and_the_customer_leg_goes_with_the_bridge(
    sim: PbxSimulator, ami: AmiClient
) -> None:
    agent_answers(sim, 1.0, talk=3.0)
    sim.callees[CUSTOMER] = Callee(answer_after=1.0, talk=60.0)
    events = Events(ami)
    await originate(ami, Variable="CTI_OUTBOUND_ID=42,CTI_ANNOUNCE=")
    seen = await events.until(lambda e: e["Event"] == "Hangup" and e["Uniqueid"] != "cti-out-42")
    plain = event(seen, "Newexten", Application="Dial")
    assert (plain["Priority"], plain["AppData"]) == ("7", f"PJSIP/{CUSTOMER}@trunk,30")
    ending = seen[[e["Event"] for e in seen].index("HangupRequest") :]
    assert [
        (e["Event"], e.get("Uniqueid") == "cti-out-42") for e in ending if "Device" not in e
    ] == [
        ("HangupRequest", True),  # the agent's phone hung up (talks 3 s, the customer 60 s)
        ("BridgeLeave", True),
        ("SoftHangupRequest", True),
        ("BridgeLeave", False),
        ("BridgeDestroy", False),
        ("Hangup", True),
        ("QueueMemberStatus", False),
        ("QueueMemberStatus", False),
        ("Hangup", False),  # the customer's leg goes with the bridge, cause 16
    ]
    assert seen[-1]["Cause"] == "16"


async def test_the_agent_not_answering_fails_with_reason_3(
    sim: PbxSimulator, ami: AmiClient
) -> None:
    agent_answers(sim, None)
    events = Events(ami)
    await originate(ami)
    seen = await events.until(lambda e: e["Event"] == "OriginateResponse")
    names = [e["Event"] for e in seen if "cti-out-42" in (e.get("DestUniqueid"), e.get("Uniqueid"))]
    assert names[-4:] == ["Newstate", "DialState", "Hangup", "OriginateResponse"]
    assert "DialEnd" not in names, "ast_dial's timeout sends no DialEnd"
    hangup = event(seen, "Hangup")
    assert (hangup["Cause"], hangup["Cause-txt"], hangup["TechCause"]) == (
        "19",
        "User alerting, no answer",
        "480",
    )
    response = seen[-1]
    assert (response["Response"], response["Reason"], response["Channel"]) == (
        "Failure",
        "3",
        AGENT,
    )
    assert (response["Uniqueid"], response["Context"], response["Exten"]) == (
        "cti-out-42",
        "cti-outbound",
        CUSTOMER,
    )
    ringing = event(seen, "Newchannel")
    assert ringing["Uniqueid"] == ringing["Linkedid"] == "cti-out-42"
    assert "Newexten" not in [e["Event"] for e in seen if e.get("Context") == "cti-outbound"]


async def test_a_phone_already_on_a_call_answers_busy(sim: PbxSimulator, ami: AmiClient) -> None:
    sim.callees["+79160000001"] = Callee(answer_after=0.5, talk=60.0)
    events = Events(ami)
    await originate(ami, ChannelId="cti-out-1", Exten="+79160000001")
    await events.until(lambda e: e["Event"] == "BridgeEnter" and e["Uniqueid"] == "cti-out-1")
    await originate(ami)
    seen = await events.until(lambda e: e.get("Uniqueid") == "cti-out-42" and "Response" in e)
    second = [e for e in seen if "cti-out-42" in (e.get("Uniqueid"), e.get("DestUniqueid"))]
    assert [e["Event"] for e in second] == [
        "Newchannel",
        "Newexten",
        *["VarSet"] * 6,
        "NewCallerid",
        "NewConnectedLine",
        "DialBegin",
        "HangupRequest",  # the phone's 486 Busy Here ends the INVITE session
        "DialEnd",
        "Hangup",
        "OriginateResponse",
    ]
    assert event(second, "DialEnd")["DialStatus"] == "BUSY"
    assert (event(second, "HangupRequest")["Cause"], event(second, "Hangup")["TechCause"]) == (
        "17",
        "486",
    )
    response = second[-1]
    assert (response["Response"], response["Reason"], response["Channel"]) == (
        "Failure",
        "0",  # chan_pjsip queues no BUSY frame: ast_dial's cause stays 0 (pbx_dial_reason)
        AGENT,
    )
    assert not [e for e in seen if e["Event"] == "Hangup" and e["Uniqueid"] == "cti-out-1"]
    assert sim.pbx.devices[AGENT] == "INUSE", "the first call goes on"


async def test_an_unknown_or_unreachable_phone_fails_at_once_with_reason_0(
    sim: PbxSimulator, ami: AmiClient
) -> None:
    events = Events(ami)
    await originate(ami, Channel="PJSIP/1999")
    (response,) = await events.until(lambda e: e["Event"] == "OriginateResponse")
    assert (response["Response"], response["Reason"], response["Channel"]) == (
        "Failure",
        "0",
        "PJSIP/1999",
    )
    assert (response["Uniqueid"], response["CallerIDNum"]) == ("cti-out-42", CUSTOMER)
    sim.pbx.device("PJSIP/1002", "UNAVAILABLE")
    await originate(ami, Channel="PJSIP/1002", ChannelId="cti-out-43")
    seen = await events.until(lambda e: e["Event"] == "OriginateResponse")
    assert "Newchannel" not in [e["Event"] for e in seen]
    assert (seen[-1]["Channel"], seen[-1]["Reason"]) == ("PJSIP/1002", "0")


@pytest.mark.parametrize(
    ("callee", "status", "cause", "tech_cause"),
    [
        (Callee(busy=True), "BUSY", "17", "486"),
        (Callee(congestion=True), "CONGESTION", "34", "503"),
        (Callee(answer_after=None), "NOANSWER", "0", None),
        (Callee(answer_after=31.0), "NOANSWER", "0", None),
    ],
)
async def test_the_customer_not_answering_ends_the_dial_and_the_agents_channel(
    sim: PbxSimulator,
    ami: AmiClient,
    callee: Callee,
    status: str,
    cause: str,
    tech_cause: str | None,
) -> None:
    sim.callees[CUSTOMER] = callee
    events = Events(ami)
    await originate(ami)
    seen = await events.until(hangup_of("cti-out-42"))
    trunk = event(seen, "Newchannel", Channel="PJSIP/trunk-00000001")
    end = event(seen, "DialEnd", Uniqueid="cti-out-42")
    assert (end["DestUniqueid"], end["DialStatus"]) == (trunk["Uniqueid"], status)
    leg = event(seen, "Hangup", Uniqueid=trunk["Uniqueid"])
    assert (leg["Cause"], leg.get("TechCause")) == (cause, tech_cause)
    assert leg["Linkedid"] == "cti-out-42"
    after = [e["Event"] for e in seen[seen.index(end) :] if e.get("Uniqueid") == "cti-out-42"]
    assert after == ["DialEnd", "Newexten", "SoftHangupRequest", "Hangup"]
    assert event(seen, "Newexten", Application="Hangup")["Priority"] == "6"
    assert "BridgeCreate" not in [e["Event"] for e in seen]
    agent = seen[-1]
    expected = "16" if status == "NOANSWER" else cause
    assert (agent["Cause"], agent.get("TechCause")) == (expected, tech_cause)
    if status == "NOANSWER":
        rang = [e for e in seen if e["Event"] == "DialState" and e.get("Uniqueid") == "cti-out-42"]
        assert [e["DialStatus"] for e in rang] == ["RINGING"]


async def test_an_unreachable_trunk_is_chanunavail_without_a_customer_channel(
    sim: PbxSimulator, ami: AmiClient
) -> None:
    sim.callees[CUSTOMER] = Callee(unavailable=True)
    events = Events(ami)
    await originate(ami)
    seen = await events.until(hangup_of("cti-out-42"))
    assert {e.get("Uniqueid") for e in seen if e["Event"] == "Newchannel"} == {"cti-out-42"}
    assert [e["DialStatus"] for e in seen if e["Event"] == "DialEnd"] == ["ANSWER"]
    assert (seen[-1]["Cause"], seen[-1]["Cause-txt"]) == ("3", "No route to destination")


async def test_a_synchronous_originate_is_answered_when_the_phone_decides(
    sim: PbxSimulator, ami: AmiClient
) -> None:
    agent_answers(sim, None)
    started = asyncio.get_running_loop().time()
    reply = await originate(ami, Async="false", Timeout="3000")
    assert (reply["Response"], reply["Message"]) == ("Error", "Originate failed")
    assert asyncio.get_running_loop().time() - started >= 3.0 / SPEED
    bad = await originate(ami, Exten="5551234")
    assert (bad["Response"], bad["Message"]) == ("Error", "Extension does not exist.")


# -- leaving a queue by key ------------------------------------------------------------------


def parse(raw: list[bytes]) -> list[Event]:
    return [parse_message(f) for f in AmiFramer(expect_banner=False).feed(b"".join(raw))]


async def test_pressing_1_in_the_queue_leaves_it_for_the_callback_script() -> None:
    heard: list[tuple[str, str | None, str | None, str]] = []

    async def ivr(session: AgiSession) -> None:
        await session.set_variable("CTI_QUEUE", "sales")

    async def callback(session: AgiSession) -> None:
        heard.append(
            (
                session.script,
                await session.get_variable("CTI_QUEUE"),
                await session.get_variable("CTI_QUEUE_JOINED"),
                session.channel,
            )
        )

    agi = AgiServer({"ivr": ivr, "callback": callback}, port=0)
    await agi.start()
    raw: list[bytes] = []
    sim = PbxSimulator(shape="trunk", speed=20, ivr=("127.0.0.1", agi.port), auth_delay=0)
    sim.listeners.append(raw.append)
    await sim.start()
    try:
        leaver = sim.plan("answered", caller="+79160000001", digits="")
        leaver.answered, leaver.hold = False, 60.0
        leaver.queue_keys = ((4.0, "1"),)
        stayer = sim.plan("answered", caller="+79160000002", digits="", hold=8.0)
        stayer.answered = False
        positions: list[list[tuple[str, str]]] = []

        def queue_now(data: bytes) -> None:
            if data.startswith(b"Event: QueueCallerLeave"):
                positions.append(
                    [
                        (row["CallerIDNum"], row["Position"])
                        for kind, row in sim.pbx.queue_status("sales")
                        if kind == "QueueEntry"
                    ]
                )

        sim.listeners.append(queue_now)
        first = sim.place_call(plan=leaver)
        await wait_until(lambda: any(b"QueueCallerJoin" in data for data in raw))
        left, stayed = await asyncio.gather(first, sim.place_call(plan=stayer))
    finally:
        await sim.close()
        await agi.close()
    assert (left.outcome, stayed.outcome) == ("key_exit", "abandoned")
    mine = [e for e in parse(raw) if e.get("Uniqueid") == left.linkedid]
    joined = event(mine, "VarSet", Variable="CTI_QUEUE_JOINED")
    set_step = event(
        mine, "Newexten", Application="Set", AppData=f"CTI_QUEUE_JOINED={joined['Value']}"
    )
    assert (set_step["Context"], set_step["Priority"]) == ("cti-route", "8")
    ((script, queue, when, channel),) = heard
    assert (script, queue, when) == ("callback", "sales", joined["Value"])
    assert channel == mine[0]["Channel"]
    key = event(mine, "DTMFEnd")
    assert key["Digit"] == "1"
    after = [e for e in mine[mine.index(key) + 1 :] if e["Event"] != "DialEnd"]
    assert [e["DialStatus"] for e in mine[mine.index(key) + 1 :][:2]] == ["CANCEL", "CANCEL"]
    assert [e["Event"] for e in after[:8]] == [
        "VarSet",  # QUEUEWAIT
        "VarSet",  # QUEUEWAIT_MS
        "VarSet",  # DIALEDTIME
        "VarSet",  # DIALEDTIME_MS
        "VarSet",  # ANSWEREDTIME
        "VarSet",  # ANSWEREDTIME_MS
        "Newexten",  # Queue() moved the channel: cti-queue-exit,1,0
        "QueueCallerLeave",
    ]
    moved = after[6]
    assert (moved["Context"], moved["Exten"], moved["Priority"], moved["Application"]) == (
        "cti-queue-exit",
        "1",
        "0",
        "Queue",
    )
    leave = after[7]
    assert (leave["Queue"], leave["Position"], leave["Count"]) == ("sales", "1", "1")
    assert (leave["Context"], leave["Exten"]) == ("cti-queue-exit", "1")
    assert [e["Variable"] for e in mine if e["Event"] == "VarSet"].count("QUEUESTATUS") == 0
    steps = [
        (e["Priority"], e["Application"], e["AppData"])
        for e in mine
        if e["Event"] == "Newexten" and e["Context"] == "cti-queue-exit" and e["Priority"] != "0"
    ]
    assert steps == [
        ("1", "NoOp", "Call-back asked from queue sales"),
        ("2", "Set", "TIMEOUT(absolute)=60"),
        ("3", "AGI", "agi://127.0.0.1:4573/callback"),
        ("4", "Hangup", ""),
    ]
    statuses = [e["Value"] for e in mine if e.get("Variable") == "AGISTATUS"]
    assert statuses == ["SUCCESS", "SUCCESS"], "the IVR's session, then the call-back's"
    assert positions[0] == [("+79160000002", "1")], "the other caller moves up"


async def test_a_key_that_is_no_extension_of_the_queue_context_is_ignored() -> None:
    raw: list[bytes] = []
    sim = PbxSimulator(shape="trunk", speed=SPEED, auth_delay=0)
    sim.listeners.append(raw.append)
    await sim.start()
    try:
        plan = sim.plan("answered", digits="", hold=4.0)
        plan.answered = False
        plan.queue_keys = ((1.0, "5"),)
        result = await sim.place_call(plan=plan)
    finally:
        await sim.close()
    assert result.outcome == "abandoned"
    mine = [e for e in parse(raw) if e.get("Uniqueid") == result.linkedid]
    assert event(mine, "DTMFEnd")["Digit"] == "5"
    names = [e["Event"] for e in mine]
    assert names.index("DTMFEnd") < names.index("QueueCallerAbandon")
    assert not [e for e in mine if e.get("Context") == "cti-queue-exit"]
