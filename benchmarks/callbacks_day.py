"""A contact center's day on the PBX simulator: is a call-back ever served out of its place?

**The day.** ``cti.pbxsim.engine.Pbx`` plays Asterisk 22 in simulated time, a 10-hour day
from 08:00 (quick: 2 hours): 20 queues set up as ``asterisk-conf/queues.conf`` sets them
(``rrmemory``, 15 s rings, 10 s wrap-up, no ring-in-use, ``context = cti-queue-exit``)
and 60 agents on PJSIP phones, each in one to three queues, who answer after 2 to 6 s
(one ring in fifty not at all) and talk 5 minutes on median (lognormal). Callers arrive
as a Poisson stream whose rate (``FULL_DAY``, ``QUICK_DAY``) climbs to about twice what
the agents can take, dips at lunch and falls off in the evening; each calls a queue
picked in proportion to its staff. The callfold dialplan answers them, its FastAGI IVR
(run in process through the engine's AGI hook) sets ``CTI_QUEUE``, and they queue. Six
in ten press 1 after 15 to 90 s if nobody has answered by then; the others hang up after
30 s to 5 minutes. Pressing 1 takes a caller out of the queue to ``cti-queue-exit``,
whose FastAGI ``callback`` script (in process, doing what ``ivr/callback.py`` does) owes
them a call-back at their place in line: when the server saw them join the queue
(``AgentBoard.joined``).

**The server's part** is played as ``cti/callbacks/service.py`` plays it, without a
database. The AMI events the board and the attempt watch read are written as Asterisk's
bytes and read back (``AmiFramer``, ``parse_message``) into the real ``AgentBoard`` and
``AttemptWatch``; the simulator does not render the others, which the server would only
read and drop (rendering them was most of the run time). Every 0.5 s, and 20 ms after
any agent's state changes, the real ``Scheduler`` ticks on the board's free agents and
oldest callers; each decision pauses the agent in their queues (``QueuePause``, reason
``Call-back``) at once and, once the agent has rested ``agent_rest_seconds`` after their
last call, sends the ``Originate`` of ``outbound_call(...).action()``, its fields read as the
simulator's AMI server reads them. The customer's phone answers (75 %), is busy (10 %),
rings out (12 %) or cannot be reached (3 %), drawn afresh for each attempt. As the
shipped rules say, a customer-side failure is owed again at the same place 5, 15, then
60 minutes later, with three attempts a day to a number (a fourth is put off to the next
day); an agent-side failure is owed again 10 s later; the agent is unpaused when the
attempt ends. Left out: the offer rules (every caller who presses 1 is owed a call-back)
and opening hours (the day is within them).

**The check**, at every decision of the day, against a ledger kept apart from the
scheduler and the board (the call-backs owed, and each queue's callers from
``QueueCallerJoin`` / ``Leave`` / ``Abandon`` / ``AgentConnect``): the call-back chosen
is out of place if (a) one of the same queue with an earlier place was owed, due and not
chosen in the same tick, or (b) a caller who joined that queue before its place was
still waiting in it. The decision loop (``free_by_queue``, ``oldest_joined``, ``tick``) is
timed on every tick with call-backs owed.

**Baseline**: a call-back list kept in the order the call-backs were asked for. At each
tick, for each queue the scheduler served, as many of its call-backs taken in request
order instead, checked the same way (on the same day as it went, not a second day).

**Also counted**, with no target: callers Asterisk put through to an agent while a
call-back with an earlier place was owed and due in their queue: call-backs losing their
place the other way round, to ``app_queue``, which looks for a free agent for each
waiting caller about once a second. As the server does, the scheduler wakes on every
agent change (``OutboundService.on_agent``; here ``REACTION`` after the event), pauses
the agent it chose at once and rings them after their rest, and keeps an agent whose
call-back ended for the next call-back first in line instead of unpausing them. With a
0.5 s tick alone, 306 of 481 callers put through in the 2-hour day had overtaken a
call-back.
"""

from __future__ import annotations

import collections
import functools
import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmarks.common import Row, p99_ms
from cti.ami.protocol import AmiFramer, parse_message
from cti.callbacks.dialer import EVENTS, AttemptWatch, Outcome, Result
from cti.callbacks.rules import parse_callback_rules
from cti.callbacks.scheduler import Decision, Owed, Scheduler
from cti.callbacks.service import AGENT_RETRY, PAUSE_REASON, outbound_call, shipped_rules
from cti.pbxsim.agisession import AgiSession
from cti.pbxsim.engine import (
    ORIGINATE_TIMEOUT,
    QUEUE_EXIT_CONTEXT,
    Callee,
    CallerScript,
    CallPlan,
    MemberConfig,
    Originate,
    Pbx,
    PbxConfig,
    QueueConfig,
)
from cti.pbxsim.render import render_event
from cti.routing.board import CALLER_EVENTS, MEMBER_EVENTS, AgentBoard, AgentProfile
from cti.settings import OutboundSettings

QUEUES = [f"q{n:02d}" for n in range(20)]
AGENTS = 60
OPEN = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()
SEED = 11
FULL_DAY = ((0.0, 200.0), (1.5, 1350.0), (3.0, 1350.0), (4.0, 500.0), (5.0, 1100.0),
            (7.0, 1100.0), (8.5, 400.0), (10.0, 150.0))  # fmt: skip
QUICK_DAY = ((0.0, 400.0), (0.4, 1600.0), (1.3, 1600.0), (1.6, 500.0), (2.0, 300.0))
"""Callers an hour at each hour of the day (linear in between)."""
TALK = 300.0
"""Median seconds of a conversation (lognormal, sigma 0.5)."""
PRESS_ONE = 0.6
"""Share of callers who press 1 for a call-back if they are still waiting by then."""
WANTED = MEMBER_EVENTS | CALLER_EVENTS | EVENTS
"""The AMI events the board, the attempt watch and the ledger read."""
LEFT = {"QueueCallerLeave", "QueueCallerAbandon", "AgentConnect"}
REACTION = 0.02
"""Seconds from an agent's state change on the wire to the server's decision reaching
Asterisk (reading the event, the tick, the ``QueuePause``), as the server wakes its
scheduler on every change (``OutboundService.on_agent``)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """One inbound caller of the day."""

    at: float
    queue: str
    number: str
    key_after: float | None
    """Seconds in the queue after which they press 1 (``None``: never)."""
    patience: float | None
    """Seconds before they hang up (``None``: they press 1 instead)."""


@dataclass(slots=True)
class Promise:
    """A call-back owed, as the ledger keeps it (apart from the scheduler)."""

    id: int
    queue: str
    place: float
    """When the caller joined the queue."""
    asked: float
    """When they pressed 1."""
    number: str
    due: float = 0.0
    failures: int = 0
    """Attempts that reached the customer's side and failed (the daily limit counts them)."""


@dataclass
class DayResult:
    """What one simulated day came to."""

    callers: int = 0
    owed: int = 0
    decisions: int = 0
    """The scheduler's decisions (each checked)."""
    served: int = 0
    """Decisions dialled (the others put off to the next day by the daily limit)."""
    completed: int = 0
    retried: int = 0
    agent_retries: int = 0
    given_up: int = 0
    tomorrow: int = 0
    left_owed: int = 0
    peak_owed: int = 0
    violations: int = 0
    naive_violations: int = 0
    answered: int = 0
    overtaken: int = 0
    tick_seconds: list[float] = field(default_factory=list)


def rate_at(profile: tuple[tuple[float, float], ...], hour: float) -> float:
    """Callers an hour at ``hour`` into the day."""
    for (h0, r0), (h1, r1) in itertools.pairwise(profile):
        if h0 <= hour <= h1:
            return r0 + (r1 - r0) * (hour - h0) / (h1 - h0)
    return profile[-1][1]


def agent_behaviour(rng: random.Random) -> tuple[float | None, float]:
    """One ring of an agent: seconds to answer (``None``: not answered), talk seconds."""
    answer = None if rng.random() < 0.02 else rng.uniform(2.0, 6.0)
    return answer, rng.lognormvariate(math.log(TALK), 0.5)


def customer_phone(rng: random.Random) -> Callee:
    """How a customer's phone treats one call-back attempt."""
    draw = rng.random()
    if draw < 0.10:
        return Callee(busy=True)
    if draw < 0.22:
        return Callee(answer_after=None)
    if draw < 0.25:
        return Callee(unavailable=True)
    return Callee(answer_after=rng.uniform(3.0, 15.0), talk=rng.lognormvariate(math.log(TALK), 0.5))


def staffing(rnd: random.Random) -> dict[str, list[str]]:
    """Each agent's queues: one of their own (three agents a queue), up to two more."""
    member_of = {}
    for n in range(AGENTS):
        own = QUEUES[n % len(QUEUES)]
        others = rnd.sample([queue for queue in QUEUES if queue != own], rnd.randint(0, 2))
        member_of[f"PJSIP/{2000 + n}"] = [own, *others]
    return member_of


def day_callers(
    rnd: random.Random, profile: tuple[tuple[float, float], ...], weights: Mapping[str, int]
) -> list[Caller]:
    """The day's callers: a Poisson stream at the profile's rate (thinned), each to a
    queue in proportion to its staff."""
    peak = max(rate for _, rate in profile)
    span = profile[-1][0] * 3600
    queues, shares = list(weights), list(weights.values())
    callers: list[Caller] = []
    at = 0.0
    while (at := at + rnd.expovariate(peak / 3600)) < span:
        if rnd.random() * peak > rate_at(profile, at / 3600):
            continue
        presses = rnd.random() < PRESS_ONE
        callers.append(
            Caller(
                at=OPEN + at,
                queue=rnd.choices(queues, shares)[0],
                number=f"+7916{len(callers):07d}",
                key_after=rnd.uniform(15.0, 90.0) if presses else None,
                patience=None if presses else rnd.uniform(30.0, 300.0),
            )
        )
    return callers


class ReadPbx(Pbx):
    """The simulated PBX, writing out only the events the server's reader looks at (about
    one in seven; the server reads the others and drops them)."""

    def publish(self, name: str, values: dict[str, str]) -> None:
        if name in WANTED:
            super().publish(name, values)


def originate_request(action: Mapping[str, str]) -> Originate:
    """An ``Originate`` action's fields as ``action_originate`` reads them."""
    display, _, rest = action.get("CallerID", "").partition("<")
    number = rest.rstrip(">").strip() if rest else display.strip()
    name = display.strip().strip('"') if rest else ""
    items = [item.partition("=") for item in action.get("Variable", "").split(",")]
    timeout = action.get("Timeout", "")
    return Originate(
        channel=action["Channel"],
        context=action["Context"],
        exten=action["Exten"],
        priority=int(action.get("Priority", "1")),
        caller=(number or None, name or None),
        timeout=int(timeout) / 1000 if timeout else ORIGINATE_TIMEOUT,
        channel_id=action.get("ChannelId", ""),
        variables=[(key, value) for key, sep, value in reversed(items) if sep and key],
        action_id=action.get("ActionID", ""),
        respond=action.get("Async", "").lower() == "true",
    )


def agi_value(reply: str) -> str:
    """The value in a ``GET VARIABLE`` reply (``200 result=1 (value)``)."""
    return reply.partition("(")[2].rpartition(")")[0]


class Day:
    """One simulated day: the PBX, the server's call-back part, and the ledger."""

    def __init__(self, profile: tuple[tuple[float, float], ...]) -> None:
        rnd = random.Random(SEED)
        self.rules = parse_callback_rules(shipped_rules())
        self.outbound = OutboundSettings()
        self.end = OPEN + profile[-1][0] * 3600
        member_of = staffing(rnd)
        queues = {
            name: QueueConfig(
                name,
                strategy="rrmemory",
                timeout=15.0,
                retry=2.0,
                ringinuse=False,
                wrapuptime=10,
                servicelevel=20,
                context=QUEUE_EXIT_CONTEXT,
            )
            for name in QUEUES
        }
        for n, (interface, names) in enumerate(member_of.items()):
            for name in names:
                queues[name].members.append(MemberConfig(interface, f"agent{n}"))
        self.callers = day_callers(rnd, profile, {q: len(c.members) for q, c in queues.items()})
        self.queue_of = {caller.number: caller.queue for caller in self.callers}
        config = PbxConfig(
            shape="trunk",
            style="callfold",
            default_queue=QUEUES[0],
            inbound_context="cti-inbound",
            agent_context="agents-phones",
            queue_options="t",
            queue_max_wait=600,
            queues=list(queues.values()),
            ivr=("127.0.0.1", 4573),  # answered in process (``_agi``), never over TCP
        )
        self.pbx = ReadPbx(config, self._read, seed=SEED, start=OPEN)
        self.pbx.agi_connector = self._agi
        for queue in self.pbx.queues.values():
            for member in queue.members:
                member.behaviour = agent_behaviour
        self.framer = AmiFramer(expect_banner=False)
        self.board = AgentBoard(lambda _agent: None)
        self.board.set_profiles(
            AgentProfile(f"agent{n}", interface, {}) for n, interface in enumerate(member_of)
        )
        listed = b"".join(
            render_event(kind, values)
            for kind, values in self.pbx.queue_status()
            if kind == "QueueMember"
        )
        members = AmiFramer(expect_banner=False).feed(listed)
        self.board.on_snapshot([parse_message(frame) for frame in members], now=OPEN)
        self.scheduler = Scheduler()
        self.watch = AttemptWatch(self._outcome, clock=lambda: self.pbx.now)
        self.owed: dict[str, dict[int, Promise]] = {}
        """The ledger's call-backs owed (not being dialled), per queue."""
        self.waiting: dict[str, dict[str, float]] = {}
        """The ledger's callers in each queue and when they joined."""
        self.left: dict[str, float] = {}
        """When callers who left a queue had joined it (``AgentConnect`` comes after)."""
        self.attempts: dict[int, tuple[Promise, str]] = {}
        self.settled: set[int] = set()
        self.ids = itertools.count(1)
        self.attempt_ids = itertools.count(1)
        self.result = DayResult(callers=len(self.callers))
        self.reacting = False

    # -- the PBX side -----------------------------------------------------------------

    def _read(self, data: bytes) -> None:
        """The AMI reader: bytes in, events to the board, the watch and the ledger."""
        for frame in self.framer.feed(data):
            msg = parse_message(frame)
            now = self.pbx.now
            self.board.on_event(msg, now)
            self.watch.on_event(msg, now)
            kind = msg["Event"]
            if kind in MEMBER_EVENTS and not self.reacting:  # the scheduler wakes up
                self.reacting = True
                self.pbx.call_later(REACTION, self._react)
            if kind == "QueueCallerJoin":
                self.waiting.setdefault(msg["Queue"], {})[msg["Uniqueid"]] = now
            elif kind in LEFT:
                uniqueid = msg["Uniqueid"]
                joined = self.waiting.get(msg["Queue"], {}).pop(uniqueid, None)
                if kind == "QueueCallerLeave" and joined is not None:
                    self.left[uniqueid] = joined
                elif kind == "AgentConnect" and uniqueid in self.left:
                    self._answered(msg["Queue"], self.left.pop(uniqueid), now)

    def _react(self) -> None:
        self.reacting = False
        self.tick(self.pbx.now)

    def _answered(self, queue: str, joined: float, now: float) -> None:
        """Asterisk gave a caller an agent: was a call-back of an earlier place owed?"""
        self.result.answered += 1
        self.result.overtaken += any(
            promise.place < joined and promise.due <= now
            for promise in self.owed.get(queue, {}).values()
        )

    def _agi(self, session: AgiSession) -> None:
        """The FastAGI server, in process: the IVR and the ``callback`` script."""
        replies: list[str] = []
        session.attach(replies.append)
        env = dict(line.split(": ", 1) for line in session.header().splitlines() if line)

        def ask(command: str) -> str:
            session.receive(command)
            return replies[-1]

        if env.get("agi_network_script") == "callback":
            self._callback_script(env, ask)
        else:
            ask(f"SET VARIABLE CTI_QUEUE {self.queue_of[env['agi_callerid']]}")
        session.close()

    def _callback_script(self, env: Mapping[str, str], ask: Callable[[str], str]) -> None:
        """``ivr/callback.py``: the caller's place is when the board saw them join."""
        uniqueid = env["agi_uniqueid"]
        queue = agi_value(ask("GET VARIABLE CTI_QUEUE"))
        joined = float(agi_value(ask("GET VARIABLE CTI_QUEUE_JOINED")) or self.pbx.now)
        seen = self.board.joined(uniqueid)
        if seen is not None:
            queue, joined = seen
        promise = Promise(next(self.ids), queue, joined, self.pbx.now, env["agi_callerid"])
        self.result.owed += 1
        self._owe(promise)
        ask("SET VARIABLE CTI_CALLBACK owed")
        ask(f"SET VARIABLE CTI_CALLBACK_ID {promise.id}")

    def _action(self, name: str, fields: Mapping[str, str]) -> None:
        """An AMI action, as the simulator's AMI server carries it out."""
        if name == "QueuePause":
            self.pbx.queue_pause(
                fields["Interface"],
                fields["Paused"] == "true",
                queue_name=fields.get("Queue", ""),
                reason=fields.get("Reason", ""),
            )
        elif name == "Originate":
            self.pbx.originate(originate_request(fields))

    # -- the server's call-back part -----------------------------------------------------

    def _owe(self, promise: Promise) -> None:
        """Owed (again): in the ledger and in the scheduler, at the caller's place."""
        self.owed.setdefault(promise.queue, {})[promise.id] = promise
        self.scheduler.add(Owed(promise.id, promise.queue, promise.place, promise.due))

    def tick(self, now: float) -> None:
        """One round of the scheduler, as ``OutboundService.tick`` runs it."""
        self.watch.sweep()
        if not len(self.scheduler):
            return
        self.result.peak_owed = max(self.result.peak_owed, len(self.scheduler))
        started = time.perf_counter()
        decisions = self.scheduler.tick(
            now, self.board.free_by_queue(now), self.board.oldest_joined()
        )
        self.result.tick_seconds.append(time.perf_counter() - started)
        chosen = {decision.owed.id for decision in decisions}
        for decision in decisions:
            self.result.violations += self._out_of_place(decision.owed, chosen, now)
        self.result.naive_violations += self._naive(decisions, now)
        for decision in decisions:
            self._serve(decision, now)

    def _out_of_place(self, owed: Owed, chosen: set[int], now: float) -> bool:
        """Whether anyone owed or waiting in its queue was ahead of the call-back chosen."""
        queue = owed.queue
        place = self.owed[queue][owed.id].place
        earlier = any(
            other.place < place and other.due <= now and other.id not in chosen
            for other in self.owed[queue].values()
        )
        waiting = self.waiting.get(queue)
        return earlier or bool(waiting and min(waiting.values()) < place)

    def _naive(self, decisions: list[Decision], now: float) -> int:
        """How many of the same number of call-backs per queue, taken in the order they
        were asked for, would have been out of place."""
        wanted = collections.Counter(decision.owed.queue for decision in decisions)
        picks = [
            Owed(promise.id, queue, promise.place)
            for queue, count in wanted.items()
            for promise in heapq.nsmallest(
                count,
                (p for p in self.owed[queue].values() if p.due <= now),
                key=lambda p: p.asked,
            )
        ]
        chosen = {owed.id for owed in picks}
        return sum(self._out_of_place(owed, chosen, now) for owed in picks)

    def _serve(self, decision: Decision, now: float, rest: float | None = None) -> bool:
        """``OutboundService._serve``: pause the agent, originate the agent first once they
        have rested after their last call; False if put off to the next day."""
        promise = self.owed[decision.owed.queue].pop(decision.owed.id)
        self.result.decisions += 1
        rules = self.rules
        if promise.failures >= rules.daily_attempts_per_number:
            promise.due = rules.day_start(now) + 86400 + 3600
            self.result.tomorrow += 1
            self._owe(promise)
            return False
        self.result.served += 1
        attempt_id = next(self.attempt_ids)
        self.attempts[attempt_id] = (promise, decision.agent)
        phone = random.Random(f"{SEED}:{promise.number}:{promise.failures}")
        self.pbx.callees[promise.number] = customer_phone(phone)
        self._action(
            "QueuePause", {"Interface": decision.agent, "Paused": "true", "Reason": PAUSE_REASON}
        )
        call = outbound_call(
            self.outbound,
            rules,
            attempt_id=attempt_id,
            agent=decision.agent,
            number=promise.number,
            name=promise.number,
            kind="callback",
            contact_id=None,
        )
        self.watch.expect(attempt_id)
        if rest is None:
            rest = self.board.last_call(decision.agent) + rules.agent_rest_seconds - now
        self.pbx.call_later(
            max(0.0, rest), functools.partial(self._action, "Originate", call.action())
        )
        return True

    def _next_for(self, agent: str, now: float) -> bool:
        """``OutboundService._next_for``: the agent's next call-back, if one is first in
        line in their queues, without unpausing them."""
        free = {queue: [agent] for queue in self.board.queues_of(agent)}
        decisions = self.scheduler.tick(now, free, self.board.oldest_joined())
        chosen = {decision.owed.id for decision in decisions}
        for decision in decisions:
            self.result.violations += self._out_of_place(decision.owed, chosen, now)
        served = False
        for decision in decisions:
            served = self._serve(decision, now, rest=self.rules.agent_rest_seconds) or served
        return served

    def _outcome(self, outcome: Outcome) -> None:
        """Heard while reading AMI: settled just after, as the service's task does."""
        self.pbx.call_later(0.0, lambda: self._settle(outcome))

    def _settle(self, outcome: Outcome) -> None:
        """``OutboundService.settle``: owe again, retry later, give up; unpause at the end."""
        promise, agent = self.attempts[outcome.attempt_id]
        now = self.pbx.now
        if outcome.attempt_id not in self.settled:
            self.settled.add(outcome.attempt_id)
            if outcome.result is Result.ANSWERED:
                self.result.completed += 1
            elif outcome.result.agent_side:
                promise.due = now + AGENT_RETRY
                self.result.agent_retries += 1
                self._owe(promise)
            else:
                promise.failures += 1
                wait = self.rules.retry_after(promise.failures)
                if wait is None:
                    self.result.given_up += 1
                else:
                    promise.due = now + wait
                    self.result.retried += 1
                    self._owe(promise)
        if outcome.ended:
            del self.attempts[outcome.attempt_id]
            if not self._next_for(agent, now):
                self._action("QueuePause", {"Interface": agent, "Paused": "false"})

    # -- the day --------------------------------------------------------------------------

    def run(self) -> DayResult:
        """Place every caller at their time and tick every 0.5 s until closing."""
        for caller in self.callers:
            plan = CallPlan(
                caller=caller.number,
                name="",
                script=CallerScript(digits=""),
                hold=caller.patience,
                queue_keys=((caller.key_after, "1"),) if caller.key_after is not None else (),
            )
            self.pbx.call_at(caller.at, functools.partial(self._place, plan))
        step = self.outbound.tick_seconds
        for n in range(1, int((self.end - OPEN) / step) + 1):
            now = OPEN + n * step
            self.pbx.run_until(now)
            self.tick(now)
        self.result.left_owed = sum(len(line) for line in self.owed.values())
        return self.result

    def _place(self, plan: CallPlan) -> None:
        self.pbx.place_call(plan)


def run(quick: bool) -> list[Row]:
    profile = QUICK_DAY if quick else FULL_DAY
    span = f"{profile[-1][0]:g}-hour day"
    day = Day(profile).run()
    tick_p99 = p99_ms(day.tick_seconds)
    return [
        Row(
            name=f"Call-backs served out of their place in line over a simulated {span} "
            f"({day.served:,} served, peak {day.peak_owed} owed across {len(QUEUES)} queues; "
            f"{day.callers:,} callers, {day.owed:,} call-backs asked for, "
            f"{day.completed:,} completed, {day.retried:,} retried after the customer's side "
            f"failed and {day.agent_retries} after the agent's, {day.given_up} given up, "
            f"{day.tomorrow} put off to the next day, {day.left_owed} still owed at closing)",
            unit="call-backs",
            target="0",
            measured=day.violations,
            baseline=day.naive_violations,
            baseline_name="each queue's call-backs taken in the order they were asked for, "
            "at the same ticks",
            passed=day.violations == 0,
        ),
        Row(
            name=f"Call-back scheduler tick p99 over the simulated {span} "
            f"({len(day.tick_seconds):,} ticks with call-backs owed, up to {day.peak_owed} "
            f"owed, {AGENTS} agents)",
            unit="ms",
            target="< 5 ms",
            measured=tick_p99,
            baseline=None,
            passed=tick_p99 < 5.0,
        ),
        Row(
            name=f"Queue callers Asterisk put through ahead of an owed call-back with an "
            f"earlier place, over the simulated {span} (of {day.answered:,} put through; "
            "app_queue found the agent before the scheduler)",
            unit="callers",
            target="—",
            measured=day.overtaken,
            baseline=None,
            passed=None,
        ),
    ]
