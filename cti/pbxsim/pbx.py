"""The simulated PBX: channels, queues and members, and the calls that move through them.

Every state change is emitted as the AMI events Asterisk 22 sends for it, in the order
the recordings show. Time is real but scaled by ``speed`` (``speed=100`` plays a
30-second call in 0.3 s), so the same code serves the demo and the tests.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cti.pbxsim.agi import AgiCaller, CallerScript, IvrTarget
from cti.pbxsim.render import prefixed, render_event

Shape = Literal["local", "trunk"]
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
DEVICE_STATUS = {"not_inuse": "1", "inuse": "2", "ringing": "6"}
CAUSE_TXT = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No answer"}


@dataclass
class Chan:
    """One simulated channel."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    state: int = 0
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    priority: int = 1
    created: float = field(default_factory=time.monotonic)
    application: str = ""
    app_data: str = ""
    bridge_id: str = ""

    def snapshot(self) -> dict[str, str]:
        return {
            "Channel": self.name,
            "ChannelState": str(self.state),
            "ChannelStateDesc": STATE_DESC.get(self.state, "Unknown"),
            "CallerIDNum": self.caller_num,
            "CallerIDName": self.caller_name,
            "ConnectedLineNum": self.connected_num,
            "ConnectedLineName": self.connected_name,
            "Language": "en",
            "AccountCode": "",
            "Context": self.context,
            "Exten": self.exten,
            "Priority": str(self.priority),
            "Uniqueid": self.uniqueid,
            "Linkedid": self.linkedid,
        }


@dataclass
class Agent:
    """How a simulated agent's phone behaves when it rings."""

    answer_after: float | None = 1.0
    """Seconds of ringing before answering; ``None``: never answers."""
    talk: float = 3.0


@dataclass
class Member:
    """A queue member, with the counters ``QueueStatus`` reports."""

    queue: str
    name: str
    interface: str
    agent: Agent
    login_time: int
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    paused: bool = False
    paused_reason: str = ""
    busy: bool = False

    def values(self) -> dict[str, str]:
        return {
            "Queue": self.queue,
            "MemberName": self.name,
            "Name": self.name,
            "Interface": self.interface,
            "Location": self.interface,
            "StateInterface": self.interface,
            "Membership": "static",
            "Penalty": "0",
            "CallsTaken": str(self.calls_taken),
            "LastCall": str(self.last_call),
            "LastPause": str(self.last_pause),
            "LoginTime": str(self.login_time),
            "InCall": "1" if self.busy else "0",
            "Status": "2" if self.busy else "1",
            "Paused": "1" if self.paused else "0",
            "PausedReason": self.paused_reason,
            "Ringinuse": "1",
            "Wrapuptime": "0",
        }


@dataclass
class Queue:
    """A queue with Asterisk's running statistics."""

    name: str
    strategy: str = "rrmemory"
    timeout: float = 15.0
    retry: float = 1.0
    members: list[Member] = field(default_factory=list)
    callers: list[Chan] = field(default_factory=list)
    joined: dict[str, float] = field(default_factory=dict)
    completed: int = 0
    abandoned: int = 0
    holdtime: float = 0.0
    talktime: float = 0.0
    next_member: int = 0


@dataclass
class CallPlan:
    """What one simulated caller does."""

    caller: str = "+79161234567"
    name: str = "Ivan Petrov"
    script: CallerScript = field(default_factory=CallerScript)
    patience: float | None = None
    """Seconds in the queue before hanging up; ``None``: waits until answered."""
    max_wait: float = 60.0
    """The dialplan's ``Queue(…,60)`` limit."""


class SimulatedPbx:
    """A PBX that turns call plans into Asterisk 22's AMI events.

    Args:
        emit: receives each rendered event (the AMI server broadcasts it).
        shape: ``local`` names channels as the recordings do (``Local/s@inbound-…``);
            ``trunk`` as a production PBX would (``PJSIP/trunk-…``, ``PJSIP/1001-…``).
        ivr: where the FastAGI IVR listens; ``None`` runs the recordings' probe script.
    """

    def __init__(
        self,
        emit: Callable[[bytes], None],
        *,
        shape: Shape = "local",
        speed: float = 1.0,
        ivr: IvrTarget | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.emit = emit
        self.shape = shape
        self.speed = speed
        self.ivr = ivr
        self.random = random.Random(seed)
        self.clock = clock
        self.channels: dict[str, Chan] = {}
        self.queues: dict[str, Queue] = {}
        self.started = time.monotonic()
        self._ids = itertools.count()
        self._locals = itertools.count()
        self._bridges = itertools.count(1)
        self._command_ids = itertools.count(1_000_000)
        self.default_queue = "sales"
        self._leftover: dict[str, tuple[Chan, Member]] = {}

    # -- configuration ------------------------------------------------------------------

    def add_queue(self, name: str, **options: float | str) -> Queue:
        queue = Queue(name=name, **options)  # type: ignore[arg-type]
        self.queues[name] = queue
        return queue

    def add_member(
        self, queue: str, name: str, interface: str, agent: Agent | None = None
    ) -> Member:
        member = Member(queue, name, interface, agent or Agent(), login_time=int(self.clock()))
        self.queues[queue].members.append(member)
        return member

    @classmethod
    def like_the_recordings(cls, emit: Callable[[bytes], None], **options: object) -> SimulatedPbx:
        """Queues ``sales`` (Alice, Bob) and ``support`` (Carol, who never answers)."""
        pbx = cls(emit, **options)  # type: ignore[arg-type]
        prefix = "Local/agent{}@agents" if pbx.shape == "local" else "PJSIP/100{}"
        pbx.add_queue("sales")
        pbx.add_queue("support", strategy="ringall")
        pbx.add_member("sales", "Alice", prefix.format(1), Agent(answer_after=1.0, talk=3.0))
        pbx.add_member("sales", "Bob", prefix.format(2), Agent(answer_after=1.0, talk=3.0))
        pbx.add_member("support", "Carol", prefix.format(3), Agent(answer_after=None))
        return pbx

    # -- time and events ----------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def elapsed(self, since: float) -> float:
        """Simulated seconds since a ``time.monotonic()`` reading."""
        return (time.monotonic() - since) * self.speed

    def seconds_since(self, since: float) -> int:
        """Whole simulated seconds, counted as Asterisk does (a timer's slack ignored)."""
        return int(self.elapsed(since) + 0.05)

    def event(
        self, name: str, chan: Chan | None = None, dest: Chan | None = None, /, **fields: str
    ) -> None:
        values: dict[str, str] = chan.snapshot() if chan is not None else {}
        if dest is not None:
            values.update(prefixed("Dest", dest.snapshot()))
        values.update(fields)
        self.emit(render_event(name, values))

    def _uniqueid(self) -> str:
        return f"{int(self.clock())}.{next(self._ids)}"

    def _channel(
        self, name: str, linkedid: str | None, context: str, exten: str, state: int
    ) -> Chan:
        uniqueid = self._uniqueid()
        chan = Chan(name, uniqueid, linkedid or uniqueid, context, exten, state=state)
        self.channels[uniqueid] = chan
        self.event("Newchannel", chan)
        return chan

    def _set_state(self, chan: Chan, state: int) -> None:
        chan.state = state
        self.event("Newstate", chan)

    def _set_callerid(self, chan: Chan, number: str, name: str) -> None:
        chan.caller_num, chan.caller_name = number, name
        self.event(
            "NewCallerid", chan, **{"CID-CallingPres": "0 (Presentation Allowed, Not Screened)"}
        )

    def _set_connected(self, chan: Chan, number: str, name: str) -> None:
        chan.connected_num, chan.connected_name = number, name
        self.event("NewConnectedLine", chan)

    def _hangup(self, chan: Chan, cause: int = 16, *, soft: bool = True) -> None:
        if chan.uniqueid not in self.channels:
            return
        if soft:
            self.event("SoftHangupRequest", chan, Cause=str(cause))
        self.event(
            "Hangup", chan, Cause=str(cause), **{"Cause-txt": CAUSE_TXT.get(cause, "Unknown")}
        )
        del self.channels[chan.uniqueid]

    def _local_pair(
        self, base: str, linkedid: str | None, context: str, exten: str
    ) -> tuple[Chan, Chan]:
        number = next(self._locals)
        one = self._channel(f"{base}-{number:08x};1", linkedid, context, exten, 0)
        two = self._channel(f"{base}-{number:08x};2", one.linkedid, context, exten, 4)
        return one, two

    def _local_bridge(self, one: Chan, two: Chan) -> None:
        values = {**prefixed("LocalOne", one.snapshot()), **prefixed("LocalTwo", two.snapshot())}
        values.update(Context=two.context, Exten=two.exten, LocalOptimization="Yes")
        self.emit(render_event("LocalBridge", values))

    def _exten(self, chan: Chan, application: str, data: str) -> None:
        chan.priority += 1
        chan.application, chan.app_data = application, data
        self.event("Newexten", chan, Extension=chan.exten, Application=application, AppData=data)

    def _varset(self, chan: Chan, variable: str, value: str) -> None:
        self.event("VarSet", chan, Variable=variable, Value=value)

    # -- a call -------------------------------------------------------------------------

    async def call(self, plan: CallPlan) -> str:
        """Play one inbound call to its end; return how it ended (as a word)."""
        caller, runner = self._arrive(plan)
        try:
            variables = await self._ivr(caller, runner, plan)
        except _CallerGone:
            self._hang_up_call(caller, runner)
            return "ivr_hangup"
        queue = self.queues.get(variables.get("CTI_QUEUE", "")) or self.queues[self.default_queue]
        self._exten(runner, "Queue", f"{queue.name},,,,{int(plan.max_wait)}")
        return await self._queue(queue, caller, runner, plan)

    def _arrive(self, plan: CallPlan) -> tuple[Chan, Chan]:
        if self.shape == "trunk":
            chan = self._channel(
                f"PJSIP/trunk-{next(self._locals):08x}", None, "cti-inbound", "s", 4
            )
            self._set_callerid(chan, plan.caller, plan.name)
            self._set_state(chan, 6)
            return chan, chan
        one, two = self._local_pair("Local/s@inbound", None, "inbound", "s")
        self._set_callerid(one, plan.caller, plan.name)
        self._set_connected(one, plan.caller, plan.name)
        self._set_callerid(two, plan.caller, plan.name)
        self._set_connected(two, plan.caller, plan.name)
        self._local_bridge(one, two)
        self.event("DialBegin", None, one, DialString="s@inbound")
        self._set_state(two, 6)
        self._set_state(one, 6)
        self.event("DialEnd", None, one, DialStatus="ANSWER")
        one.context, one.exten, one.application, one.app_data = "caller", "s", "Wait", "12"
        return one, two

    async def _ivr(self, caller: Chan, runner: Chan, plan: CallPlan) -> dict[str, str]:
        self._exten(runner, "Answer", "")
        self._varset(runner, "CTI_QUEUE", self.default_queue)
        self._exten(runner, "AGI", "agi://127.0.0.1:4573/ivr")
        agi = AgiCaller(self, runner, plan.script, target=self.ivr, caller=caller)
        variables = await agi.run()
        if agi.hung_up:
            raise _CallerGone
        return variables

    def agi_start(self, chan: Chan, command: str) -> str:
        """Announce an AGI command on AMI; return its ``CommandId``."""
        command_id = str(next(self._command_ids))
        self.event("AGIExecStart", chan, CommandId=command_id, Command=command)
        return command_id

    def agi_end(self, chan: Chan, command_id: str, command: str, code: int, result: str) -> None:
        self.event(
            "AGIExecEnd",
            chan,
            CommandId=command_id,
            Command=command,
            ResultCode=str(code),
            Result=result,
        )

    def caller_left(self, caller: Chan, runner: Chan) -> None:
        """The caller hung up while the IVR still runs on ``runner``."""
        if caller is runner:
            return
        self.event("SoftHangupRequest", caller, Cause="16")
        self.event("HangupRequest", runner, Cause="16")
        self._hangup(caller, soft=False)

    def dtmf(self, chan: Chan, digit: str) -> None:
        self.event("DTMFBegin", chan, Digit=digit, Direction="Received")
        self.event("DTMFEnd", chan, Digit=digit, DurationMs="100", Direction="Received")

    def _hang_up_call(self, caller: Chan, runner: Chan) -> None:
        if caller is runner or caller.uniqueid not in self.channels:
            self._hangup(runner)
            return
        self.event("SoftHangupRequest", caller, Cause="16")
        self.event("HangupRequest", runner, Cause="16")
        self._hangup(caller, soft=False)
        self._hangup(runner)

    async def _queue(self, queue: Queue, caller: Chan, runner: Chan, plan: CallPlan) -> str:
        queue.callers.append(runner)
        joined = time.monotonic()
        queue.joined[runner.uniqueid] = joined
        runner.application, runner.app_data = "Queue", f"{queue.name},,,,{int(plan.max_wait)}"
        original = len(queue.callers)
        self.event(
            "QueueCallerJoin", runner, Queue=queue.name, Position=str(original), Count=str(original)
        )
        deadline = plan.max_wait if plan.patience is None else min(plan.patience, plan.max_wait)
        while True:
            waited = self.elapsed(joined)
            if waited >= deadline:
                return self._give_up(queue, caller, runner, plan, original, joined)
            member = self._free_member(queue)
            if member is None:
                await self.sleep(min(queue.retry, deadline - waited))
                continue
            gives_up = "gone" if deadline < plan.max_wait else "timeout"
            outcome = await self._ring(queue, member, caller, runner, joined, deadline, gives_up)
            if outcome == "answered":
                return "answered"
            if outcome == "timeout":
                return self._give_up(queue, caller, runner, plan, original, joined)
            if outcome == "gone":
                return self._give_up(queue, caller, runner, plan, original, joined, ringing=True)
            await self.sleep(queue.retry)

    def _free_member(self, queue: Queue) -> Member | None:
        free = [m for m in queue.members if not m.busy and not m.paused]
        if not free:
            return None
        if queue.strategy == "random":
            return self.random.choice(free)
        ordered = queue.members[queue.next_member :] + queue.members[: queue.next_member]
        member = next(m for m in ordered if m in free)
        queue.next_member = (queue.members.index(member) + 1) % len(queue.members)
        return member

    def _position(self, queue: Queue, runner: Chan) -> int:
        return queue.callers.index(runner) + 1 if runner in queue.callers else 1

    def _leave(self, queue: Queue, runner: Chan) -> None:
        position = self._position(queue, runner)
        if runner in queue.callers:
            queue.callers.remove(runner)
        queue.joined.pop(runner.uniqueid, None)
        self.event(
            "QueueCallerLeave",
            runner,
            Queue=queue.name,
            Position=str(position),
            Count=str(len(queue.callers)),
        )

    def _agent_leg(self, member: Member, runner: Chan) -> tuple[Chan, Chan | None]:
        if self.shape == "trunk":
            leg = self._channel(
                f"{member.interface}-{next(self._locals):08x}", runner.linkedid, "agents", "s", 0
            )
            self._set_callerid(leg, runner.caller_num, runner.caller_name)
            return leg, None
        base = member.interface.replace("Local/", "")
        exten = base.split("@")[0]
        one, two = self._local_pair(f"Local/{base}", runner.linkedid, "agents", exten)
        self._set_callerid(one, runner.caller_num, runner.caller_name)
        self._set_callerid(two, runner.caller_num, runner.caller_name)
        self._set_connected(two, runner.caller_num, runner.caller_name)
        self._local_bridge(one, two)
        return one, two

    def _member_status(self, member: Member) -> None:
        self.emit(render_event("QueueMemberStatus", member.values()))

    def _device(self, member: Member, state: str) -> None:
        self.emit(render_event("DeviceStateChange", {"Device": member.interface, "State": state}))

    async def _ring(
        self,
        queue: Queue,
        member: Member,
        caller: Chan,
        runner: Chan,
        joined: float,
        deadline: float,
        gives_up: str,
    ) -> str:
        member.busy = True
        leg, far = self._agent_leg(member, runner)
        fields = {"Queue": queue.name, "Interface": member.interface, "MemberName": member.name}
        self.event("AgentCalled", runner, leg, **fields)
        self.event("DialBegin", runner, leg, DialString=member.interface.split("/", 1)[1])
        self._set_state(leg, 5)
        self._device(member, "RINGING")
        self._member_status(member)
        self.event("DialState", runner, leg, DialStatus="RINGING")
        rang = time.monotonic()
        answer_at = member.agent.answer_after
        remaining_patience = deadline - self.elapsed(joined)
        limits = [("noanswer", queue.timeout), (gives_up, remaining_patience)]
        if answer_at is not None:
            limits.append(("answered", answer_at))
        outcome, wait = min(limits, key=lambda item: item[1])
        await self.sleep(wait)
        if outcome == "answered":
            await self._connect(queue, member, caller, runner, leg, far, joined, rang)
            return outcome
        if outcome in ("noanswer", "timeout"):
            if outcome == "noanswer":
                ring_ms = str(int(self.elapsed(rang) * 1000))
                self.event("AgentRingNoAnswer", runner, leg, RingTime=ring_ms, **fields)
                self.event("DialEnd", runner, leg, DialStatus="NOANSWER")
            self.event("DialEnd", runner, leg, DialStatus="CANCEL")
            self._drop_leg(leg, far)
            self._free(member)
            return outcome
        if caller is not runner:
            self.event("SoftHangupRequest", caller, Cause="16")
            self.event("HangupRequest", runner, Cause="16")
            self._hangup(caller, soft=False)
        self.event("DialEnd", runner, leg, DialStatus="CANCEL")
        self.event("DialEnd", runner, leg, DialStatus="CANCEL")
        if far is not None:
            self.event("HangupRequest", far, Cause="0")
            self._hangup(leg, 0, soft=False)
            self._leftover[runner.uniqueid] = (far, member)
        else:
            self._hangup(leg, 0, soft=False)
            self._free(member)
        return outcome

    def _free(self, member: Member) -> None:
        member.busy = False
        self._device(member, "NOT_INUSE")
        self._member_status(member)

    def _drop_leg(self, leg: Chan, far: Chan | None) -> None:
        if far is None:
            self._hangup(leg, 0, soft=False)
            return
        self.event("HangupRequest", far, Cause="0")
        self._hangup(leg, 0, soft=False)
        self.event("SoftHangupRequest", far, Cause="16")
        self._hangup(far, 0, soft=False)

    async def _connect(
        self,
        queue: Queue,
        member: Member,
        caller: Chan,
        runner: Chan,
        leg: Chan,
        far: Chan | None,
        joined: float,
        rang: float,
    ) -> None:
        if far is not None:
            self._set_state(far, 6)
        self._set_state(leg, 6)
        self.event("DialEnd", runner, leg, DialStatus="ANSWER")
        hold = self.seconds_since(joined)
        self._leave(queue, runner)
        fields = {"Queue": queue.name, "Interface": member.interface, "MemberName": member.name}
        self.event(
            "AgentConnect",
            runner,
            leg,
            HoldTime=str(hold),
            RingTime=str(self.seconds_since(rang)),
            **fields,
        )
        bridge = {
            "BridgeUniqueid": f"00000000-0000-4000-8000-{next(self._bridges):012x}",
            "BridgeType": "basic",
            "BridgeTechnology": "simple_bridge",
            "BridgeCreator": "<unknown>",
            "BridgeName": "<unknown>",
            "BridgeVideoSourceMode": "none",
        }
        self.emit(render_event("BridgeCreate", {**bridge, "BridgeNumChannels": "0"}))
        for count, chan in enumerate((leg, runner), start=1):
            chan.bridge_id = bridge["BridgeUniqueid"]
            self.event("BridgeEnter", chan, **bridge, BridgeNumChannels=str(count))
        self._device(member, "INUSE")
        talk_started = time.monotonic()
        await self.sleep(member.agent.talk)
        talk = self.seconds_since(talk_started)
        if far is not None:
            self.event("SoftHangupRequest", far, Cause="16")
            self.event("HangupRequest", leg, Cause="16")
            self._hangup(far, soft=False)
        self.event(
            "AgentComplete",
            runner,
            leg,
            HoldTime=str(hold),
            TalkTime=str(talk),
            Reason="agent",
            **fields,
        )
        member.busy = False
        member.calls_taken += 1
        member.last_call = int(self.clock())
        queue.completed += 1
        queue.holdtime += (hold - queue.holdtime) / queue.completed
        queue.talktime += (talk - queue.talktime) / queue.completed
        self._member_status(member)
        self._device(member, "NOT_INUSE")
        self.event("BridgeLeave", leg, **bridge, BridgeNumChannels="1")
        self._hangup(leg, soft=False)
        self.event("BridgeLeave", runner, **bridge, BridgeNumChannels="0")
        self.emit(render_event("BridgeDestroy", {**bridge, "BridgeNumChannels": "0"}))
        if caller is runner:
            self._hangup(runner)
        else:
            self.event("SoftHangupRequest", runner, Cause="16")
            self.event("HangupRequest", caller, Cause="16")
            self._hangup(runner, soft=False)
            self._hangup(caller)

    def _give_up(
        self,
        queue: Queue,
        caller: Chan,
        runner: Chan,
        plan: CallPlan,
        original: int,
        joined: float,
        *,
        ringing: bool = False,
    ) -> str:
        hold = self.seconds_since(joined)
        timed_out = plan.patience is None or plan.patience >= plan.max_wait
        if timed_out:
            self._leave(queue, runner)
            self._hang_up_call(caller, runner)
            return "unanswered"
        if not ringing and caller is not runner:
            self.event("SoftHangupRequest", caller, Cause="16")
            self.event("HangupRequest", runner, Cause="16")
            self._hangup(caller, soft=False)
        self.event(
            "QueueCallerAbandon",
            runner,
            Queue=queue.name,
            Position=str(self._position(queue, runner)),
            OriginalPosition=str(original),
            HoldTime=str(hold),
        )
        queue.abandoned += 1
        self._leave(queue, runner)
        self._hangup(runner)
        leftover = self._leftover.pop(runner.uniqueid, None)
        if leftover is not None:
            far, member = leftover
            self.event("SoftHangupRequest", far, Cause="16")
            self._hangup(far, 0, soft=False)
            self._free(member)
        return "abandoned"

    # -- state for list actions ---------------------------------------------------------

    def core_show_channels(self) -> list[dict[str, str]]:
        rows = []
        for chan in self.channels.values():
            seconds = int(time.monotonic() - chan.created)
            rows.append(
                {
                    **chan.snapshot(),
                    "Application": chan.application,
                    "ApplicationData": chan.app_data,
                    "Duration": time.strftime("%H:%M:%S", time.gmtime(seconds)),
                    "BridgeId": chan.bridge_id,
                }
            )
        return rows

    def reset(self) -> None:
        """Forget every live channel and call, as an Asterisk restart does."""
        self.channels.clear()
        for queue in self.queues.values():
            queue.callers.clear()
            queue.joined.clear()
            for member in queue.members:
                member.busy = False
        self.started = time.monotonic()


class _CallerGone(Exception):
    """The simulated caller hung up during the IVR."""
