"""Queue and agent figures for the wallboard, folded from AMI events as app_queue keeps them.

Asterisk's own counters (``QueueParams`` / ``QueueSummary``) are the reference, so each
figure is kept the way ``apps/app_queue.c`` keeps it:

- **Hold time** (``Holdtime``): on every answer (``AgentConnect``), the caller's wait;
  the first one sets it while no call has been completed or abandoned, then each moves
  the integer average a quarter of the way (``recalc_holdtime``).
- **Completed** and **talk time** (``update_queue``): a call counts once, when the member
  who took it is done (``AgentComplete``, or the member's device going free first). A
  member (per queue) has one current call: an earlier one it was still on (``ringinuse``)
  is never counted. The talk time average moves like the hold time.
- **Service level** (``ServiceLevel`` seconds, from queues.conf): an answer within it
  counts when the call completes; an abandon within it counts at once. ``SL`` is
  completed-in-SL over completed, ``SL2`` (answered or abandoned within) over both.
- **Waiting** callers and the longest wait: ``QueueCallerJoin`` / ``Leave`` /
  ``Abandon`` (``QueueSummary``'s ``Callers`` and ``LongestHoldTime``).
- **Logged in** and **available** members (``QueueSummary``): status not unavailable or
  invalid; of those, not paused and free (``NOT_INUSE`` or ``UNKNOWN``).

A ``QueueStatus`` read-back (after a reconnect) replaces everything; its in-SL counts
are recovered from the one-decimal percentages, exact below 1,000 calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ABANDONED_KEPT = 100
"""Abandoned callers remembered per queue, newest first, for call-back."""

FREE = {"0", "1"}  # unknown, not in use
ABSENT = {"4", "5"}  # invalid, unavailable
RINGING = {"6", "7"}
BUSY = {"2", "3", "8"}


class AgentState(StrEnum):
    """What a queue member is doing, as the wallboard shows it."""

    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    LOGGED_OUT = "logged_out"


@dataclass(slots=True)
class Waiter:
    """A caller waiting in a queue."""

    uniqueid: str
    joined: float
    caller_num: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class Abandoned:
    """A caller who gave up waiting: who, when and after how long."""

    queue: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str
    wait: int
    position: int
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "uniqueid": self.uniqueid,
            "linkedid": self.linkedid,
            "caller_num": self.caller_num,
            "caller_name": self.caller_name,
            "wait": self.wait,
            "position": self.position,
            "at": self.at,
        }


@dataclass(slots=True)
class _Connected:
    """A member's current call in one queue (app_queue's ``member->starttime``)."""

    uniqueid: str
    """Empty when a read-back said the member is on a call without saying which."""
    at: float
    in_sl: bool | None


@dataclass(slots=True)
class QueueFigures:
    """One queue's counters, as app_queue keeps them."""

    name: str
    servicelevel: int
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    waiting: dict[str, Waiter] = field(default_factory=dict)
    abandoned_calls: deque[Abandoned] = field(default_factory=lambda: deque(maxlen=ABANDONED_KEPT))

    @property
    def sl(self) -> float:
        """``ServicelevelPerf``: percent of completed calls answered within the level."""
        return 100 * self.completed_in_sl / self.completed if self.completed else 0.0

    @property
    def sl2(self) -> float:
        """``ServicelevelPerf2``: percent of completed and abandoned calls that were
        answered or abandoned within the level."""
        both = self.completed + self.abandoned
        return 100 * (self.completed_in_sl + self.abandoned_in_sl) / both if both else 0.0

    def longest_wait(self, now: float) -> int:
        return max((int(now) - int(w.joined) for w in self.waiting.values()), default=0)

    def oldest_since(self) -> float | None:
        return min((w.joined for w in self.waiting.values()), default=None)

    def _answered(self, hold: int) -> None:
        if self.completed + self.abandoned == 0:
            self.holdtime = hold
        else:
            self.holdtime = (3 * self.holdtime + hold) >> 2

    def _completed(self, talk: int, in_sl: bool) -> None:
        self.completed += 1
        if in_sl:
            self.completed_in_sl += 1
        if self.completed == 1:
            self.talktime = talk
        else:
            self.talktime = (3 * self.talktime + talk) >> 2


@dataclass(slots=True)
class _Membership:
    """One interface's membership of one queue."""

    status: str = "0"
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    wrapuptime: int = 0
    connected: _Connected | None = None


@dataclass(slots=True)
class AgentFigures:
    """One queue member (an interface, across its queues)."""

    interface: str
    name: str = ""
    memberships: dict[str, _Membership] = field(default_factory=dict)
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    wrap_until: float = 0.0
    missed: int = 0
    pause_reason: str = ""

    @property
    def handled(self) -> int:
        return sum(m.calls_taken for m in self.memberships.values())

    def current_state(self, now: float) -> AgentState:
        present = [m for m in self.memberships.values() if m.status not in ABSENT]
        if not present:
            return AgentState.LOGGED_OUT
        if any(m.paused for m in present):
            return AgentState.PAUSED
        statuses = {m.status for m in present}
        if statuses & RINGING:
            return AgentState.RINGING
        if statuses & BUSY:
            return AgentState.ON_CALL
        if now < self.wrap_until:
            return AgentState.WRAP_UP
        return AgentState.AVAILABLE


class Wallboard:
    """AMI events in, every queue's and agent's figures out; pure.

    ``changed`` collects the queues and interfaces touched since the last ``take_changes``
    so a publisher sends only those.
    """

    def __init__(self, default_servicelevel: int = 20) -> None:
        self.default_servicelevel = default_servicelevel
        self.queues: dict[str, QueueFigures] = {}
        self.agents: dict[str, AgentFigures] = {}
        self.changed_queues: set[str] = set()
        self.changed_agents: set[str] = set()

    def queue(self, name: str) -> QueueFigures:
        found = self.queues.get(name)
        if found is None:
            found = self.queues[name] = QueueFigures(name, self.default_servicelevel)
        return found

    def take_changes(self) -> tuple[set[str], set[str]]:
        """The queues and agents changed since the last call, forgotten as they are taken."""
        changes = (self.changed_queues, self.changed_agents)
        self.changed_queues, self.changed_agents = set(), set()
        return changes

    # -- events ----------------------------------------------------------------------

    def on_event(self, msg: Mapping[str, str], now: float) -> None:
        """Apply one AMI event; others are ignored."""
        handler = _HANDLERS.get(msg.get("Event", ""))
        if handler is not None:
            handler(self, msg, now)

    def _join(self, msg: Mapping[str, str], now: float) -> None:
        queue = self.queue(msg.get("Queue", ""))
        uid = msg.get("Uniqueid", "")
        queue.waiting[uid] = Waiter(
            uid, now, msg.get("CallerIDNum", ""), _known(msg.get("CallerIDName"))
        )
        self.changed_queues.add(queue.name)

    def _leave(self, msg: Mapping[str, str], now: float) -> None:
        queue = self.queue(msg.get("Queue", ""))
        queue.waiting.pop(msg.get("Uniqueid", ""), None)
        self.changed_queues.add(queue.name)

    def _abandon(self, msg: Mapping[str, str], now: float) -> None:
        queue = self.queue(msg.get("Queue", ""))
        uid = msg.get("Uniqueid", "")
        waiter = queue.waiting.pop(uid, None)
        hold = _int(msg.get("HoldTime"))
        queue.abandoned += 1
        if hold <= queue.servicelevel:
            queue.abandoned_in_sl += 1
        queue.abandoned_calls.appendleft(
            Abandoned(
                queue=queue.name,
                uniqueid=uid,
                linkedid=msg.get("Linkedid", uid),
                caller_num=msg.get("CallerIDNum", "") or (waiter.caller_num if waiter else ""),
                caller_name=_known(msg.get("CallerIDName")),
                wait=hold,
                position=_int(msg.get("Position")),
                at=now,
            )
        )
        self.changed_queues.add(queue.name)

    def _connect(self, msg: Mapping[str, str], now: float) -> None:
        queue = self.queue(msg.get("Queue", ""))
        hold = _int(msg.get("HoldTime"))
        queue.waiting.pop(msg.get("Uniqueid", ""), None)
        queue._answered(hold)
        agent = self._agent(msg)
        if agent is not None:
            membership = agent.memberships.setdefault(queue.name, _Membership())
            membership.connected = _Connected(
                msg.get("Uniqueid", ""), now, hold <= queue.servicelevel
            )
            self._restate(agent, now)
        self.changed_queues.add(queue.name)

    def _complete(self, msg: Mapping[str, str], now: float) -> None:
        queue = self.queue(msg.get("Queue", ""))
        agent = self._agent(msg)
        if agent is None:
            return
        membership = agent.memberships.get(queue.name)
        current = membership.connected if membership is not None else None
        if (
            membership is not None
            and current is not None
            and current.uniqueid in ("", msg.get("Uniqueid", ""))
        ):
            membership.connected = None
            in_sl = current.in_sl
            if in_sl is None:
                in_sl = _int(msg.get("HoldTime")) <= queue.servicelevel
            queue._completed(_int(msg.get("TalkTime")), in_sl)
            self.changed_queues.add(queue.name)
        wrap = _int(msg.get("Wrapuptime")) or (membership.wrapuptime if membership else 0)
        agent.wrap_until = now + wrap if wrap else 0.0
        self._restate(agent, now)

    def _ring_no_answer(self, msg: Mapping[str, str], now: float) -> None:
        agent = self._agent(msg)
        if agent is not None:
            agent.missed += 1
            self.changed_agents.add(agent.interface)

    def _member(self, msg: Mapping[str, str], now: float) -> None:
        agent = self._agent(msg)
        if agent is None:
            return
        queue_name = msg.get("Queue", "")
        if msg.get("Event") == "QueueMemberRemoved":
            agent.memberships.pop(queue_name, None)
        else:
            membership = agent.memberships.setdefault(queue_name, _Membership())
            _read(membership, msg)
            if membership.status in FREE and membership.connected is not None:
                # The device went free before AgentComplete: app_queue counts the call now.
                connected, membership.connected = membership.connected, None
                talk = int(now) - int(connected.at)
                self.queue(queue_name)._completed(talk, bool(connected.in_sl))
        self.changed_queues.add(queue_name)
        self._restate(agent, now)

    def _agent(self, msg: Mapping[str, str]) -> AgentFigures | None:
        interface = msg.get("Interface") or msg.get("Location") or ""
        if not interface:
            return None
        key = interface.lower()
        agent = self.agents.get(key)
        if agent is None:
            agent = self.agents[key] = AgentFigures(interface)
        name = msg.get("MemberName") or msg.get("Name")
        if name:
            agent.name = name
        return agent

    def _restate(self, agent: AgentFigures, now: float, since: float | None = None) -> None:
        state = agent.current_state(now)
        reasons = {m.reason for m in agent.memberships.values() if m.paused and m.reason}
        agent.pause_reason = min(reasons) if reasons else ""
        if state is not agent.state:
            agent.state = state
            agent.since = now if since is None else since
        self.changed_agents.add(agent.interface.lower())

    def tick(self, now: float) -> None:
        """Move agents whose wrap-up ended to available."""
        for agent in self.agents.values():
            if agent.state is AgentState.WRAP_UP and now >= agent.wrap_until:
                self._restate(agent, now, since=agent.wrap_until)

    # -- read-back -------------------------------------------------------------------

    def on_snapshot(
        self,
        params: Iterable[Mapping[str, str]],
        members: Iterable[Mapping[str, str]],
        entries: Iterable[Mapping[str, str]],
        now: float,
    ) -> None:
        """Replace everything with a ``QueueStatus`` read-back."""
        kept = {name: q.abandoned_calls for name, q in self.queues.items()}
        self.queues = {}
        for row in params:
            queue = self.queue(row.get("Queue", ""))
            queue.servicelevel = _int(row.get("ServiceLevel"))
            queue.holdtime = _int(row.get("Holdtime"))
            queue.talktime = _int(row.get("TalkTime"))
            queue.completed = _int(row.get("Completed"))
            queue.abandoned = _int(row.get("Abandoned"))
            perf = _float(row.get("ServicelevelPerf"))
            queue.completed_in_sl = round(perf * queue.completed / 100)
            both = queue.completed + queue.abandoned
            in_sl = round(_float(row.get("ServicelevelPerf2")) * both / 100)
            queue.abandoned_in_sl = max(0, in_sl - queue.completed_in_sl)
            queue.abandoned_calls = kept.get(queue.name, queue.abandoned_calls)
        for row in entries:
            queue = self.queue(row.get("Queue", ""))
            uid = row.get("Uniqueid", "")
            queue.waiting[uid] = Waiter(
                uid,
                now - _int(row.get("Wait")),
                row.get("CallerIDNum", ""),
                _known(row.get("CallerIDName")),
            )
        previous = self.agents
        self.agents = {}
        rows: dict[str, list[Mapping[str, str]]] = {}
        for row in members:
            agent = self._agent(row)
            if agent is None:
                continue
            rows.setdefault(agent.interface.lower(), []).append(row)
            old = previous.get(agent.interface.lower())
            if old is not None:
                agent.missed, agent.state, agent.since = old.missed, old.state, old.since
                agent.wrap_until = old.wrap_until
            queue_name = row.get("Queue", "")
            membership = agent.memberships.setdefault(queue_name, _Membership())
            _read(membership, row)
            if row.get("InCall") == "1":
                known = old.memberships.get(queue_name) if old is not None else None
                membership.connected = (known.connected if known else None) or _Connected(
                    "", now, None
                )
        for key, agent in self.agents.items():
            state = agent.current_state(now)
            if state is not agent.state or not agent.since:
                agent.state = state
                agent.since = _since_from_read_back(rows.get(key, []), state, now)
            self._restate(agent, now, since=agent.since)
        self.changed_queues |= set(self.queues)
        self.changed_agents |= set(self.agents)

    # -- what Asterisk would say -------------------------------------------------------

    def queue_params(self, name: str) -> dict[str, str]:
        """This queue's figures as Asterisk's ``QueueParams`` spells them."""
        queue = self.queue(name)
        return {
            "Queue": name,
            "Calls": str(len(queue.waiting)),
            "Holdtime": str(queue.holdtime),
            "TalkTime": str(queue.talktime),
            "Completed": str(queue.completed),
            "Abandoned": str(queue.abandoned),
            "ServiceLevel": str(queue.servicelevel),
            "ServicelevelPerf": f"{queue.sl:.1f}",
            "ServicelevelPerf2": f"{queue.sl2:.1f}",
        }

    def queue_summary(self, name: str, now: float) -> dict[str, str]:
        """This queue's figures as Asterisk's ``QueueSummary`` spells them."""
        queue = self.queue(name)
        logged_in = available = 0
        for agent in self.agents.values():
            membership = agent.memberships.get(name)
            if membership is None or membership.status in ABSENT:
                continue
            logged_in += 1
            if membership.status in FREE and not membership.paused:
                available += 1
        return {
            "Queue": name,
            "LoggedIn": str(logged_in),
            "Available": str(available),
            "Callers": str(len(queue.waiting)),
            "HoldTime": str(queue.holdtime),
            "TalkTime": str(queue.talktime),
            "LongestHoldTime": str(queue.longest_wait(now)),
        }


def _since_from_read_back(rows: list[Mapping[str, str]], state: AgentState, now: float) -> float:
    """When the agent entered ``state``, as far as a read-back tells (else now)."""
    field_names: tuple[str, ...]
    if state is AgentState.PAUSED:
        field_names = ("LastPause",)
    elif state is AgentState.AVAILABLE:
        field_names = ("LastCall", "LoginTime")
    else:
        return now
    seen = [_int(row.get(f)) for row in rows for f in field_names]
    latest = max(seen, default=0)
    return float(latest) if 0 < latest <= now else now


def _read(membership: _Membership, msg: Mapping[str, str]) -> None:
    membership.status = msg.get("Status", membership.status)
    membership.paused = msg.get("Paused") == "1"
    membership.reason = msg.get("PausedReason", "") if membership.paused else ""
    if "CallsTaken" in msg:
        membership.calls_taken = _int(msg.get("CallsTaken"))
    if "Wrapuptime" in msg:
        membership.wrapuptime = _int(msg.get("Wrapuptime"))


def _known(value: str | None) -> str:
    return "" if value in (None, "", "<unknown>", "unknown") else str(value)


def _int(value: str | None) -> int:
    try:
        return int(float(value or 0))
    except ValueError:
        return 0


def _float(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


_HANDLERS = {
    "QueueCallerJoin": Wallboard._join,
    "QueueCallerLeave": Wallboard._leave,
    "QueueCallerAbandon": Wallboard._abandon,
    "AgentConnect": Wallboard._connect,
    "AgentComplete": Wallboard._complete,
    "AgentRingNoAnswer": Wallboard._ring_no_answer,
    "QueueMemberAdded": Wallboard._member,
    "QueueMemberRemoved": Wallboard._member,
    "QueueMemberPause": Wallboard._member,
    "QueueMemberStatus": Wallboard._member,
}


def queue_view(queue: QueueFigures, summary: Mapping[str, str], now: float) -> dict[str, Any]:
    """One queue on the wallboard (JSON)."""
    return {
        "name": queue.name,
        "waiting": len(queue.waiting),
        "longest_wait": queue.longest_wait(now),
        "oldest_since": queue.oldest_since(),
        "answered": queue.completed,
        "abandoned": queue.abandoned,
        "service_level_seconds": queue.servicelevel,
        "sl": round(queue.sl, 1),
        "sl2": round(queue.sl2, 1),
        "asa": queue.holdtime,
        "aht": queue.talktime,
        "logged_in": int(summary["LoggedIn"]),
        "available": int(summary["Available"]),
        "abandoned_calls": [a.to_dict() for a in list(queue.abandoned_calls)[:50]],
    }


def agent_view(agent: AgentFigures, username: str | None) -> dict[str, Any]:
    """One agent on the wallboard (JSON)."""
    return {
        "interface": agent.interface,
        "name": agent.name,
        "username": username,
        "queues": sorted(agent.memberships),
        "state": agent.state.value,
        "since": agent.since,
        "pause_reason": agent.pause_reason or None,
        "handled": agent.handled,
        "missed": agent.missed,
    }
