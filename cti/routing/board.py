"""The agents' live state, kept in step with Asterisk's queue members.

Asterisk knows whether each queue member is logged in (a member of some queue), paused
and why, ringing, on a call or free; it says so in ``QueueMemberAdded`` / ``Removed`` /
``Pause`` / ``Status`` events and in the ``QueueMember`` entries of a ``QueueStatus``
read-back. The board folds those into one ``Agent`` per person (an agent is in several
queues at once) and hands every change to routing. Wrap-up (``Wrapuptime`` after a call)
counts as busy. An agent in wrap-up is ``available`` with a ``wrap_until`` routing respects.

It also keeps each queue's outlook for a caller about to join: how many wait and since
when (``QueueCallerJoin`` / ``Leave`` / ``Abandon``, ``QueueEntry``), and the queue's
average hold time, kept as app_queue's ``recalc_holdtime`` keeps it: until a call in
the queue has been completed or abandoned, the last answered caller's ``HoldTime``;
after that each one moves the integer average a quarter of the way. Events can reach
AMI later than app_queue counted the call they tell of, so the figure may stray a
little between read-backs; each ``QueueParams`` resets it to Asterisk's own. That
average is what Asterisk announces to a waiting caller as the expected wait
(``announce-holdtime``), so routing quotes the same figure.

Pure code: events in, agents out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cti.routing.engine import Agent, AgentState

log = logging.getLogger(__name__)

MEMBER_EVENTS = frozenset(
    {
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "QueueMemberStatus",
        "AgentComplete",
        "AgentCalled",
    }
)
CALLER_EVENTS = frozenset(
    {"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect"}
)
"""What the board reads besides the ``QueueStatus`` read-back."""

BUSY = {"2", "3", "8"}  # in use, busy, on hold
DAY = 86400.0
LEFT_KEPT = 1000
"""Callers remembered after leaving a queue (``AgentBoard.joined``)."""
RINGING = {"6", "7"}  # ringing, ringing while in use
RINGING_STATUS = "6"
ABSENT = {"4", "5"}  # invalid, unavailable


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """Who an agent is (from the user store): their phone and what they can do."""

    username: str
    interface: str
    skills: Mapping[str, int]
    languages: frozenset[str] = frozenset()
    team: str | None = None


@dataclass(slots=True)
class _Member:
    queues: set[str] = field(default_factory=set)
    paused: bool = False
    reason: str | None = None
    status: str = "0"
    last_call: float = 0.0
    login: float = 0.0
    wrap_until: float = 0.0
    talk: float = 0.0
    """Seconds on calls since ``talk_since`` (from ``AgentComplete``'s ``TalkTime``)."""
    talk_since: float = 0.0


@dataclass(frozen=True, slots=True)
class Outlook:
    """What a caller joining a queue now can expect."""

    position: int
    expected_wait: int | None
    """Seconds: the queue's average hold time (``None`` before any call was answered)."""


class AgentBoard:
    """Queue-member events in, one ``Agent`` per person out (through ``on_change``)."""

    def __init__(self, on_change: Callable[[Agent], None]) -> None:
        self.on_change = on_change
        self._profiles: dict[str, AgentProfile] = {}
        self._members: dict[str, _Member] = {}
        self._now = 0.0
        self._waiting: dict[str, dict[str, float]] = {}
        """Queue to the callers in it (``Uniqueid``) and when each joined."""
        self._left: OrderedDict[str, tuple[str, float]] = OrderedDict()
        """Callers who left a queue lately: ``Uniqueid`` to the queue and when they joined
        it (a caller who pressed 1 to be called back is asked about after leaving)."""
        self._holdtime: dict[str, int] = {}
        self._finished: dict[str, int] = {}
        """Calls completed or abandoned per queue (for the first-sample rule)."""

    def oldest_joined(self) -> dict[str, float]:
        """When each queue's longest-waiting caller joined it (epoch seconds)."""
        return {q: min(c.values()) for q, c in self._waiting.items() if c}

    def joined(self, uniqueid: str) -> tuple[str, float] | None:
        """The queue a caller waits in, or last left, and when they joined it."""
        for queue, callers in self._waiting.items():
            if uniqueid in callers:
                return queue, callers[uniqueid]
        return self._left.get(uniqueid)

    def free_by_queue(self, now: float) -> dict[str, list[str]]:
        """Agents Asterisk could ring now, per queue, longest idle first (interfaces)."""
        free: dict[str, list[tuple[float, str]]] = {}
        for interface, member in self._members.items():
            if (
                interface not in self._profiles
                or _state(member) is not AgentState.AVAILABLE
                or member.wrap_until > now
            ):
                continue
            idle = max(member.last_call, member.login)
            named = self._profiles[interface].interface  # as written, not folded
            for queue in member.queues:
                free.setdefault(queue, []).append((idle, named))
        return {queue: [i for _, i in sorted(agents)] for queue, agents in free.items()}

    def queues_of(self, interface: str) -> set[str]:
        """The queues ``interface`` is a member of."""
        member = self._members.get(interface.lower())
        return set(member.queues) if member is not None else set()

    def last_call(self, interface: str) -> float:
        """When the member's last call ended (epoch seconds; 0 if never)."""
        member = self._members.get(interface.lower())
        return member.last_call if member is not None else 0.0

    def oldest_waits(self, now: float) -> dict[str, float]:
        """Seconds each queue's longest-waiting caller has waited."""
        return {q: now - min(c.values()) for q, c in self._waiting.items() if c}

    def outlook(self, queue: str) -> Outlook:
        """Position and expected wait for a caller joining ``queue`` now."""
        return Outlook(
            position=len(self._waiting.get(queue, ())) + 1,
            expected_wait=self._holdtime.get(queue) or None,
        )

    def set_profiles(self, profiles: Iterable[AgentProfile]) -> None:
        """Know (again) who sits behind each interface."""
        self._profiles = {p.interface.lower(): p for p in profiles}
        for interface in self._profiles:
            self._publish(interface)

    def username_of(self, interface: str) -> str | None:
        """Who sits behind ``interface``, if anyone the server knows."""
        profile = self._profiles.get(interface.lower())
        return profile.username if profile is not None else None

    def agent(self, interface: str) -> Agent | None:
        profile = self._profiles.get(interface.lower())
        if profile is None:
            return None
        member = self._members.get(interface.lower(), _Member())
        return Agent(
            occupancy=_occupancy(member, self._now),
            username=profile.username,
            interface=profile.interface,
            skills=profile.skills,
            languages=profile.languages,
            team=profile.team,
            state=_state(member),
            idle_since=max(member.last_call, member.login),
            pause_reason=member.reason if member.paused else None,
            wrap_until=member.wrap_until,
        )

    def on_event(self, msg: Mapping[str, str], now: float) -> None:
        """Apply one AMI event (others are ignored)."""
        kind = msg.get("Event")
        if kind in CALLER_EVENTS:
            self._on_caller(kind, msg, now)
            return
        if kind not in MEMBER_EVENTS:
            return
        if kind == "AgentCalled":
            self._ringing(msg)
            return
        self._now = max(self._now, now)
        interface = (msg.get("Interface") or msg.get("Location") or "").lower()
        if not interface:
            return
        member = self._members.setdefault(interface, _Member())
        queue = msg.get("Queue", "")
        if kind == "QueueMemberRemoved":
            member.queues.discard(queue)
        elif kind == "AgentComplete":
            self._finished[queue] = self._finished.get(queue, 0) + 1
            wrap = _number(msg.get("Wrapuptime"))
            member.wrap_until = now + wrap if wrap else 0.0
            member.last_call = now
            if now - member.talk_since > DAY:
                member.talk, member.talk_since = 0.0, now - _number(msg.get("TalkTime"))
            member.talk += _number(msg.get("TalkTime"))
        else:
            member.queues.add(queue)
            _read_member(member, msg)
        self._publish(interface)

    def _ringing(self, msg: Mapping[str, str]) -> None:
        """A queue rings a member: not free from now on, though the phone's state change
        that says so (and is published) comes a moment later."""
        member = self._members.get((msg.get("Interface") or "").lower())
        if member is not None and member.status not in BUSY | RINGING:
            member.status = RINGING_STATUS

    def _on_caller(self, kind: str, msg: Mapping[str, str], now: float) -> None:
        queue, caller = msg.get("Queue", ""), msg.get("Uniqueid", "")
        if kind == "QueueCallerJoin":
            self._waiting.setdefault(queue, {})[caller] = now
            return
        joined = self._waiting.get(queue, {}).pop(caller, None)
        if joined is not None and kind == "QueueCallerLeave":
            self._left[caller] = (queue, joined)
            while len(self._left) > LEFT_KEPT:
                self._left.popitem(last=False)
        if kind == "QueueCallerAbandon":
            self._finished[queue] = self._finished.get(queue, 0) + 1
        elif kind == "AgentConnect":
            held = int(_number(msg.get("HoldTime")))
            if not self._finished.get(queue):
                self._holdtime[queue] = held
            else:
                self._holdtime[queue] = (3 * self._holdtime.get(queue, 0) + held) >> 2

    def holdtime(self, queue: str) -> int:
        """The queue's average hold time in seconds, as Asterisk keeps it."""
        return self._holdtime.get(queue, 0)

    def on_snapshot(
        self,
        members: Iterable[Mapping[str, str]],
        entries: Iterable[Mapping[str, str]] = (),
        params: Iterable[Mapping[str, str]] = (),
        now: float = 0.0,
    ) -> None:
        """Replace what is known with a ``QueueStatus`` read-back."""
        self._waiting = {}
        for entry in entries:
            waited = _number(entry.get("Wait"))
            queue = self._waiting.setdefault(entry.get("Queue", ""), {})
            queue[entry.get("Uniqueid", "")] = now - waited
        for queue_params in params:
            name = queue_params.get("Queue", "")
            self._holdtime[name] = int(_number(queue_params.get("Holdtime")))
            self._finished[name] = int(
                _number(queue_params.get("Completed")) + _number(queue_params.get("Abandoned"))
            )
        self._members = {}
        for msg in members:
            interface = (msg.get("Location") or msg.get("Interface") or "").lower()
            if interface:
                member = self._members.setdefault(interface, _Member())
                member.queues.add(msg.get("Queue", ""))
                _read_member(member, msg)
        for interface in self._profiles:
            self._publish(interface)

    def export(self) -> dict[str, Any]:
        """What the board knows of Asterisk's side (not the profiles), JSON-ready.

        For processes that do not read AMI: ``restore`` there gives the same agents,
        waits and expected waits as here.
        """
        return {
            "now": self._now,
            "members": {
                interface: {**asdict(member), "queues": sorted(member.queues)}
                for interface, member in self._members.items()
            },
            "waiting": {queue: dict(callers) for queue, callers in self._waiting.items()},
            "holdtime": dict(self._holdtime),
            "finished": dict(self._finished),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace what is known with another board's ``export``; every agent is published.

        Raises:
            KeyError, TypeError, ValueError: ``state`` is not an ``export``.
        """
        members = {
            str(interface): _Member(**{**fields, "queues": set(fields["queues"])})
            for interface, fields in state["members"].items()
        }
        waiting = {
            str(queue): {str(caller): float(at) for caller, at in callers.items()}
            for queue, callers in state["waiting"].items()
        }
        holdtime = {str(queue): int(value) for queue, value in state["holdtime"].items()}
        finished = {str(queue): int(value) for queue, value in state["finished"].items()}
        self._now = float(state["now"])
        self._members, self._waiting = members, waiting
        self._holdtime, self._finished = holdtime, finished
        for interface in self._profiles:
            self._publish(interface)

    def _publish(self, interface: str) -> None:
        agent = self.agent(interface)
        if agent is not None:
            self.on_change(agent)


def _read_member(member: _Member, msg: Mapping[str, str]) -> None:
    member.paused = msg.get("Paused") == "1"
    member.reason = msg.get("PausedReason") or None
    member.status = msg.get("Status", member.status)
    member.last_call = max(member.last_call, _number(msg.get("LastCall")))
    member.login = _number(msg.get("LoginTime")) or member.login


def _occupancy(member: _Member, now: float) -> float:
    """Share of the time since the agent logged in (at most a day) spent talking."""
    since = max(member.login, now - DAY)
    return min(1.0, member.talk / (now - since)) if now > since and member.talk else 0.0


def _state(member: _Member) -> AgentState:
    if not member.queues or member.status in ABSENT:
        return AgentState.LOGGED_OUT
    if member.paused:
        return AgentState.PAUSED
    if member.status in RINGING:
        return AgentState.RINGING
    if member.status in BUSY:
        return AgentState.ON_CALL
    return AgentState.AVAILABLE


def _number(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0
