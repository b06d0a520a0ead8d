"""The simulated PBX as a pure discrete-event machine: channels, dialplan, queues, FastAGI.

Time is virtual (``Pbx.now``, epoch seconds) and only moves when ``run_until`` is
called, so the same code runs a whole call in microseconds for a test and in real time
for ``cti demo``. Every state change is written out as the AMI events Asterisk 22 sends
for it, in the order ``tests/captures`` shows; randomness comes from one seeded RNG.
Nothing here touches a socket: the AMI server and the FastAGI client drive it from
outside (``cti.pbxsim.server``, ``cti.pbxsim.agi``).

Besides inbound calls (``CallPlan``), ``Pbx.originate`` rings an agent's phone and runs
dialplans/outbound.conf once it answers, dialling a customer whose phone behaves as
``Pbx.callees`` says; a queued caller's ``CallPlan.queue_keys`` can take them out of a
queue to its ``context`` (``cti-queue-exit``: the ``callback`` FastAGI script).
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Literal

from cti.pbxsim.agisession import AgiSession
from cti.pbxsim.process import Proc, Signal, Step, Wait
from cti.pbxsim.render import STATE_DESC, prefixed, render_event

Shape = Literal["local", "trunk"]
Style = Literal["recordings", "callfold"]
IvrTarget = tuple[str, int]
IVR_DONE = ("self_served", "callback")
"""``CTI_IVR_RESULT`` values after which cti-inbound hangs up instead of routing."""

DEFAULT_EPOCH = 1795403632.4
PRESENTATION = "0 (Presentation Allowed, Not Screened)"
DEVICE_STATES = {
    "UNKNOWN": 0,
    "NOT_INUSE": 1,
    "INUSE": 2,
    "BUSY": 3,
    "INVALID": 4,
    "UNAVAILABLE": 5,
    "RINGING": 6,
    "RINGINUSE": 7,
    "ONHOLD": 8,
}
CAUSE_TXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}
PJSIP_TECH_CAUSES = {
    1: 404,
    2: 404,
    3: 404,
    17: 486,
    18: 408,
    19: 480,
    20: 480,
    21: 403,
    22: 410,
    23: 302,
    27: 502,
    28: 484,
    29: 501,
    31: 480,
    34: 503,
    38: 500,
    42: 503,
    58: 488,
    66: 503,
    127: 500,
}
"""``hangup_cause2sip`` of ``chan_pjsip``: the SIP code a PJSIP channel's ``Hangup`` shows as
``TechCause`` when nothing in SIP gave one (causes not listed give none)."""
RECHECK = 1.0
DTMF_MS = 100
DTMF_GAP = 0.25


class _Timer:
    __slots__ = ("cancelled", "fn")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False


# -- configuration --------------------------------------------------------------------

Behaviour = Callable[[random.Random], tuple[float | None, float]]
"""Draws how one ring of an agent goes: seconds until answer (``None``: never), talk seconds."""

ROUTE_CONTEXT = "cti-route"
"""Where dialplans/inbound.conf rings the chosen agent, then queues."""
OUTBOUND_CONTEXT = "cti-outbound"
"""Where dialplans/outbound.conf dials the customer once the agent's phone answered."""
QUEUE_EXIT_CONTEXT = "cti-queue-exit"
"""The ``context`` of the shipped queues: where a caller pressing 1 in a queue goes."""
CONTEXT_EXTENSIONS: dict[str, tuple[str, ...]] = {QUEUE_EXIT_CONTEXT: ("1",)}
"""The extensions of the contexts a queue's ``context`` option may name (``valid_exit``)."""
DIAL_VARIABLES = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)
"""What ``Dial()`` of Asterisk 22 empties first, in its order (one ``VarSet`` each)."""
ORIGINATE_TIMEOUT = 30.0
"""``Originate`` without ``Timeout``: 30000 ms."""
ANSWER = 4
RINGING = 3
"""``OriginateResponse`` ``Reason``: ``AST_CONTROL_ANSWER``, ``AST_CONTROL_RINGING`` (no
answer); 0 is any other failure (``pbx_dial_reason`` of ``main/pbx.c``)."""
SIP_DELAY = 0.1
"""Seconds before a phone or the trunk answers an INVITE (``180``, ``486``, ``503``)."""


@dataclass
class MemberConfig:
    """A static queue member and how the agent behind it answers."""

    interface: str
    name: str
    answer_after: float | None = 1.0
    talk: float = 3.0
    penalty: int = 0
    paused: bool = False


@dataclass
class QueueConfig:
    """One queue as ``queues.conf`` would define it."""

    name: str
    members: list[MemberConfig] = field(default_factory=list)
    strategy: str = "rrmemory"
    timeout: float = 15.0
    retry: float = 1.0
    ringinuse: bool = True
    wrapuptime: int = 0
    servicelevel: int = 0
    weight: int = 0
    maxlen: int = 0
    autofill: bool = True
    context: str = ""
    """Where a caller pressing a key that is an extension here goes (``valid_exit``)."""


@dataclass
class Callee:
    """How a customer's phone behind the trunk treats an outbound call (``Dial`` from
    ``cti-outbound``).

    Attributes:
        answer_after: seconds of ringing before answering; ``None`` never answers.
        talk: seconds the customer talks before hanging up (unless the agent does first).
        busy: the trunk answers ``486 Busy Here`` (``DialStatus`` ``BUSY``).
        congestion: the trunk answers ``503 Service Unavailable`` (``CONGESTION``).
        unavailable: the trunk cannot be reached at all: no channel is created and
            ``Dial`` ends with ``DIALSTATUS`` ``CHANUNAVAIL`` (no ``DialBegin``/``DialEnd``).
    """

    answer_after: float | None = 2.0
    talk: float = 5.0
    busy: bool = False
    congestion: bool = False
    unavailable: bool = False


@dataclass
class PbxConfig:
    """The simulated PBX: channel shape, dialplan style, queues and where the IVR is.

    Attributes:
        shape: ``local`` names channels as the recordings do (``Local/s@inbound-…;2``
            runs the dialplan, ``Local/agent1@agents-…`` are agents); ``trunk`` as a
            production PBX does (``PJSIP/trunk-…`` whose ``Uniqueid`` is the
            ``Linkedid``, agents ``PJSIP/1001-…``).
        style: ``recordings`` runs the capture PBX's ``[inbound]`` context;
            ``callfold`` runs the project's ``dialplans/inbound.conf`` (direct
            ``Dial`` of ``CTI_AGENT``, ``Queue(…,t,,,600)``).
        ivr: where the FastAGI IVR listens; ``None`` runs the recordings' probe script.
    """

    shape: Shape = "local"
    style: Style = "recordings"
    queues: list[QueueConfig] = field(default_factory=list)
    default_queue: str = "sales"
    inbound_context: str = "inbound"
    agent_context: str = "agents"
    trunk: str = "trunk"
    agi_url: str = "agi://127.0.0.1:4573/ivr"
    ivr: IvrTarget | None = None
    queue_options: str = ""
    queue_max_wait: int = 60
    dial_timeout: int = 15
    route_wait: float = 5.0
    """``CTI_ROUTE_WAIT_SECONDS``: how long a direct call waits for a ``Redirect``."""
    direct_context: str = "cti-direct"
    missing_prompts: frozenset[str] = frozenset({"cti-welcome"})
    prompt_seconds: float = 2.0
    system_name: str = ""
    outbound_context: str = OUTBOUND_CONTEXT
    """``Originate`` into this context runs ``dialplans/outbound.conf`` (click-to-call)."""
    callees: dict[str, Callee] = field(default_factory=dict)
    """Customers' phones by number (E.164); a number not here answers after 2 s, talks 5 s."""

    @classmethod
    def recordings(cls, **changes: object) -> PbxConfig:
        """The PBX of ``tests/captures/pbx-config``: ``sales`` (Alice, Bob), ``support`` (Carol)."""
        config = cls(
            queues=[
                QueueConfig(
                    "support",
                    [MemberConfig("Local/agent3@agents", "Carol", answer_after=None, talk=0.0)],
                    strategy="ringall",
                ),
                QueueConfig(
                    "sales",
                    [
                        MemberConfig("Local/agent1@agents", "Alice"),
                        MemberConfig("Local/agent2@agents", "Bob"),
                    ],
                ),
            ]
        )
        return _changed(config, changes)

    @classmethod
    def production(cls, **changes: object) -> PbxConfig:
        """A trunk and PJSIP phones with the project's dialplan and ``asterisk-conf`` queues."""
        alice, bob = MemberConfig("PJSIP/1001", "Alice"), MemberConfig("PJSIP/1002", "Bob")
        carol, dan = MemberConfig("PJSIP/1003", "Carol"), MemberConfig("PJSIP/1004", "Dan")
        for member in (alice, bob, carol, dan):
            member.answer_after, member.talk = 2.0, 20.0
        config = cls(
            shape="trunk",
            style="callfold",
            default_queue="frontdesk",
            inbound_context="cti-inbound",
            agent_context="agents-phones",
            queue_options="t",
            queue_max_wait=600,
            queues=[
                _production_queue("frontdesk", [alice, bob, carol, dan]),
                _production_queue("sales", [alice, bob]),
                _production_queue("support", [carol, dan], strategy="ringall"),
                _production_queue("billing", [bob, dan]),
                _production_queue("complaints", [carol], strategy="leastrecent"),
            ],
        )
        return _changed(config, changes)


def _production_queue(
    name: str, members: list[MemberConfig], strategy: str = "rrmemory"
) -> QueueConfig:
    """A queue from the project's ``queues.conf`` template (``cc-template``)."""
    return QueueConfig(
        name,
        list(members),
        strategy=strategy,
        timeout=15.0,
        retry=2.0,
        ringinuse=False,
        wrapuptime=10,
        servicelevel=20,
        context=QUEUE_EXIT_CONTEXT,
    )


def _changed(config: PbxConfig, changes: dict[str, object]) -> PbxConfig:
    for key, value in changes.items():
        if not hasattr(config, key):
            raise TypeError(f"PbxConfig has no field {key!r}")
        setattr(config, key, value)
    return config


@dataclass
class ProbeScript:
    """The recordings' probe IVR: read the caller ID, play a (missing) prompt, read a key."""

    first_wait_ms: int = 4000
    second_wait_ms: int | None = None
    """A second ``WAIT FOR DIGIT`` (the ``hangup-in-ivr`` recording's probe waits 6000)."""
    reason: str = "delivery"
    agent: str = ""
    """Also set ``CTI_AGENT`` (the project's dialplan then dials that agent first)."""
    bogus: bool = True


@dataclass
class CallerScript:
    """What the caller does while the IVR runs.

    Attributes:
        digits: keys pressed, one each time the IVR starts listening for a key.
        hangup_after: hang up once the IVR has sent this many commands (as its next
            command arrives); ``None`` never does. A deterministic mid-IVR hangup.
        ivr_patience: hang up this many seconds after the keys (or, without keys, after
            the IVR first listens) if the IVR has not finished by then.
        press_delay: seconds the caller takes to press a key once the IVR listens.
    """

    digits: str = "2"
    hangup_after: int | None = None
    ivr_patience: float | None = None
    press_delay: float = 0.7


@dataclass
class CallPlan:
    """What one simulated caller does, and optionally how the agents treat this call.

    ``hold`` is the caller's patience once past the IVR (in the queue or ringing an
    agent): seconds before hanging up, ``None`` for no limit. ``caller_talk`` makes the
    caller end the conversation after that many seconds (else the agent ends it after
    ``talk``). ``rings`` overrides the agents ring by ring (seconds to answer,
    ``None``: that ring goes unanswered); with ``answered=False`` no ring is answered.
    """

    caller: str = "+79161234567"
    name: str = "Ivan Petrov"
    script: CallerScript = field(default_factory=CallerScript)
    hold: float | None = 12.0
    rings: tuple[float | None, ...] = ()
    answered: bool = True
    talk: float | None = None
    caller_talk: float | None = None
    did: str = "s"
    probe: ProbeScript = field(default_factory=ProbeScript)
    direct: bool = False
    """Skip the IVR: the call lands in ``cti-direct`` and waits for the server's
    ``Redirect`` (the ``callfold`` dialplan and the trunk shape)."""
    queue_keys: tuple[tuple[float, str], ...] = ()
    """Keys pressed while waiting in a queue: ``(seconds after first joining, digit)``.
    A digit that is an extension of the queue's ``context`` takes the caller out of the
    queue to that context; any other is ignored, as ``app_queue`` ignores it."""


@dataclass
class Originate:
    """An AMI ``Originate`` of a channel into the dialplan, as ``action_originate`` reads it.

    Attributes:
        channel: ``Tech/resource`` to call (``PJSIP/1001``, the agent's phone).
        context: where the answered channel starts (``cti-outbound``).
        exten: the extension it starts at (the customer's number).
        priority: the priority it starts at.
        caller: ``CallerID`` number and name (what the agent's phone displays).
        timeout: seconds the channel may ring (``Timeout`` / 1000).
        channel_id: ``ChannelId``: the channel's ``Uniqueid`` (and so the ``Linkedid``).
        variables: ``Variable`` pairs in the order Asterisk sets them (the reverse of the
            order in the action: ``astman_get_variables`` prepends each one).
        action_id: ``ActionID``, repeated in ``OriginateResponse``.
        respond: send ``OriginateResponse`` (``Async``); a synchronous ``Originate`` only
            gets its reply.
    """

    channel: str
    context: str
    exten: str
    priority: int = 1
    caller: tuple[str | None, str | None] = (None, None)
    timeout: float = ORIGINATE_TIMEOUT
    channel_id: str = ""
    variables: list[tuple[str, str]] = field(default_factory=list)
    action_id: str = ""
    respond: bool = True


# -- live objects ------------------------------------------------------------------------


@dataclass(eq=False)
class Channel:
    """One simulated channel and the snapshot Asterisk publishes for it."""

    name: str
    tech: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    created: float
    device: str
    state: int = 0
    priority: int = 1
    caller_num: str | None = None
    caller_name: str | None = None
    connected_num: str | None = None
    connected_name: str | None = None
    appl: str = ""
    data: str = ""
    language: str = "en"
    accountcode: str = ""
    peer: Channel | None = None
    bridge: Bridge | None = None
    alive: bool = True
    cause: int = 16
    variables: dict[str, str] = field(default_factory=dict)
    hangup_requested: Signal = field(default_factory=Signal)
    answered: Signal = field(default_factory=Signal)
    ringing: Signal = field(default_factory=Signal)
    listening: Signal = field(default_factory=Signal)
    redirected: Signal = field(default_factory=Signal)
    """Fired by AMI ``Redirect`` with ``context,exten,priority``."""
    listen_since: float = 0.0
    dtmf_sink: Callable[[str], None] | None = None
    queue_dtmf: Callable[[str], None] | None = None
    """Where keys go while the channel waits in ``Queue()`` (``valid_exit``)."""
    tech_cause: int = 0
    """The technology's own cause (a SIP status): ``TechCause`` of ``Hangup``."""
    call: Call | None = None

    def snapshot(self, **override: str) -> dict[str, str]:
        """The fourteen channel headers every channel event carries."""
        values = {
            "Channel": self.name,
            "ChannelState": str(self.state),
            "ChannelStateDesc": STATE_DESC.get(self.state, "Unknown"),
            "CallerIDNum": self.caller_num or "<unknown>",
            "CallerIDName": self.caller_name or "<unknown>",
            "ConnectedLineNum": self.connected_num or "<unknown>",
            "ConnectedLineName": self.connected_name or "<unknown>",
            "Language": self.language,
            "AccountCode": self.accountcode,
            "Context": self.context,
            "Exten": self.exten,
            "Priority": str(self.priority),
            "Uniqueid": self.uniqueid,
            "Linkedid": self.linkedid,
        }
        values.update(override)
        return values


@dataclass(eq=False)
class Bridge:
    """A basic two-party bridge."""

    uniqueid: str
    channels: list[Channel] = field(default_factory=list)

    def values(self) -> dict[str, str]:
        return {
            "BridgeUniqueid": self.uniqueid,
            "BridgeType": "basic",
            "BridgeTechnology": "simple_bridge",
            "BridgeCreator": "<unknown>",
            "BridgeName": "<unknown>",
            "BridgeNumChannels": str(len(self.channels)),
            "BridgeVideoSourceMode": "none",
        }


@dataclass(eq=False)
class Member:
    """A queue member with the counters ``QueueStatus`` and ``QueueMemberStatus`` report."""

    queue: Queue
    name: str
    interface: str
    state_interface: str
    logintime: int
    answer_after: float | None = 1.0
    talk: float = 3.0
    behaviour: Behaviour | None = None
    penalty: int = 0
    dynamic: bool = False
    paused: bool = False
    reason_paused: str = ""
    calls: int = 0
    lastcall: int = 0
    lastpause: int = 0
    status: int = 1
    starttime: float = 0.0
    completed_in_sl: bool = False
    """Whether the current call was answered within the service level (``callcompletedinsl``)."""
    ringinuse: bool = True
    wrapuptime: int = 0
    pending: bool = False

    def values(self) -> dict[str, str]:
        """The member blob of ``QueueMemberStatus`` and friends (``Name``/``Location`` too)."""
        return {
            "Queue": self.queue.name,
            "MemberName": self.name,
            "Name": self.name,
            "Interface": self.interface,
            "Location": self.interface,
            "StateInterface": self.state_interface,
            "Membership": "dynamic" if self.dynamic else "static",
            "Penalty": str(self.penalty),
            "CallsTaken": str(self.calls),
            "LastCall": str(self.lastcall),
            "LastPause": str(self.lastpause),
            "LoginTime": str(self.logintime),
            "InCall": "1" if self.starttime else "0",
            "Status": str(self.status),
            "Paused": "1" if self.paused else "0",
            "PausedReason": self.reason_paused,
            "Ringinuse": "1" if self.ringinuse else "0",
            "Wrapuptime": str(self.wrapuptime),
        }


@dataclass(eq=False)
class _Ring:
    """One member being rung for one caller."""

    member: Member
    one: Channel
    far: Channel | None
    started: float
    fields: dict[str, str]


@dataclass(eq=False)
class Entry:
    """A caller waiting in a queue."""

    call: Call
    chan: Channel
    start: float
    original_position: int
    pending: bool = False
    digits: str = ""
    """Keys pressed so far toward an extension of the queue's context (``qe->digits``)."""
    key: Signal = field(default_factory=Signal)
    """Fired with the extension when the caller leaves by key."""


@dataclass(eq=False)
class Queue:
    """A queue with Asterisk's running statistics."""

    config: QueueConfig
    members: list[Member] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    rrpos: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    def position(self, entry: Entry) -> int:
        return self.entries.index(entry) + 1 if entry in self.entries else 1


@dataclass(eq=False)
class Call:
    """One inbound call from its first channel to its last hangup."""

    id: int
    plan: CallPlan
    linkedid: str = ""
    caller: Channel | None = None
    """The channel where the caller's own actions show: Local ``;1`` or the trunk channel."""
    runner: Channel | None = None
    """The channel that runs the inbound dialplan: Local ``;2`` or the trunk channel."""
    channels: list[Channel] = field(default_factory=list)
    outcome: str = ""
    queued: bool = False
    connected: bool = False
    abandoned: bool = False
    timed_out: bool = False
    ivr_variables: dict[str, str] = field(default_factory=dict)
    ivr_done: Signal = field(default_factory=Signal)
    connected_signal: Signal = field(default_factory=Signal)
    done: Signal = field(default_factory=Signal)
    rings_used: int = 0
    action_id: str = ""
    originated: bool = False
    queue: str = ""
    agent: str = ""
    agi: AgiSession | None = None
    exit_key: str = ""
    """The extension the caller left a queue with (``valid_exit``), if any."""
    key_exit: Signal = field(default_factory=Signal)
    keys_pressing: bool = False
    """Whether the caller's ``queue_keys`` process has started (once per call)."""
    kind: Literal["inbound", "outbound"] = "inbound"
    originated_signal: Signal = field(default_factory=Signal)
    """An outbound ``Originate``: fired with ``Success`` or ``Failure`` when decided."""


# -- the PBX -----------------------------------------------------------------------------


class Pbx:
    """A PBX that turns call plans into Asterisk 22's AMI events, in virtual time.

    Args:
        config: queues, shape and dialplan style.
        sink: receives each rendered AMI event, in order.
        seed: seeds the one RNG (``CommandId``, human timings, ``random`` strategy).
        start: the virtual epoch the PBX starts at.
    """

    def __init__(
        self,
        config: PbxConfig | None = None,
        sink: Callable[[bytes], None] | None = None,
        *,
        seed: int = 0,
        start: float = DEFAULT_EPOCH,
    ) -> None:
        self.config = config or PbxConfig.recordings()
        self.sink: Callable[[bytes], None] = sink or (lambda _data: None)
        self.random = random.Random(seed)
        self.now = start
        self.booted = start
        self.last_reload = start
        self.agi_connector: Callable[[AgiSession], None] | None = None
        """Set by the network layer: opens a FastAGI connection for a session."""
        self.awaiter: Callable[[Call], Awaitable[str]] | None = None
        """Set by the network layer: turns a call into an awaitable of its outcome."""
        self.channels: dict[str, Channel] = {}
        self.calls: dict[int, Call] = {}
        self.queues: dict[str, Queue] = {}
        self.devices: dict[str, str] = {}
        self.database: dict[tuple[str, str], str] = {}
        self.globals: dict[str, str] = {}
        self.applications: list[dict[str, str]] = []
        """``Originate`` actions that ran an application (``ChanSpy``), in order."""
        self.callees: dict[str, Callee] = self.config.callees
        """How customers' phones answer outbound calls, by number (``PbxConfig.callees``)."""
        self._heap: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._uniqueids = itertools.count()
        self._tech_counters: dict[str, Iterator[int]] = {}
        self._bridges = itertools.count(1)
        self._call_ids = itertools.count(1)
        for queue_config in self.config.queues:
            self.add_queue(queue_config)

    # -- the clock ------------------------------------------------------------------

    def call_at(self, when: float, fn: Callable[[], None]) -> _Timer:
        """Run ``fn`` at virtual time ``when`` (never in the past)."""
        timer = _Timer(fn)
        heapq.heappush(self._heap, (max(when, self.now), next(self._seq), timer))
        return timer

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Timer:
        """Run ``fn`` ``delay`` virtual seconds from now."""
        return self.call_at(self.now + max(0.0, delay), fn)

    def next_due(self) -> float | None:
        """The virtual time of the next scheduled step, or ``None`` when idle."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def run_until(self, when: float) -> None:
        """Run every step due by ``when``, each at its own time; then stand at ``when``."""
        while self._heap and self._heap[0][0] <= when:
            at, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self.now = max(self.now, at)
            timer.fn()
        self.now = max(self.now, when)

    def run(self, limit: float = 24 * 3600.0) -> None:
        """Run until nothing is scheduled (or ``limit`` virtual seconds have passed)."""
        end = self.now + limit
        while (due := self.next_due()) is not None and due <= end:
            self.run_until(due)

    def spawn(self, proc: Proc) -> None:
        """Start a process at the current virtual time (after steps already due now)."""
        self.call_later(0.0, lambda: self._resume(proc, None))

    def _resume(self, proc: Proc, value: Signal | None) -> None:
        try:
            request = proc.send(value)
        except StopIteration:
            return
        if isinstance(request, Wait):
            self._wait(proc, request)
        else:
            self.call_later(request, lambda: self._resume(proc, None))

    def _wait(self, proc: Proc, wait: Wait) -> None:
        for signal in wait.signals:
            if signal.fired:
                self.call_later(0.0, lambda s=signal: self._resume(proc, s))  # type: ignore[misc]
                return
        done = False
        timer: _Timer | None = None

        def wake(signal: Signal | None) -> None:
            nonlocal done
            if done:
                return
            done = True
            for other in wait.signals:
                other.unsubscribe(wake)
            if timer is not None:
                timer.cancelled = True
            self.call_later(0.0, lambda: self._resume(proc, signal))

        for signal in wait.signals:
            signal.subscribe(wake)
        if wait.timeout is not None:
            timer = self.call_later(wait.timeout, lambda: wake(None))

    # -- events ---------------------------------------------------------------------

    def publish(self, name: str, values: dict[str, str]) -> None:
        """Render one event and hand it to the sink."""
        self.sink(render_event(name, values))

    @property
    def emit(self) -> Callable[[bytes], None]:
        """Where rendered events go (the same as ``sink``; assign to capture them)."""
        return self.sink

    @emit.setter
    def emit(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink

    @property
    def ivr(self) -> IvrTarget | None:
        """Where the FastAGI IVR listens; ``None`` runs the recordings' probe script."""
        return self.config.ivr

    @ivr.setter
    def ivr(self, target: IvrTarget | None) -> None:
        self.config.ivr = target

    def call(self, plan: CallPlan) -> Awaitable[str]:
        """Place a call; await its outcome (needs the clock of a ``PbxSimulator``).

        Raises:
            RuntimeError: nothing drives this PBX's clock.
        """
        if self.awaiter is None:
            raise RuntimeError("no clock drives this PBX; run it inside a PbxSimulator")
        return self.awaiter(self.place_call(plan))

    def chan_event(
        self,
        name: str,
        chan: Channel | None,
        dest: Channel | None = None,
        dest_values: dict[str, str] | None = None,
        /,
        **fields: str,
    ) -> None:
        """Publish a channel event: the snapshot, a ``Dest`` snapshot, then ``fields``."""
        values: dict[str, str] = chan.snapshot() if chan is not None else {}
        if dest is not None:
            values.update(prefixed("Dest", dest_values or dest.snapshot()))
        values.update(fields)
        self.publish(name, values)

    def uptime(self) -> int:
        """Seconds since the PBX booted."""
        return int(self.now - self.booted)

    # -- channels -------------------------------------------------------------------

    def _uniqueid(self) -> str:
        return f"{int(self.now)}.{next(self._uniqueids)}"

    def originate_application(self, action: dict[str, str]) -> None:
        """An ``Originate`` of a phone into an application (a supervisor's ``ChanSpy``):
        the phone answers at once and the application runs; ``OriginateResponse`` says so."""
        self.applications.append(dict(action))
        channel = action.get("Channel", "")
        display, _, number = action.get("CallerID", "").partition("<")
        self.publish(
            "OriginateResponse",
            {
                "ActionID": action.get("ActionID", ""),
                "Response": "Success",
                "Channel": f"{channel}-{self._number(channel):08x}",
                "Application": action.get("Application", ""),
                "Data": action.get("Data", ""),
                "Reason": "4",
                "Uniqueid": self._uniqueid(),
                "CallerIDNum": number.rstrip(">").strip() or "<unknown>",
                "CallerIDName": display.strip().strip('"') or "<unknown>",
            },
        )

    def _number(self, tech: str) -> int:
        counter = self._tech_counters.setdefault(tech, itertools.count())
        return next(counter)

    # -- Originate into the dialplan (click-to-call, call-backs) ----------------------------

    def originate(self, request: Originate) -> Call:
        """An ``Originate`` of a phone into ``cti-outbound`` (``ast_pbx_outgoing_exten``).

        The phone rings for ``request.timeout``; once it answers, ``OriginateResponse``
        says so and the channel runs dialplans/outbound.conf, which dials the customer
        (``Pbx.callees``). ``Call.originated_signal`` fires with ``Success`` or ``Failure``
        when the phone answered or the attempt failed; ``Call.done`` at the very end, with
        ``Call.outcome`` ``answered``, ``busy``, ``noanswer``, ``congestion``,
        ``chanunavail``, ``cancel`` (the customer's side) or ``agent_noanswer``,
        ``agent_busy``, ``agent_unavailable`` (the phone's). Only PJSIP phones that are
        queue members are known; any other channel fails as an unknown endpoint does.
        """
        call = Call(id=next(self._call_ids), plan=CallPlan(), action_id=request.action_id)
        call.kind = "outbound"
        call.agent = request.channel
        self.calls[call.id] = call
        self.spawn(self._outbound(call, request))
        return call

    def _phone_members(self, device: str) -> list[Member]:
        return [
            member
            for queue in self.queues.values()
            for member in queue.members
            if device in (member.interface, member.state_interface)
        ]

    def _phone_reachable(self, device: str) -> bool:
        """Whether ``chan_pjsip`` can create a channel: a known endpoint with a contact."""
        members = self._phone_members(device)
        if not members or self.devices.get(device) in ("UNAVAILABLE", "INVALID"):
            return False
        return all(member.status not in (4, 5) for member in members)

    def _phone_in_use(self, device: str) -> bool:
        """An agent's phone already on a call (it answers a second one ``486 Busy Here``)."""
        if any(c.alive and c.device == device for c in self.channels.values()):
            return True
        return self.devices.get(device) in ("INUSE", "BUSY", "RINGINUSE", "ONHOLD")

    def _phone_behaviour(self, device: str) -> tuple[float | None, float]:
        """How the agent behind a phone answers: as the queue member on it does."""
        for member in self._phone_members(device):
            if member.behaviour is not None:
                return member.behaviour(self.random)
            return member.answer_after, member.talk
        return 1.0, 3.0

    def _pjsip_device(self, device: str) -> None:
        """``chan_pjsip_devicestate``: the endpoint's channels' states, aggregated."""
        states = {
            "RINGING" if c.state == 5 else "NOT_INUSE" if c.state == 0 else "INUSE"
            for c in self.channels.values()
            if c.alive and c.device == device
        }
        if "RINGING" in states and "INUSE" in states:
            state = "RINGINUSE"
        else:
            state = next((s for s in ("INUSE", "RINGING") if s in states), "NOT_INUSE")
        self.device(device, state)

    def _originate_response(
        self, call: Call, request: Originate, chan: Channel | None, reason: int
    ) -> None:
        """``fast_originate``'s event: the channel when it answered, else what was asked."""
        call.originated_signal.fire("Success" if chan is not None else "Failure")
        if not request.respond:
            return
        number, name = request.caller
        uniqueid = chan.uniqueid if chan is not None else request.channel_id or "<unknown>"
        self.publish(
            "OriginateResponse",
            {
                "ActionID": request.action_id,
                "Response": "Success" if chan is not None else "Failure",
                "Channel": chan.name if chan is not None else request.channel,
                "Context": request.context,
                "Exten": request.exten,
                "Reason": str(reason),
                "Uniqueid": uniqueid,
                "CallerIDNum": number or "<unknown>",
                "CallerIDName": name or "<unknown>",
            },
        )

    def _outbound(self, call: Call, request: Originate) -> Proc:
        """``pbx_outgoing_attempt`` and ``ast_dial_run``: ring the phone, then the dialplan."""
        tech, _, resource = request.channel.partition("/")
        device = request.channel
        if tech != "PJSIP" or not self._phone_reachable(device):
            call.outcome = "agent_unavailable"
            self._originate_response(call, request, None, 0)
            self._finish(call)
            return
        in_use = self._phone_in_use(device)
        chan = self.pjsip_channel(
            resource,
            context=self.config.agent_context,
            exten="s",
            state=0,
            linkedid=None,
            call=call,
            uniqueid=request.channel_id or None,
        )
        call.linkedid, call.caller, call.runner = chan.linkedid, chan, chan
        self.update(chan, appl="AppDial2", data="(Outgoing Line)")
        for name, value in request.variables:
            self.varset(chan, name, value)
        if any(request.caller):
            self.update(chan, caller=request.caller)
            self.update(chan, connected=request.caller)
        self.chan_event("DialBegin", None, chan, DialString=resource)
        answer_after, talk = self._phone_behaviour(device)
        yield SIP_DELAY
        if in_use:
            call.outcome = "agent_busy"
            chan.tech_cause = 486
            self.hangup_request(chan, 17, 486)
            self.chan_event("DialEnd", None, chan, DialStatus="BUSY")
            self._hangup(chan, 17)
            self._originate_response(call, request, None, 0)
            return
        self.update(chan, state=5)
        self.chan_event("DialState", None, chan, DialStatus="RINGING")
        self._pjsip_device(device)
        left = request.timeout - SIP_DELAY if request.timeout > 0 else None
        if answer_after is None or (left is not None and answer_after >= left):
            yield Wait((), timeout=left)
            call.outcome = "agent_noanswer"
            self._hangup(chan, 19)
            self._originate_response(call, request, None, RINGING)
            return
        yield answer_after
        self.update(chan, state=6)
        self.chan_event("DialEnd", None, chan, DialStatus="ANSWER")
        self._pjsip_device(device)
        answered_at = self.now
        self._originate_response(call, request, chan, ANSWER)
        chan.answered.fire()
        yield from self._outbound_dialplan(call, chan, request, answered_at, talk)

    def _dialplan_var(self, chan: Channel, name: str) -> str:
        """``${NAME}``: the channel's variable, else a global (extensions.conf's defaults)."""
        defaults = {"CTI_TRUNK": self.config.trunk, "CTI_DIAL_SECONDS": "30"}
        if name in chan.variables:
            return chan.variables[name]
        return self.globals.get(name, defaults.get(name, ""))

    def _outbound_dialplan(
        self,
        call: Call,
        chan: Channel,
        request: Originate,
        answered_at: float,
        agent_talk: float,
    ) -> Proc:
        """``[cti-outbound]`` of dialplans/outbound.conf on the answered phone's channel."""
        number = request.exten
        var = self._dialplan_var

        def step(priority: int, appl: str, data: str) -> None:
            self.update(
                chan,
                context=request.context,
                exten=number,
                priority=priority,
                appl=appl,
                data=data,
            )

        priority = request.priority
        while not self.gone(chan):
            if priority == 1:
                kind, attempt = var(chan, "CTI_OUTBOUND_KIND"), var(chan, "CTI_OUTBOUND_ID")
                step(1, "NoOp", f"Outbound {kind} {attempt} to {number}")
                priority = 2
            elif priority == 2:
                value = var(chan, "CTI_CALLER_ID")
                step(2, "Set", f"CALLERID(num)={value}")
                self.update(chan, caller=(value or None, chan.caller_name))
                priority = 3
            elif priority == 3:
                value = var(chan, "CTI_CALLER_NAME")
                step(3, "Set", f"CALLERID(name)={value}")
                self.update(chan, caller=(chan.caller_num, value or None))
                priority = 4
            elif priority == 4:
                plain = not var(chan, "CTI_ANNOUNCE")
                step(4, "GotoIf", f"{int(plain)}?plain")
                priority = 7 if plain else 5
            elif priority in (5, 7):
                trunk, seconds = var(chan, "CTI_TRUNK"), var(chan, "CTI_DIAL_SECONDS")
                announce = var(chan, "CTI_ANNOUNCE") if priority == 5 else ""
                option = f",A({announce})" if priority == 5 else ""
                step(priority, "Dial", f"PJSIP/{number}@{trunk},{seconds}{option}")
                result = yield from self._outbound_dial(
                    call, chan, f"{number}@{trunk}", seconds, announce, answered_at, agent_talk
                )
                if result == "done":
                    return
                priority += 1
            elif priority in (6, 8):
                step(priority, "Hangup", "")
                break
            else:
                break  # no such priority: the PBX lets the channel go
        if chan.alive:
            self.hangup_self(chan)

    def _outbound_dial(
        self,
        call: Call,
        chan: Channel,
        dialstring: str,
        seconds: str,
        announce: str,
        answered_at: float,
        agent_talk: float,
    ) -> Generator[Step, Signal | None, str]:
        """``Dial(PJSIP/<number>@<trunk>,<seconds>[,A(<announce>)])`` of ``app_dial``.

        Returns ``continue`` (the dialplan goes on with ``DIALSTATUS`` set) or ``done``
        (the channel is gone: the call was bridged, or someone hung up).
        """
        number, _, trunk = dialstring.partition("@")
        for name in DIAL_VARIABLES:
            self.varset(chan, name, "")
        callee = self.callees.get(number, Callee())
        if callee.unavailable:
            chan.cause = 3  # ast_request failed: NO_ROUTE_DESTINATION, kept for Hangup()
            call.outcome = "chanunavail"
            self.varset(chan, "DIALSTATUS", "CHANUNAVAIL")
            return "continue"
        start = self.now
        try:
            ring_for: float | None = float(seconds)
        except ValueError:
            ring_for = None
        deadline = start + ring_for if ring_for is not None and ring_for > 0 else None
        leg = self.pjsip_channel(
            trunk,
            context=self.config.inbound_context,
            exten="s",
            state=0,
            linkedid=chan.linkedid,
            call=call,
        )
        self.varset(leg, "DIALEDPEERNUMBER", dialstring)
        self.update(
            leg,
            exten=chan.exten,
            appl="AppDial",
            data="(Outgoing Line)",
            caller=(chan.exten, chan.connected_name),
            connected=(chan.caller_num, chan.caller_name),
        )
        self.chan_event("DialBegin", chan, leg, DialString=dialstring)
        signal = yield Wait((chan.hangup_requested,), timeout=SIP_DELAY)
        if signal is None and (callee.busy or callee.congestion):
            cause, tech_cause, status = (
                (17, 486, "BUSY") if callee.busy else (34, 503, "CONGESTION")
            )
            self.hangup_request(leg, cause, tech_cause)
            self.chan_event("DialEnd", chan, leg, DialStatus=status)
            chan.cause = cause
            self._hangup(leg, cause)
            call.outcome = status.lower()
            self.varset(chan, "DIALSTATUS", status)
            return "continue"
        answers = False
        if signal is None:
            self.update(leg, state=5)
            ring_ms = round((self.now - leg.created) * 1000)
            self.varset(chan, "RINGTIME", str(ring_ms // 1000))
            self.varset(chan, "RINGTIME_MS", str(ring_ms))
            self.chan_event("DialState", chan, leg, DialStatus="RINGING")
            self._pjsip_device(leg.device)
            after = callee.answer_after
            answers = after is not None and (deadline is None or self.now + after < deadline)
            wait = after if answers else (None if deadline is None else deadline - self.now)
            signal = yield Wait((chan.hangup_requested,), timeout=wait)
        if signal is not None:  # the agent hung up while the customer's phone rang
            self.chan_event("DialEnd", chan, leg, DialStatus="CANCEL")
            self._hangup(leg, chan.cause or 16)
            call.outcome = "cancel"
            self.varset(chan, "DIALSTATUS", "CANCEL")
            self.hangup_self(chan)
            return "done"
        if not answers:
            self.chan_event("DialEnd", chan, leg, DialStatus="NOANSWER")
            self._hangup(leg, 0)
            call.outcome = "noanswer"
            self.varset(chan, "DIALSTATUS", "NOANSWER")
            return "continue"
        leg.cause = chan.cause = 16
        self.update(leg, state=6)
        self._pjsip_device(leg.device)
        self.varset(chan, "DIALSTATUS", "ANSWER")
        self.varset(chan, "DIALEDPEERNAME", leg.name)
        self.varset(chan, "DIALEDPEERNUMBER", dialstring)
        call.outcome = "answered"
        call.connected = True
        call.connected_signal.fire()
        if callee.talk <= agent_talk:
            ender = self.call_later(callee.talk, lambda: self.remote_hangup(leg, 16))
        else:
            ender = self.call_later(agent_talk, lambda: self.remote_hangup(chan, 16))
        if announce and announce not in self.config.missing_prompts:
            signal = yield Wait(
                (leg.hangup_requested, chan.hangup_requested), timeout=self.config.prompt_seconds
            )
            if signal is not None:  # gone during the announcement: Dial hangs up the other
                ender.cancelled = True
                self._hangup(leg, leg.cause)
                self.hangup_self(chan)
                return "done"
        self.chan_event("DialEnd", chan, leg, DialStatus="ANSWER")
        side = yield from self._talk(chan, leg, None, None)
        ender.cancelled = True
        up_ms = round((self.now - answered_at) * 1000)
        all_ms = round((self.now - chan.created) * 1000)
        for name, value in (("ANSWEREDTIME", up_ms), ("DIALEDTIME", all_ms)):
            self.varset(chan, name, str(value // 1000))
            self.varset(chan, f"{name}_MS", str(value))
        self.varset(chan, "DIALSTATUS", "ANSWER")
        if side == "caller":  # the agent hung up first
            self._end_bridge_for_caller(chan, leg, None)
        elif chan.alive:
            self.hangup_self(chan)
        return "done"

    def new_channel(
        self,
        name: str,
        tech: str,
        *,
        context: str,
        exten: str,
        state: int,
        device: str,
        linkedid: str | None = None,
        caller: tuple[str | None, str | None] = (None, None),
        call: Call | None = None,
        uniqueid: str | None = None,
    ) -> Channel:
        """Create a channel and publish ``Newchannel`` (``uniqueid``: an assigned one)."""
        uniqueid = uniqueid or self._uniqueid()
        chan = Channel(
            name=name,
            tech=tech,
            uniqueid=uniqueid,
            linkedid=linkedid or uniqueid,
            context=context,
            exten=exten,
            created=self.now,
            device=device,
            state=state,
            caller_num=caller[0],
            caller_name=caller[1],
            call=call,
        )
        self.channels[uniqueid] = chan
        if call is not None:
            call.channels.append(chan)
        self.chan_event("Newchannel", chan)
        return chan

    def update(
        self,
        chan: Channel,
        *,
        state: int | None = None,
        context: str | None = None,
        exten: str | None = None,
        priority: int | None = None,
        appl: str | None = None,
        data: str | None = None,
        caller: tuple[str | None, str | None] | None = None,
        connected: tuple[str | None, str | None] | None = None,
    ) -> None:
        """Change a channel's snapshot and publish what Asterisk's monitors see changed."""
        if not chan.alive:
            return
        old_state, old_cep = chan.state, (chan.context, chan.exten, chan.priority)
        had_appl = bool(chan.appl)
        old_caller = (chan.caller_num, chan.caller_name)
        old_connected = (chan.connected_num, chan.connected_name)
        chan.state = chan.state if state is None else state
        chan.context = chan.context if context is None else context
        chan.exten = chan.exten if exten is None else exten
        chan.priority = chan.priority if priority is None else priority
        chan.appl = chan.appl if appl is None else appl
        chan.data = chan.data if data is None else data
        if caller is not None:
            chan.caller_num, chan.caller_name = caller
        if connected is not None:
            chan.connected_num, chan.connected_name = connected
        if chan.state != old_state:
            self.chan_event("Newstate", chan)
        cep = (chan.context, chan.exten, chan.priority)
        if chan.appl and (cep != old_cep or not had_appl):
            self.chan_event(
                "Newexten", chan, Extension=chan.exten, Application=chan.appl, AppData=chan.data
            )
        if (chan.caller_num, chan.caller_name) != old_caller:
            self.chan_event("NewCallerid", chan, **{"CID-CallingPres": PRESENTATION})
        if (chan.connected_num, chan.connected_name) != old_connected:
            self.chan_event("NewConnectedLine", chan)

    def app(self, chan: Channel, priority: int, appl: str, data: str = "") -> None:
        """Run a dialplan priority: the channel moves there and ``Newexten`` says so."""
        self.update(chan, priority=priority, appl=appl, data=data)

    def varset(self, chan: Channel, name: str, value: str) -> None:
        """Set a channel variable: ``VarSet``."""
        chan.variables[name] = value
        self.chan_event("VarSet", chan, Variable=name, Value=value)

    def device(self, device: str, state: str) -> None:
        """Set a device's state; queue members on it follow (``QueueMemberStatus``)."""
        if self.devices.get(device) == state:
            return
        self.devices[device] = state
        self.publish("DeviceStateChange", {"Device": device, "State": state})
        for queue in self.queues.values():
            for member in queue.members:
                if member.state_interface == device:
                    self._member_status(member, DEVICE_STATES[state])

    def _member_status(self, member: Member, status: int) -> None:
        if member.status == status:
            return
        member.status = status
        self.publish("QueueMemberStatus", member.values())
        queue = member.queue
        if self._available(queue, member):
            self.device(f"Queue:{queue.name}_avail", "NOT_INUSE")
        elif not self._num_available(queue):
            self.device(f"Queue:{queue.name}_avail", "INUSE")

    def hangup_request(self, chan: Channel, cause: int = 16, tech_cause: int = 0) -> None:
        """``HangupRequest``: someone else asks this channel to hang up.

        ``tech_cause``: the SIP status that ended the session (``TechCause``), if any.
        """
        if not chan.alive or chan.hangup_requested.fired:
            return
        chan.cause = cause
        chan.tech_cause = tech_cause or chan.tech_cause
        extra = {"TechCause": str(tech_cause)} if tech_cause else {}
        self.chan_event("HangupRequest", chan, Cause=str(cause), **extra)
        chan.hangup_requested.fire(str(cause))

    def soft_hangup_request(self, chan: Channel, cause: int = 16) -> None:
        """``SoftHangupRequest``: the channel's own hangup is under way."""
        if chan.alive:
            self.chan_event("SoftHangupRequest", chan, Cause=str(cause))

    def _hangup(self, chan: Channel, cause: int) -> None:
        if not chan.alive:
            return
        fields = {"Cause": str(cause), "Cause-txt": CAUSE_TXT.get(cause, "")}
        if chan.tech == "PJSIP":
            tech_cause = chan.tech_cause or PJSIP_TECH_CAUSES.get(cause, 0)
            if tech_cause:
                fields["TechCause"] = str(tech_cause)
        self.chan_event("Hangup", chan, **fields)
        chan.alive = False
        chan.hangup_requested.fire(str(cause))
        self.channels.pop(chan.uniqueid, None)
        self._device_after_hangup(chan)
        call = chan.call
        if call is not None and all(not c.alive for c in call.channels):
            self._finish(call)

    def hangup_self(self, chan: Channel, cause: int | None = None) -> None:
        """A channel whose dialplan ends hangs up (its Local half is asked to follow)."""
        if not chan.alive:
            return
        reason = chan.cause if cause is None else cause
        self.soft_hangup_request(chan, 16)
        if chan.peer is not None and chan.peer.alive:
            self.hangup_request(chan.peer, reason)
        self._hangup(chan, reason)

    def hangup_owned(self, chan: Channel, cause: int) -> None:
        """An application hangs up a channel it owns (a queue's or Dial's outgoing leg)."""
        if not chan.alive:
            return
        if chan.peer is not None and chan.peer.alive:
            self.hangup_request(chan.peer, cause)
        self._hangup(chan, cause)

    def remote_hangup(self, chan: Channel, cause: int = 16) -> None:
        """The far end of a PJSIP channel hung up (a BYE): ``HangupRequest`` on it."""
        self.hangup_request(chan, cause)

    def _device_after_hangup(self, chan: Channel) -> None:
        if any(c.alive and c.device == chan.device for c in self.channels.values()):
            return
        if chan.device in self.devices:
            self.device(chan.device, "NOT_INUSE")

    def local_pair(
        self, target: str, *, linkedid: str | None, call: Call | None
    ) -> tuple[Channel, Channel]:
        """A Local channel pair ``Local/<exten>@<context>-%08x;1`` and ``;2``."""
        exten, _, context = target.partition("@")
        base = f"Local/{target}-{self._number('Local'):08x}"
        device = f"Local/{target}"
        one = self.new_channel(
            f"{base};1",
            "Local",
            context=context,
            exten=exten,
            state=0,
            device=device,
            linkedid=linkedid,
            call=call,
        )
        two = self.new_channel(
            f"{base};2",
            "Local",
            context=context,
            exten=exten,
            state=4,
            device=device,
            linkedid=one.linkedid,
            call=call,
        )
        one.peer, two.peer = two, one
        return one, two

    def local_bridge(self, one: Channel, two: Channel) -> None:
        """``LocalBridge``: the two halves of a Local channel are joined."""
        values = {**prefixed("LocalOne", one.snapshot()), **prefixed("LocalTwo", two.snapshot())}
        values.update(Context=two.context, Exten=two.exten, LocalOptimization="Yes")
        self.publish("LocalBridge", values)

    def pjsip_channel(
        self,
        endpoint: str,
        *,
        context: str,
        exten: str,
        state: int,
        linkedid: str | None,
        caller: tuple[str | None, str | None] = (None, None),
        call: Call | None,
        uniqueid: str | None = None,
    ) -> Channel:
        """Create ``PJSIP/<endpoint>-%08x`` (its own counter, as ``chan_pjsip`` keeps)."""
        name = f"PJSIP/{endpoint}-{self._number('PJSIP'):08x}"
        return self.new_channel(
            name,
            "PJSIP",
            context=context,
            exten=exten,
            state=state,
            device=f"PJSIP/{endpoint}",
            linkedid=linkedid,
            caller=caller,
            call=call,
            uniqueid=uniqueid,
        )

    def send_dtmf(self, chan: Channel, digit: str) -> Proc:
        """The far end presses a key: ``DTMFBegin``, 100 ms, ``DTMFEnd``, then delivery."""
        if not chan.alive:
            return
        self.chan_event("DTMFBegin", chan, Digit=digit, Direction="Received")
        yield DTMF_MS / 1000
        if not chan.alive:
            return
        self.chan_event("DTMFEnd", chan, Digit=digit, DurationMs=str(DTMF_MS), Direction="Received")
        if chan.dtmf_sink is not None:
            chan.dtmf_sink(digit)
        elif chan.queue_dtmf is not None:
            chan.queue_dtmf(digit)

    def find_channel(self, name: str) -> Channel | None:
        """The live channel with this name, if any."""
        for chan in self.channels.values():
            if chan.name == name:
                return chan
        return None

    # -- queues ---------------------------------------------------------------------

    def add_queue(self, config: QueueConfig | str, **options: object) -> Queue:
        """Add a queue (a ``QueueConfig``, or a name and ``QueueConfig`` fields)."""
        if isinstance(config, str):
            config = QueueConfig(config, **options)  # type: ignore[arg-type]
        queue = Queue(config)
        self.queues[config.name] = queue
        for member in config.members:
            self.add_member(
                config.name,
                member.name,
                member.interface,
                answer_after=member.answer_after,
                talk=member.talk,
                penalty=member.penalty,
                paused=member.paused,
            )
        return queue

    def add_member(
        self,
        queue: str,
        name: str,
        interface: str,
        *,
        answer_after: float | None = 1.0,
        talk: float = 3.0,
        penalty: int = 0,
        paused: bool = False,
    ) -> Member:
        """Add a static member whose agent answers after ``answer_after`` s (``None``: never)."""
        member = self._add_member(
            self.queues[queue], interface, name, penalty=penalty, paused=paused
        )
        member.answer_after, member.talk = answer_after, talk
        return member

    def _add_member(
        self,
        queue: Queue,
        interface: str,
        name: str,
        *,
        penalty: int = 0,
        state_interface: str = "",
        dynamic: bool = False,
        paused: bool = False,
        reason: str = "",
    ) -> Member:
        member = Member(
            queue=queue,
            name=name or interface,
            interface=interface,
            state_interface=state_interface or interface,
            logintime=int(self.now),
            penalty=penalty,
            dynamic=dynamic,
            paused=paused,
            reason_paused=reason if paused else "",
            ringinuse=queue.config.ringinuse,
            wrapuptime=queue.config.wrapuptime,
        )
        member.status = DEVICE_STATES[self.devices.get(member.state_interface, "NOT_INUSE")]
        queue.members.append(member)
        return member

    def queue_add(
        self,
        queue_name: str,
        interface: str,
        *,
        name: str = "",
        penalty: int = 0,
        paused: bool = False,
        reason: str = "",
        state_interface: str = "",
    ) -> str:
        """``QueueAdd``: ``ok``, ``exists`` or ``no_queue`` (Asterisk's three outcomes)."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return "no_queue"
        if any(m.interface == interface for m in queue.members):
            return "exists"
        member = self._add_member(
            queue,
            interface,
            name,
            penalty=penalty,
            state_interface=state_interface,
            dynamic=True,
            paused=paused,
            reason=reason,
        )
        self.publish("QueueMemberAdded", member.values())
        return "ok"

    def queue_remove(self, queue_name: str, interface: str) -> str:
        """``QueueRemove``: ``ok``, ``not_there``, ``no_queue`` or ``not_dynamic``."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return "no_queue"
        member = next((m for m in queue.members if m.interface == interface), None)
        if member is None:
            return "not_there"
        if not member.dynamic:
            return "not_dynamic"
        queue.members.remove(member)
        self.publish("QueueMemberRemoved", member.values())
        return "ok"

    def queue_pause(
        self, interface: str, paused: bool, *, queue_name: str = "", reason: str = ""
    ) -> bool:
        """``QueuePause`` on one queue or all; ``False`` when the interface is nowhere."""
        found = False
        for queue in self.queues.values():
            if queue_name and queue.name.lower() != queue_name.lower():
                continue
            for member in queue.members:
                if member.interface != interface:
                    continue
                found = True
                member.paused = paused
                if paused:
                    member.lastpause = int(self.now)
                member.reason_paused = reason
                self.device(
                    f"Queue:{queue.name}_pause_{member.interface}",
                    "INUSE" if paused else "NOT_INUSE",
                )
                if self._available(queue, member):
                    self.device(f"Queue:{queue.name}_avail", "NOT_INUSE")
                elif not self._num_available(queue):
                    self.device(f"Queue:{queue.name}_avail", "INUSE")
                self.publish("QueueMemberPause", member.values())
                if not paused:
                    member.reason_paused = ""
        return found

    def _available(self, queue: Queue, member: Member) -> bool:
        """``is_member_available``: free (or in use with ``ringinuse``), unpaused, wrapped up."""
        if member.paused:
            return False
        if member.status in (4, 5):
            return False
        if member.status not in (0, 1) and not member.ringinuse:
            return False
        wrapup = member.wrapuptime
        return not (member.lastcall and wrapup and self.now - wrapup < member.lastcall)

    def _num_available(self, queue: Queue) -> int:
        count = sum(1 for m in queue.members if self._available(queue, m))
        if not queue.config.autofill or queue.config.strategy == "ringall":
            return min(count, 1)
        return count

    def _is_our_turn(self, queue: Queue, entry: Entry) -> bool:
        available = self._num_available(queue)
        index = 0
        for other in queue.entries:
            if other is entry or index >= available:
                break
            if not other.pending:
                index += 1
        return entry in queue.entries and index < available

    def _can_ring(self, queue: Queue, member: Member) -> bool:
        if member.paused or member.pending:
            return False
        if not member.ringinuse and member.status not in (0, 1):
            return False
        if any(
            m.pending
            for q in self.queues.values()
            for m in q.members
            if m.interface == member.interface
        ):
            return False
        wrapup = member.wrapuptime
        return not (wrapup and member.lastcall and self.now - member.lastcall < wrapup)

    def _choose(self, queue: Queue) -> list[Member]:
        ringable = [m for m in queue.members if self._can_ring(queue, m)]
        if not ringable:
            return []
        strategy = queue.config.strategy
        if strategy == "ringall":
            best = min(m.penalty for m in ringable)
            return [m for m in ringable if m.penalty == best]
        if strategy in ("rrmemory", "rrordered", "linear"):
            order = queue.members[queue.rrpos :] + queue.members[: queue.rrpos]
            if strategy == "linear":
                order = list(queue.members)
            return [next(m for m in order if m in ringable)]
        if strategy == "leastrecent":
            return [min(ringable, key=lambda m: (m.lastcall, queue.members.index(m)))]
        if strategy == "fewestcalls":
            return [min(ringable, key=lambda m: (m.calls, queue.members.index(m)))]
        return [self.random.choice(ringable)]

    # -- calls ----------------------------------------------------------------------

    def place_call(
        self, plan: CallPlan, *, action_id: str = "", originated: bool | None = None
    ) -> Call:
        """Start one inbound call now; ``Call.done`` fires with its outcome at the end."""
        call = Call(id=next(self._call_ids), plan=plan, action_id=action_id)
        call.originated = self.config.shape == "local" if originated is None else originated
        self.calls[call.id] = call
        if self.config.shape == "local":
            self._arrive_local(call)
        else:
            self._arrive_trunk(call)
        return call

    def _finish(self, call: Call) -> None:
        if call.done.fired:
            return
        if call.outcome:
            pass
        elif call.connected:
            call.outcome = "answered"
        elif call.exit_key:
            call.outcome = "key_exit"
        elif call.abandoned:
            call.outcome = "abandoned"
        elif not call.queued and not call.timed_out:
            call.outcome = "ivr_hangup"
        else:
            call.outcome = "unanswered"
        self.calls.pop(call.id, None)
        call.done.fire(call.outcome)

    def _arrive_local(self, call: Call) -> None:
        plan, cfg = call.plan, self.config
        cid = (plan.caller or None, plan.name or None)
        one, two = self.local_pair(f"s@{cfg.inbound_context}", linkedid=None, call=call)
        call.linkedid, call.caller, call.runner = one.linkedid, one, two
        patience = plan.script.ivr_patience
        hold = _seconds(plan.hold if patience is None else patience)
        variables = [("DIGITS", plan.script.digits), ("HOLD", hold)]
        self.update(one, appl="AppDial2", data="(Outgoing Line)")
        for name, value in reversed(variables):
            self.varset(one, name, value)
        self.update(one, caller=cid)
        self.update(one, connected=cid)
        for name, value in variables:
            self.varset(two, name, value)
        self.update(two, caller=cid, connected=cid)
        self.local_bridge(one, two)
        self.chan_event("DialBegin", None, one, DialString=f"s@{cfg.inbound_context}")
        self.spawn(self._inbound(call))

    def _arrive_trunk(self, call: Call) -> None:
        plan, cfg = call.plan, self.config
        chan = self.pjsip_channel(
            cfg.trunk,
            context=cfg.direct_context if plan.direct else cfg.inbound_context,
            exten=plan.did,
            state=4,
            linkedid=None,
            caller=(plan.caller or None, plan.name or None),
            call=call,
        )
        call.linkedid, call.caller, call.runner = chan.linkedid, chan, chan
        self.spawn(self._direct(call) if plan.direct else self._inbound(call))
        self.spawn(self._remote_caller(call))

    def _answer_inbound(self, call: Call) -> None:
        run = call.runner
        assert run is not None
        self.update(run, state=6)
        if run.peer is None:
            self.device(run.device, "INUSE")
            return
        one = run.peer
        self.update(one, state=6)
        self.chan_event("DialEnd", None, one, DialStatus="ANSWER")
        self.device(one.device, "INUSE")
        if call.originated:
            self.publish(
                "OriginateResponse",
                {
                    "ActionID": call.action_id,
                    "Response": "Success",
                    "Channel": one.name,
                    "Context": "caller",
                    "Exten": "s",
                    "Reason": "4",
                    "Uniqueid": one.uniqueid,
                    "CallerIDNum": call.plan.caller or "<unknown>",
                    "CallerIDName": call.plan.name or "<unknown>",
                },
            )
        self.spawn(self._local_caller(call))

    # -- the caller ------------------------------------------------------------------

    def _hold_timer(self, call: Call, chan: Channel) -> Generator[Step, Signal | None, bool]:
        """Press keys when the IVR listens, then wait; ``True`` when the caller gives up."""
        plan, script = call.plan, call.plan.script
        answered_at = self.now
        digits = list(script.digits)
        pressed = False
        run = call.runner
        assert run is not None
        while digits and not self.gone(run) and not chan.hangup_requested.fired:
            if run.dtmf_sink is None:
                listening = run.listening
                signal = yield Wait((listening, call.ivr_done, chan.hangup_requested))
                if signal is not listening:
                    break
            first_press_at = answered_at + 1.0
            if run.listen_since > first_press_at:
                press_at = run.listen_since + (script.press_delay if not pressed else DTMF_GAP)
            else:
                press_at = first_press_at
            if press_at > self.now:
                signal = yield Wait((chan.hangup_requested,), timeout=press_at - self.now)
                if signal is not None:
                    return False
            if run.dtmf_sink is None:
                continue
            if not pressed:
                self._caller_pressing(call, script.digits)
                pressed = True
            yield from self.send_dtmf(run, digits.pop(0))
            yield DTMF_GAP
        if not pressed and not script.digits and script.ivr_patience is not None:
            listening = run.listening
            signal = yield Wait((listening, call.ivr_done, chan.hangup_requested))
            if signal is chan.hangup_requested:
                return False
        elif not pressed:
            signal = yield Wait((call.ivr_done, chan.hangup_requested))
            if signal is chan.hangup_requested:
                return False
        self._caller_holding(call)
        if script.ivr_patience is not None and not call.ivr_done.fired:
            signal = yield Wait((call.ivr_done, chan.hangup_requested), timeout=script.ivr_patience)
            if signal is None:
                return True
        signal = yield Wait((call.ivr_done, chan.hangup_requested))
        if signal is chan.hangup_requested:
            return False
        signal = yield Wait(
            (call.connected_signal, chan.hangup_requested, call.key_exit), timeout=plan.hold
        )
        if signal is None:
            return True
        if signal is call.key_exit or signal is chan.hangup_requested or plan.caller_talk is None:
            yield Wait((chan.hangup_requested,))
            return False
        signal = yield Wait((chan.hangup_requested,), timeout=plan.caller_talk)
        return signal is None

    def _caller_pressing(self, call: Call, digits: str) -> None:
        caller = call.caller
        if caller is not None and caller.peer is not None:
            self.app(caller, 2, "SendDTMF", digits)

    def _caller_holding(self, call: Call) -> None:
        caller = call.caller
        if caller is not None and caller.peer is not None:
            patience = call.plan.script.ivr_patience
            shown = _seconds(call.plan.hold if patience is None else patience)
            self.app(caller, caller.priority + 1, "Wait", shown)

    def caller_hangs_up(self, call: Call) -> None:
        """The caller hangs up now, whatever the call is doing."""
        caller = call.caller
        if caller is None or not caller.alive or caller.hangup_requested.fired:
            return
        if caller.peer is not None:
            self.app(caller, caller.priority + 1, "Hangup")
            self.hangup_self(caller, 16)
        else:
            self.remote_hangup(caller, 16)

    def _local_caller(self, call: Call) -> Proc:
        """The ``[caller]`` context of the recordings: wait, send the keys, wait, hang up."""
        one = call.caller
        assert one is not None
        self.update(one, context="caller", exten="s", priority=1, appl="Wait", data="1")
        gives_up = yield from self._hold_timer(call, one)
        if gives_up and one.alive:
            self.app(one, one.priority + 1, "Hangup")
            self.hangup_self(one, 16)
        elif one.alive:
            self.hangup_self(one, one.cause)

    def _remote_caller(self, call: Call) -> Proc:
        """A caller on the trunk: presses keys when asked, hangs up when patience ends."""
        chan = call.runner
        assert chan is not None
        yield Wait((chan.answered, chan.hangup_requested))
        if not chan.alive:
            return
        gives_up = yield from self._hold_timer(call, chan)
        if gives_up and chan.alive:
            self.remote_hangup(chan, 16)

    # -- the inbound dialplan ------------------------------------------------------

    def gone(self, chan: Channel) -> bool:
        """Whether a channel has hung up or been asked to."""
        return not chan.alive or chan.hangup_requested.fired

    def _pick_up(self, call: Call, kind: str) -> Generator[Step, Signal | None, Channel]:
        """Priorities 1 and 2 of both inbound contexts: ``NoOp``, ``Answer``."""
        run = call.runner
        assert run is not None
        self.app(run, 1, "NoOp", f"{kind} call from {call.plan.caller}")
        self.app(run, 2, "Answer")
        self._answer_inbound(call)
        run.answered.fire()
        yield 0.0
        return run

    def _inbound(self, call: Call) -> Proc:
        cfg = self.config
        run = yield from self._pick_up(call, "Inbound")
        if self.gone(run):
            self.hangup_self(run)
            return
        self.app(run, 3, "Set", f"CTI_QUEUE={cfg.default_queue}")
        self.varset(run, "CTI_QUEUE", cfg.default_queue)
        self.app(run, 4, "AGI", cfg.agi_url)
        status = yield from self._agi(call)
        call.ivr_done.fire(status)
        self.varset(run, "AGISTATUS", status)
        if status == "HANGUP" or self.gone(run):
            self.hangup_self(run)
            return
        if cfg.style == "recordings":
            queue = run.variables.get("CTI_QUEUE", "")
            reason = run.variables.get("CTI_REASON", "")
            self.app(run, 5, "NoOp", f"AGI said queue={queue} reason={reason}")
            self.app(run, 6, "Queue", f"{queue},{cfg.queue_options},,,{cfg.queue_max_wait}")
            result = yield from self._queue(call, queue, cfg.queue_max_wait)
            if result == "key":
                yield from self._queue_exit(call)
                return
            if result in ("timeout", "unknown") and not self.gone(run):
                self.app(run, 7, "Hangup")
            if run.alive:
                self.hangup_self(run)
            return
        self.app(run, 5, "GotoIf", f"{int(status != 'SUCCESS')}?cti-route,s,queue")
        if status == "SUCCESS" and run.variables.get("CTI_IVR_RESULT") in IVR_DONE:
            self.app(run, 6, "GotoIf", "1?done")
            self.app(run, 8, "Hangup")
            self.hangup_self(run)
            return
        if status == "SUCCESS":
            self.app(run, 9, "Goto", f"{ROUTE_CONTEXT},s,1")
        yield from self._route(call, agent_first=status == "SUCCESS")

    def _direct(self, call: Call) -> Proc:
        """``[cti-direct]``: answer, ask the server (``CTI_WAIT``), wait for ``Redirect``."""
        cfg = self.config
        run = yield from self._pick_up(call, "Direct")
        if not self.gone(run):
            self.app(run, 3, "Set", "CTI_WAIT=routing")
            self.varset(run, "CTI_WAIT", "routing")
            self.app(run, 4, "MusicOnHold", f",{cfg.route_wait:g}")
            yield Wait((run.redirected, run.hangup_requested), timeout=cfg.route_wait)
        call.ivr_done.fire("SUCCESS")
        if self.gone(run):
            self.hangup_self(run)
            return
        if run.redirected.fired:
            yield from self._route(call, agent_first=run.redirected.value.endswith(",1"))
            return
        self.app(run, 5, "NoOp", "No routing decision in time: on to the default queue")
        self.app(run, 6, "Goto", f"{ROUTE_CONTEXT},s,queue")
        yield from self._route(call, agent_first=False)

    def _route(self, call: Call, *, agent_first: bool) -> Generator[Step, Signal | None, None]:
        """``[cti-route]``: the chosen agent, then the queue, its overflow, the default."""
        run, cfg = call.runner, self.config
        assert run is not None
        agent = run.variables.get("CTI_AGENT", "") if agent_first else ""
        queue = run.variables.get("CTI_QUEUE", "")
        if agent_first:
            self.update(run, context=ROUTE_CONTEXT, exten="s", priority=1, appl="GotoIf")
            self.app(run, 1, "GotoIf", f"{int(not agent)}?queue")
        else:
            self.update(run, context=ROUTE_CONTEXT, exten="s", priority=6, appl="GotoIf")
            self.app(run, 6, "GotoIf", f"{int(not queue)}?fallback")
        if agent:
            self.app(run, 4, "Dial", f"{agent},{cfg.dial_timeout}")
            result = yield from self._dial(call, agent, float(cfg.dial_timeout))
            if result != "continue":
                return
        spill = run.variables.get("CTI_OVERFLOW_QUEUE", "")
        after = run.variables.get("CTI_OVERFLOW_AFTER", "")
        if queue in self.queues:
            wait = int(after) if spill and after.isdigit() else cfg.queue_max_wait
            result = yield from self._route_queue(call, 8, queue, wait)  # (chosen)
            if result == "timeout" and spill in self.queues and not self.gone(run):
                self.app(run, 12, "Set", f"CTI_QUEUE={spill}")  # (overflow)
                self.varset(run, "CTI_QUEUE", spill)
                for priority, name in ((13, "CTI_OVERFLOW_QUEUE"), (14, "CTI_OVERFLOW_AFTER")):
                    self.app(run, priority, "Set", f"{name}=")
                    self.varset(run, name, "")
                call.timed_out = False
                result = yield from self._route_queue(call, 8, spill, cfg.queue_max_wait)
        else:
            queue = cfg.default_queue
            self.app(run, 17, "Set", f"CTI_QUEUE={queue}")  # after (fallback)
            self.varset(run, "CTI_QUEUE", queue)
            result = yield from self._route_queue(call, 18, queue, cfg.queue_max_wait)
        if result == "key":
            yield from self._queue_exit(call)
            return
        if result in ("timeout", "unknown") and not self.gone(run):
            self.app(run, 20, "Hangup")  # (done)
        if run.alive:
            self.hangup_self(run)

    def _route_queue(
        self, call: Call, priority: int, queue: str, wait: int
    ) -> Generator[Step, Signal | None, str]:
        """``Set(CTI_QUEUE_JOINED=${EPOCH})`` then ``Queue()``, at ``priority`` and the next."""
        run = call.runner
        assert run is not None
        joined = str(int(self.now))
        self.app(run, priority, "Set", f"CTI_QUEUE_JOINED={joined}")
        self.varset(run, "CTI_QUEUE_JOINED", joined)
        self.app(run, priority + 1, "Queue", f"{queue},{self.config.queue_options},,,{wait}")
        return (yield from self._queue(call, queue, wait))

    def _queue_exit(self, call: Call) -> Generator[Step, Signal | None, None]:
        """``[cti-queue-exit]`` of dialplans/outbound.conf, where a key left the queue: the
        call-back FastAGI script, then ``Hangup()``."""
        run = call.runner
        assert run is not None
        if self.gone(run):
            self.hangup_self(run)
            return
        queue = run.variables.get("CTI_QUEUE", "")
        self.app(run, 1, "NoOp", f"Call-back asked from queue {queue}")
        self.app(run, 2, "Set", "TIMEOUT(absolute)=60")
        url = self.agi_url("callback")
        self.app(run, 3, "AGI", url)
        status = yield from self._agi(call, url)
        self.varset(run, "AGISTATUS", status)
        if status != "HANGUP" and not self.gone(run):
            self.app(run, 4, "Hangup")
        if run.alive:
            self.hangup_self(run)

    def agi_url(self, script: str) -> str:
        """``agi://${CTI_AGI_HOST}:${CTI_AGI_PORT}/<script>`` as the dialplan expands it."""
        base = self.config.agi_url.rsplit("/", 1)[0]
        return f"{base}/{script}"

    def setvar(self, name: str, variable: str, value: str) -> str | None:
        """AMI ``Setvar`` on a live channel; Asterisk's error message, or None."""
        if not variable:
            return "No variable specified"
        chan = self.find_channel(name) if name else None
        if name and chan is None:
            return "No such channel"
        if chan is not None:
            self.varset(chan, variable, value)
        else:
            self.globals[variable] = value
        return None

    def redirect(self, name: str, context: str, exten: str, priority: str) -> str | None:
        """AMI ``Redirect`` of a channel waiting in the dialplan; Asterisk's error, or None."""
        for missing, what in ((name, "Channel"), (context, "Context"), (exten, "Exten")):
            if not missing:
                return f"{what} not specified"
        if not priority:
            return "Priority not specified"
        if priority.lstrip("-").isdigit() and int(priority) < 1:
            return "Priority is invalid"  # a name is a label, found in the dialplan
        chan = self.find_channel(name)
        if chan is None:
            return f"Channel does not exist: {name}"
        if self.gone(chan):
            return "Redirect failed, channel not up."
        chan.redirected.fire(f"{context},{exten},{priority}")
        return None

    # -- FastAGI --------------------------------------------------------------------

    def _agi(self, call: Call, url: str = "") -> Generator[Step, Signal | None, str]:
        """``AGI()`` of the IVR (or of ``url``, another FastAGI script on the same server)."""
        run = call.runner
        assert run is not None
        session = AgiSession(self, call, run, url=url)
        call.agi = session
        if url and self.config.ivr is None:
            session.fail()
        elif self.config.ivr is None:
            session.attach(session.probe_output)
            session.header()
            self.spawn(session.probe(call.plan.probe))
        elif self.agi_connector is not None:
            self.agi_connector(session)
        else:
            session.fail()
        yield Wait((session.done,))
        if not url:
            call.ivr_variables = dict(session.variables)
        return session.status

    # -- Dial (the callfold dialplan's direct ring of CTI_AGENT) ------------------------

    def _dial(self, call: Call, target: str, timeout: float) -> Generator[Step, Signal | None, str]:
        run = call.runner
        assert run is not None
        start = self.now
        for name in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS"):
            self.varset(run, name, "")
        resource = target.partition("/")[2]
        call.queued = True
        leg = self._outgoing_leg(call, target, None, appl="AppDial")
        if leg is None:
            self.varset(run, "DIALSTATUS", "CHANUNAVAIL")
            return "continue"
        one, far = leg
        self.chan_event("DialBegin", run, one, DialString=resource)
        answer_after, talk = self._ring_behaviour(call, None, target)
        self.spawn(self._agent_phone(call, one, far, answer_after, talk))
        deadline = self.now + timeout
        signal = yield Wait((one.ringing, one.answered, run.hangup_requested), timeout=timeout)
        if signal is one.ringing:
            self.chan_event("DialState", run, one, DialStatus="RINGING")
            if far is None:
                self.device(one.device, "RINGING")
            signal = yield Wait(
                (one.answered, run.hangup_requested), timeout=max(0.0, deadline - self.now)
            )
        if signal is one.answered:
            self.chan_event("DialEnd", run, one, DialStatus="ANSWER")
            call.connected = True
            call.agent = target
            call.connected_signal.fire()
            answered_at = self.now
            side = yield from self._talk(run, one, None, None)
            talked = self.now - answered_at
            if side == "caller":
                self._dial_times(run, start, talked)
                self._end_bridge_for_caller(run, one, None)
                return "done"
            self._dial_times(run, start, talked)
            self.varset(run, "DIALSTATUS", "ANSWER")
            if run.alive:
                self.hangup_self(run)
            return "done"
        status = "CANCEL" if signal is run.hangup_requested else "NOANSWER"
        self.chan_event("DialEnd", run, one, DialStatus=status)
        self.hangup_owned(one, 0 if status == "CANCEL" else 19)
        self._dial_times(run, start, 0.0)
        self.varset(run, "DIALSTATUS", status)
        if signal is run.hangup_requested:
            self.hangup_self(run)
            return "done"
        return "continue"

    def _dial_times(self, run: Channel, start: float, talked: float) -> None:
        dialed = int((self.now - start) * 1000)
        answered = int(talked * 1000)
        self.varset(run, "ANSWEREDTIME", str(answered // 1000))
        self.varset(run, "ANSWEREDTIME_MS", str(answered))
        self.varset(run, "DIALEDTIME", str(dialed // 1000))
        self.varset(run, "DIALEDTIME_MS", str(dialed))

    # -- agent legs ------------------------------------------------------------------

    def _ring_behaviour(
        self, call: Call, member: Member | None, interface: str
    ) -> tuple[float | None, float]:
        plan = call.plan
        answer_after: float | None
        if member is not None and member.behaviour is not None:
            answer_after, talk = member.behaviour(self.random)
        elif member is not None:
            answer_after, talk = member.answer_after, member.talk
        else:
            known = [m for q in self.queues.values() for m in q.members if m.interface == interface]
            answer_after, talk = (known[0].answer_after, known[0].talk) if known else (1.0, 3.0)
        if call.rings_used < len(plan.rings):
            answer_after = plan.rings[call.rings_used]
        call.rings_used += 1
        if not plan.answered:
            answer_after = None
        if plan.talk is not None:
            talk = plan.talk
        return answer_after, talk

    def _outgoing_leg(
        self, call: Call, interface: str, member: Member | None, *, appl: str
    ) -> tuple[Channel, Channel | None] | None:
        """Create the channel(s) that ring an agent; ``(ringing leg, Local far half)``."""
        run = call.runner
        assert run is not None
        cid = (run.caller_num, run.caller_name)
        tech, _, resource = interface.partition("/")
        if tech == "Local":
            one, two = self.local_pair(resource, linkedid=run.linkedid, call=call)
            self.update(one, appl=appl, data="(Outgoing Line)", caller=cid)
            self.varset(one, "DIALEDPEERNUMBER", resource)
            self.varset(two, "DIALEDPEERNUMBER", resource)
            self.update(two, caller=cid, connected=cid)
            self.local_bridge(one, two)
            return one, two
        if tech == "PJSIP":
            leg = self.pjsip_channel(
                resource,
                context=self.config.agent_context,
                exten="s",
                state=0,
                linkedid=run.linkedid,
                call=call,
            )
            self.update(leg, appl=appl, data="(Outgoing Line)", caller=cid)
            self.varset(leg, "DIALEDPEERNUMBER", resource)
            self.update(leg, connected=cid)
            return leg, None
        return None

    def _agent_phone(
        self,
        call: Call,
        one: Channel,
        far: Channel | None,
        answer_after: float | None,
        talk: float,
    ) -> Proc:
        """The agent's side of a ring: rings, maybe answers, talks, hangs up."""
        if far is not None:
            yield from self._local_agent(one, far, answer_after, talk)
            return
        yield Wait((one.hangup_requested,), timeout=0.1)
        if self.gone(one):
            return
        self.update(one, state=5)
        one.ringing.fire()
        if answer_after is None:
            yield Wait((one.hangup_requested,))
            return
        signal = yield Wait((one.hangup_requested,), timeout=answer_after)
        if signal is not None:
            return
        self.update(one, state=6)
        self.device(one.device, "INUSE")
        one.answered.fire()
        signal = yield Wait((one.hangup_requested,), timeout=talk)
        if signal is None:
            self.remote_hangup(one, 16)

    def _local_agent(
        self, one: Channel, far: Channel, answer_after: float | None, talk: float
    ) -> Proc:
        """The recordings' ``[agents]`` context on the ``;2`` half of an agent's Local pair."""
        cid = (one.caller_num, one.caller_name)
        self.app(far, 1, "Ringing")
        self.update(one, state=5, exten="s", connected=cid)
        wait = answer_after if answer_after is not None else 30.0
        self.app(far, 2, "Wait", _seconds(wait))
        one.ringing.fire()
        signal = yield Wait((far.hangup_requested,), timeout=wait)
        if signal is None and answer_after is None:
            self.app(far, 3, "Hangup")
        if signal is not None or answer_after is None:
            self.hangup_self(far)
            return
        self.app(far, 3, "Answer")
        self.update(far, state=6)
        self.update(one, state=6)
        one.answered.fire()
        yield 0.0
        if not self.gone(far):
            self.app(far, 4, "Wait", _seconds(talk))
            signal = yield Wait((far.hangup_requested,), timeout=talk)
            if signal is None:
                self.app(far, 5, "Hangup")
        self.hangup_self(far)

    def _talk(
        self,
        run: Channel,
        one: Channel,
        queue: Queue | None,
        member: Member | None,
        **agent: str,
    ) -> Generator[Step, Signal | None, str]:
        """Bridge the caller with the agent until one side hangs up; return which side."""
        bridge = Bridge(str(uuid.UUID(int=self.random.getrandbits(128), version=4)))
        self.publish("BridgeCreate", bridge.values())
        for chan in (one, run):
            bridge.channels.append(chan)
            chan.bridge = bridge
            self.chan_event("BridgeEnter", chan, **bridge.values())
        self.varset(one, "BRIDGEPEER", run.name)
        self.varset(run, "BRIDGEPEER", one.name)
        connected_at = self.now
        signal = yield Wait((one.hangup_requested, run.hangup_requested))
        talk = str(int(self.now) - int(connected_at))
        if signal is one.hangup_requested:
            if queue is not None and member is not None:
                self.chan_event("AgentComplete", run, one, TalkTime=talk, Reason="agent", **agent)
                self._complete(queue, member, connected_at)
                self._agent_idle(member, one)
            self.varset(one, "BRIDGEPEER", "")
            self.varset(run, "BRIDGEPEER", "")
            self._leave_bridge(bridge, one)
            self._hangup(one, one.cause)
            self._leave_bridge(bridge, run)
            self.publish("BridgeDestroy", bridge.values())
            return "agent"
        self.varset(run, "BRIDGEPEER", "")
        self.varset(one, "BRIDGEPEER", "")
        if queue is not None and member is not None:
            self.chan_event("AgentComplete", run, one, TalkTime=talk, Reason="caller", **agent)
            self._complete(queue, member, connected_at)
        self._leave_bridge(bridge, run)
        return "caller"

    def _end_bridge_for_caller(self, run: Channel, one: Channel, member: Member | None) -> None:
        """After the caller left the bridge: the agent's leg is hung up, the bridge goes."""
        far = one.peer
        self.soft_hangup_request(run, 16)
        bridge = one.bridge
        if bridge is not None:
            self._leave_bridge(bridge, one)
            self.publish("BridgeDestroy", bridge.values())
        if far is not None and far.alive:
            self.hangup_request(far, 16)
        self._hangup(run, run.cause)
        self._hangup(one, 16)
        if member is not None and far is None:
            self._agent_idle(member, one)

    def _agent_idle(self, member: Member, leg: Channel) -> None:
        """The agent's device goes idle once no other channel of it is left."""
        busy = [
            c
            for c in self.channels.values()
            if c.alive and c.device == member.state_interface and c is not leg and c is not leg.peer
        ]
        if not busy:
            self.device(member.state_interface, "NOT_INUSE")

    def _leave_bridge(self, bridge: Bridge, chan: Channel) -> None:
        if chan in bridge.channels:
            bridge.channels.remove(chan)
            chan.bridge = None
            self.chan_event("BridgeLeave", chan, **bridge.values())

    def _complete(self, queue: Queue, member: Member, connected_at: float) -> None:
        """``update_queue``: counters and the exponential talk-time average.

        As in ``app_queue``, a completion counts only for the member's latest connected
        call: a member on two calls at once (``ringinuse``) has one start time, and the
        call that was overwritten is not counted (the ``burst30`` recording shows it).
        """
        if member.starttime != connected_at:
            return
        talk = int(self.now) - int(connected_at)
        member.calls += 1
        member.lastcall = int(self.now)
        member.starttime = 0.0
        queue.completed += 1
        if member.completed_in_sl:  # app_queue counts it when the call completes
            queue.completed_in_sl += 1
        if queue.completed == 1:
            queue.talktime = talk
        else:
            queue.talktime = (queue.talktime * 3 + talk) >> 2

    # -- Queue() ---------------------------------------------------------------------

    def _queue(self, call: Call, name: str, max_wait: int) -> Generator[Step, Signal | None, str]:
        run = call.runner
        assert run is not None
        queue = self.queues.get(name)
        if queue is None:
            self.varset(run, "QUEUESTATUS", "UNKNOWN")
            return "unknown"
        app_start = self.now
        for var in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            self.varset(run, var, "")
        if queue.config.maxlen and len(queue.entries) >= queue.config.maxlen:
            self.varset(run, "QUEUESTATUS", "FULL")
            return "unknown"
        entry = Entry(call, run, self.now, len(queue.entries) + 1)
        queue.entries.append(entry)
        call.queued = True
        call.queue = queue.name
        if len(queue.entries) == 1:
            self.device(f"Queue:{queue.name}", "RINGING")
        count = str(len(queue.entries))
        self.chan_event("QueueCallerJoin", run, Queue=queue.name, Position=count, Count=count)
        run.queue_dtmf = lambda digit: self._queue_digit(queue, entry, digit)
        if call.plan.queue_keys and not call.keys_pressing:
            call.keys_pressing = True
            self.spawn(self._press_queue_keys(call, run))
        expire = self.now + max_wait if max_wait > 0 else None
        while True:
            while not self._is_our_turn(queue, entry):
                if expire is not None and self.now >= expire:
                    return self._queue_timeout(call, queue, entry, app_start)
                signal = yield Wait((run.hangup_requested, entry.key), timeout=RECHECK)
                if signal is entry.key:
                    return self._key_exit(call, queue, entry, app_start)
                if signal is not None:
                    return self._abandon(call, queue, entry, app_start)
            while True:
                if expire is not None and self.now >= expire:
                    return self._queue_timeout(call, queue, entry, app_start)
                result = yield from self._try_calling(call, queue, entry, expire, app_start)
                if result in ("answered", "abandoned", "key"):
                    return result
                if expire is not None and self.now >= expire:
                    return self._queue_timeout(call, queue, entry, app_start)
                signal = yield Wait((run.hangup_requested, entry.key), timeout=queue.config.retry)
                if signal is entry.key:
                    return self._key_exit(call, queue, entry, app_start)
                if signal is not None:
                    return self._abandon(call, queue, entry, app_start)
                if not self._is_our_turn(queue, entry):
                    break

    def _queue_digit(self, queue: Queue, entry: Entry, digit: str) -> None:
        """``valid_exit``: keys add up toward an extension of the queue's ``context``; one
        that can match nothing starts again; an exact match takes the caller out."""
        if entry.key.fired:
            return
        entry.digits += digit
        extensions = CONTEXT_EXTENSIONS.get(queue.config.context, ())
        if not queue.config.context:
            return
        if not any(exten.startswith(entry.digits) for exten in extensions):
            entry.digits = ""
            return
        if entry.digits in extensions:
            entry.key.fire(entry.digits)

    def _press_queue_keys(self, call: Call, chan: Channel) -> Proc:
        """The caller's ``queue_keys``, timed from the first ``QueueCallerJoin``; a key falls
        due only while the caller waits in a queue (else it is not pressed)."""
        start = self.now
        for after, digit in sorted(call.plan.queue_keys):
            delay = start + after - self.now
            if delay > 0:
                signal = yield Wait((chan.hangup_requested, call.key_exit), timeout=delay)
                if signal is not None:
                    return
            if self.gone(chan) or call.key_exit.fired:
                return
            if chan.queue_dtmf is not None:
                yield from self.send_dtmf(chan, digit)

    def _key_exit(self, call: Call, queue: Queue, entry: Entry, app_start: float) -> str:
        """The caller pressed an extension of the queue's context: ``Queue()`` moves the
        channel there (priority 0 until the dialplan steps on), then leaves the queue.

        ``QUEUESTATUS`` is not set: ``queue_exec`` sets it only for a known reason."""
        run = entry.chan
        self._queue_times(run, entry, app_start, 0.0)
        self.update(run, context=queue.config.context, exten=entry.digits, priority=0)
        self._leave(queue, entry)
        call.exit_key = entry.digits
        call.key_exit.fire(entry.digits)
        return "key"

    def _leave(self, queue: Queue, entry: Entry) -> int:
        position = queue.position(entry)
        entry.chan.queue_dtmf = None
        if entry in queue.entries:
            queue.entries.remove(entry)
        if not queue.entries:
            self.device(f"Queue:{queue.name}", "NOT_INUSE")
        self.chan_event(
            "QueueCallerLeave",
            entry.chan,
            Queue=queue.name,
            Position=str(position),
            Count=str(len(queue.entries)),
        )
        self.varset(entry.chan, "QUEUEPOSITION", str(position))
        return position

    def _queue_times(self, run: Channel, entry: Entry, app_start: float, talked: float) -> None:
        waited = int(self.now) - int(entry.start)
        dialed = int((self.now - app_start) * 1000)
        self.varset(run, "QUEUEWAIT", str(waited))
        self.varset(run, "QUEUEWAIT_MS", str(waited * 1000))
        self.varset(run, "DIALEDTIME", str(dialed // 1000))
        self.varset(run, "DIALEDTIME_MS", str(dialed))
        self.varset(run, "ANSWEREDTIME", str(int(talked)))
        self.varset(run, "ANSWEREDTIME_MS", str(int(talked * 1000)))

    def _abandon(self, call: Call, queue: Queue, entry: Entry, app_start: float) -> str:
        run = entry.chan
        hold = int(self.now) - int(entry.start)
        self._queue_times(run, entry, app_start, 0.0)
        self.varset(run, "ABANDONED", "TRUE")
        self.chan_event(
            "QueueCallerAbandon",
            run,
            Queue=queue.name,
            Position=str(queue.position(entry)),
            OriginalPosition=str(entry.original_position),
            HoldTime=str(hold),
        )
        queue.abandoned += 1
        if hold <= queue.config.servicelevel:
            queue.abandoned_in_sl += 1
        call.abandoned = True
        self._leave(queue, entry)
        return "abandoned"

    def _queue_timeout(self, call: Call, queue: Queue, entry: Entry, app_start: float) -> str:
        run = entry.chan
        self._leave(queue, entry)
        self._queue_times(run, entry, app_start, 0.0)
        self.varset(run, "QUEUESTATUS", "TIMEOUT")
        call.timed_out = True
        return "timeout"

    def _try_calling(
        self, call: Call, queue: Queue, entry: Entry, expire: float | None, app_start: float
    ) -> Generator[Step, Signal | None, str]:
        """One attempt of ``try_calling``: ring the chosen member(s) until answer or timeout."""
        run = entry.chan
        ring_for = queue.config.timeout
        if expire is not None:
            ring_for = min(ring_for, max(0.0, expire - self.now))
        rings = [ring for m in self._choose(queue) if (ring := self._ring(call, queue, m))]
        if not rings:
            return "nobody"
        if queue.config.strategy in ("rrmemory", "rrordered"):
            last = queue.members.index(rings[-1].member)
            queue.rrpos = (last + 1) % len(queue.members)
        entry.pending = True
        deadline = self.now + ring_for
        waiting = {ring.one.ringing: ring for ring in rings}
        answers = {ring.one.answered: ring for ring in rings}
        while True:
            signal = yield Wait(
                (*answers, run.hangup_requested, entry.key, *waiting),
                timeout=max(0.0, deadline - self.now),
            )
            ring = waiting.pop(signal, None) if signal is not None else None
            if ring is None:
                break
            self.chan_event("DialState", run, ring.one, DialStatus="RINGING")
            local = ring.far is not None
            self.device(ring.member.state_interface, "INUSE" if local else "RINGING")
        for ring in rings:
            ring.member.pending = False
        entry.pending = False
        if signal is run.hangup_requested or signal is entry.key:
            for ring in rings:
                self.chan_event("DialEnd", run, ring.one, DialStatus="CANCEL")
                self.chan_event("DialEnd", run, ring.one, DialStatus="CANCEL")
                self.hangup_owned(ring.one, 0)
            if signal is entry.key:
                return self._key_exit(call, queue, entry, app_start)
            return self._abandon(call, queue, entry, app_start)
        winner = answers.get(signal) if signal is not None else None
        if winner is None:
            for ring in rings:
                ring_ms = str(int((self.now - ring.started) * 1000))
                self.chan_event("AgentRingNoAnswer", run, ring.one, RingTime=ring_ms, **ring.fields)
                self.chan_event("DialEnd", run, ring.one, DialStatus="NOANSWER")
                self.chan_event("DialEnd", run, ring.one, DialStatus="CANCEL")
                self.hangup_owned(ring.one, 0)
            return "noanswer"
        for ring in rings:
            if ring is not winner:
                self.chan_event("DialEnd", run, ring.one, DialStatus="CANCEL")
                self.hangup_owned(ring.one, 26)
        return (yield from self._connect(call, queue, entry, winner, app_start))

    def _ring(self, call: Call, queue: Queue, member: Member) -> _Ring | None:
        """Create the leg that rings one member: ``AgentCalled``, ``DialBegin``, the phone."""
        run = call.runner
        assert run is not None
        leg = self._outgoing_leg(call, member.interface, member, appl="AppQueue")
        if leg is None:
            return None
        member.pending = True
        one, far = leg
        fields = {"Queue": queue.name, "Interface": member.interface, "MemberName": member.name}
        dest = one.snapshot(
            Exten="s",
            ConnectedLineNum=run.caller_num or "<unknown>",
            ConnectedLineName=run.caller_name or "<unknown>",
        )
        self.chan_event("AgentCalled", run, one, dest, **fields)
        self.chan_event("DialBegin", run, one, DialString=member.interface)
        answer_after, talk = self._ring_behaviour(call, member, member.interface)
        self.spawn(self._agent_phone(call, one, far, answer_after, talk))
        return _Ring(member, one, far, self.now, fields)

    def _connect(
        self, call: Call, queue: Queue, entry: Entry, ring: _Ring, app_start: float
    ) -> Generator[Step, Signal | None, str]:
        """The member answered: leave the queue, ``AgentConnect``, talk, ``AgentComplete``."""
        run, member = entry.chan, ring.member
        self.chan_event("DialEnd", run, ring.one, DialStatus="ANSWER")
        hold = int(self.now) - int(entry.start)
        self._leave(queue, entry)
        self.varset(run, "QUEUEWAIT", str(hold))
        self.varset(run, "QUEUEWAIT_MS", str(hold * 1000))
        if (queue.completed + queue.abandoned) == 0:
            queue.holdtime = hold
        else:
            queue.holdtime = (queue.holdtime * 3 + hold) >> 2
        member.completed_in_sl = hold <= queue.config.servicelevel
        ring_time = str(int(self.now) - int(ring.started))
        self.chan_event(
            "AgentConnect", run, ring.one, HoldTime=str(hold), RingTime=ring_time, **ring.fields
        )
        member.starttime = self.now
        call.agent = member.interface
        call.connected = True
        call.connected_signal.fire()
        if ring.far is None:
            self.device(member.state_interface, "INUSE")
        connected_at = self.now
        side = yield from self._talk(
            run, ring.one, queue, member, HoldTime=str(hold), **ring.fields
        )
        self._queue_times_end(run, app_start, self.now - connected_at)
        if side == "caller":
            self._end_bridge_for_caller(run, ring.one, member)
        return "answered"

    def _queue_times_end(self, run: Channel, app_start: float, talked: float) -> None:
        dialed = int((self.now - app_start) * 1000)
        self.varset(run, "ANSWEREDTIME", str(int(talked)))
        self.varset(run, "ANSWEREDTIME_MS", str(int(talked * 1000)))
        self.varset(run, "DIALEDTIME", str(dialed // 1000))
        self.varset(run, "DIALEDTIME_MS", str(dialed))

    # -- state for the list actions ------------------------------------------------

    def core_show_channels(self) -> list[dict[str, str]]:
        """``CoreShowChannel`` rows for every live channel."""
        rows = []
        for chan in self.channels.values():
            seconds = max(0, int(self.now - chan.created))
            hours, minutes = seconds // 3600, seconds // 60 % 60
            rows.append(
                {
                    **chan.snapshot(),
                    "Application": chan.appl,
                    "ApplicationData": chan.data,
                    "Duration": f"{hours:02d}:{minutes:02d}:{seconds % 60:02d}",
                    "BridgeId": chan.bridge.uniqueid if chan.bridge is not None else "",
                }
            )
        return rows

    def queue_status(
        self, queue_filter: str = "", member_filter: str = ""
    ) -> list[tuple[str, dict[str, str]]]:
        """The ``QueueParams``, ``QueueMember`` and ``QueueEntry`` items ``QueueStatus`` lists."""
        items: list[tuple[str, dict[str, str]]] = []
        for queue in self.queues.values():
            if queue_filter and queue.name.lower() != queue_filter.lower():
                continue
            done = queue.completed
            both = queue.completed + queue.abandoned
            perf = 100 * queue.completed_in_sl / done if done else 0.0
            perf2 = 100 * (queue.abandoned_in_sl + queue.completed_in_sl) / both if both else 0.0
            items.append(
                (
                    "QueueParams",
                    {
                        "Queue": queue.name,
                        "Max": str(queue.config.maxlen),
                        "Strategy": queue.config.strategy,
                        "Calls": str(len(queue.entries)),
                        "Holdtime": str(queue.holdtime),
                        "TalkTime": str(queue.talktime),
                        "Completed": str(queue.completed),
                        "Abandoned": str(queue.abandoned),
                        "ServiceLevel": str(queue.config.servicelevel),
                        "ServicelevelPerf": f"{perf:.1f}",
                        "ServicelevelPerf2": f"{perf2:.1f}",
                        "Weight": str(queue.config.weight),
                    },
                )
            )
            for member in queue.members:
                if member_filter and member_filter not in (member.interface, member.name):
                    continue
                items.append(("QueueMember", member.values()))
            for position, entry in enumerate(queue.entries, start=1):
                chan = entry.chan
                items.append(
                    (
                        "QueueEntry",
                        {
                            "Queue": queue.name,
                            "Position": str(position),
                            "Channel": chan.name,
                            "Uniqueid": chan.uniqueid,
                            "CallerIDNum": chan.caller_num or "unknown",
                            "CallerIDName": chan.caller_name or "unknown",
                            "ConnectedLineNum": chan.connected_num or "unknown",
                            "ConnectedLineName": chan.connected_name or "unknown",
                            "Wait": str(int(self.now) - int(entry.start)),
                            "Priority": "0",
                        },
                    )
                )
        return items

    def queue_summary(self, queue_filter: str = "") -> list[dict[str, str]]:
        """``QueueSummary`` items."""
        rows = []
        for queue in self.queues.values():
            if queue_filter and queue.name.lower() != queue_filter.lower():
                continue
            logged_in = [m for m in queue.members if m.status not in (4, 5)]
            available = [m for m in logged_in if m.status in (0, 1) and not m.paused]
            longest = max((int(self.now) - int(e.start) for e in queue.entries), default=0)
            rows.append(
                {
                    "Queue": queue.name,
                    "LoggedIn": str(len(logged_in)),
                    "Available": str(len(available)),
                    "Callers": str(len(queue.entries)),
                    "HoldTime": str(queue.holdtime),
                    "TalkTime": str(queue.talktime),
                    "LongestHoldTime": str(longest),
                }
            )
        return rows


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
