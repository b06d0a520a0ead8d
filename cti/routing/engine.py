"""The routing decision: the first matching rule by priority, then the best free agent.

Pure code: agents' live state and the call's facts come in, a decision with its reasons
goes out. Rules are indexed by reason once (``Router`` is rebuilt when rules change), and
agents by skill, so a decision looks at the few rules that can apply and the agents who
have the skill, not at everything (benchmarks/routing.py measures it against the linear
walk a dialplan would do).

Agent choice, among available agents with the skill at the level the rule asks:
1. the agent who last served this customer on any channel, within ``affinity_days``;
2. for a valuable customer or a service rescue, agents of ``senior_level`` or more;
3. the highest skill level, then the lowest occupancy today, then the longest idle.
A paused, ringing, busy or logged-out agent is never chosen; with nobody free the call
goes to the skill's queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from cti.routing.rules import RoutingRules, Rule, Target

DAY = 86400.0


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(slots=True)
class Agent:
    """One agent: who they are, what they can do, and what they are doing now."""

    username: str
    interface: str
    skills: Mapping[str, int]
    languages: frozenset[str] = frozenset()
    team: str | None = None
    state: AgentState = AgentState.LOGGED_OUT
    idle_since: float = 0.0
    """Epoch seconds since the agent became free."""
    occupancy: float = 0.0
    """Share of today's logged-in time spent on calls, 0 to 1."""
    pause_reason: str | None = None
    wrap_until: float = 0.0
    """Epoch seconds until which the agent is in wrap-up after a call (not to be rung)."""

    def view(self, now: float) -> dict[str, object]:
        """A JSON-ready view for people (the API and the agents' screens)."""
        return {
            "username": self.username,
            "interface": self.interface,
            "skills": dict(self.skills),
            "languages": sorted(self.languages),
            "team": self.team,
            "state": self.state_at(now).value,
            "pause_reason": self.pause_reason,
            "idle_seconds": int(now - self.idle_since) if self.idle_since else None,
            "wrap_until": self.wrap_until if self.wrap_until > now else None,
        }

    def state_at(self, now: float) -> AgentState:
        """The state as people see it, wrap-up included."""
        if self.state is AgentState.AVAILABLE and self.wrap_until > now:
            return AgentState.WRAP_UP
        return self.state


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What routing knows about a call (from the dossier, the IVR and the history)."""

    reason: str | None = None
    tier: str = "standard"
    valuable: bool = False
    rescue: bool = False
    language: str | None = None
    last_agents: Sequence[tuple[str, float]] = ()
    """Agents who served this customer on any channel, newest first: (username, epoch)."""
    queue_waits: Mapping[str, float] = field(default_factory=dict)
    """Seconds each queue's oldest caller has been waiting."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Where the call goes, and why, in words a supervisor can read."""

    rule: str
    skill: str
    queue: str
    agent: Agent | None
    why: tuple[str, ...]
    overflow_after: int | None = None
    overflow_queue: str | None = None
    position: int | None = None
    """With no agent free: the caller's place in the queue on joining it now."""
    expected_wait: int | None = None
    """With no agent free: seconds the queue keeps callers on average (Asterisk's figure)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "skill": self.skill,
            "queue": self.queue,
            "agent": self.agent.username if self.agent else None,
            "interface": self.agent.interface if self.agent else None,
            "why": list(self.why),
            "overflow": (
                {"after_seconds": self.overflow_after, "queue": self.overflow_queue}
                if self.overflow_after is not None
                else None
            ),
            "position": self.position,
            "expected_wait_seconds": self.expected_wait,
        }


class Router:
    """Decisions over one version of the rules and the agents' current state."""

    def __init__(self, rules: RoutingRules, agents: Iterable[Agent] = ()) -> None:
        self.rules = rules
        self.zone = ZoneInfo(rules.timezone)
        days = [h.day() for h in rules.holidays]
        self._holidays = {d for d in days if isinstance(d, date)}
        self._every_year = {d for d in days if isinstance(d, tuple)}
        self._by_id = {r.id: r for r in rules.rules}
        ordered = sorted(rules.rules, key=lambda r: r.priority)
        self._any_reason = [r for r in ordered if r.when.reason is None]
        self._by_reason: dict[str, list[Rule]] = {}
        for reason in {x for r in ordered for x in r.when.reason or ()}:
            self._by_reason[reason] = [
                r for r in ordered if r.when.reason is None or reason in r.when.reason
            ]
        self._agents: dict[str, Agent] = {}
        self._by_skill: dict[str, dict[str, Agent]] = {}
        """Per skill, its agents by username, in the order they were last known."""
        for agent in agents:
            self.add_agent(agent)

    def add_agent(self, agent: Agent) -> None:
        """Know an agent (or replace what was known of them)."""
        old = self._agents.get(agent.username)
        if old is not None:
            for skill in old.skills:
                del self._by_skill[skill][old.username]  # not a scan: every change is one
        self._agents[agent.username] = agent
        for skill in agent.skills:
            self._by_skill.setdefault(skill, {})[agent.username] = agent

    def agent(self, username: str) -> Agent | None:
        return self._agents.get(username)

    def is_holiday(self, day: date) -> bool:
        """Whether the site keeps ``day`` (its local date) as a holiday."""
        return day in self._holidays or (day.month, day.day) in self._every_year

    def decide(self, call: CallFacts, now: datetime) -> Decision:
        """The rule that applies and the agent to ring (or None: the queue)."""
        local = now.astimezone(self.zone)
        candidates = self._by_reason.get(call.reason or "", self._any_reason)
        for rule in candidates:
            if self._matches(rule, call, local):
                return self._place(rule.id, rule.target, call, now, rule)
        return self._place("default", self.rules.default, call, now, None)

    def _matches(self, rule: Rule, call: CallFacts, local: datetime) -> bool:
        when = rule.when
        if when.reason is not None and call.reason not in when.reason:
            return False
        if when.tier is not None and call.tier not in when.tier:
            return False
        if when.language is not None and call.language not in when.language:
            return False
        if when.rescue is not None and call.rescue != when.rescue:
            return False
        if when.holiday is not None and when.holiday != self.is_holiday(local.date()):
            return False
        if when.hours is not None:
            days, start, end = when.hours.window()
            if local.weekday() not in days or not start <= local.time() <= end:
                return False
        if when.queue_wait_over is not None:
            queue = rule.target.queue or self.rules.skills[rule.target.skill]
            return call.queue_waits.get(queue, 0.0) > when.queue_wait_over
        return True

    def _place(
        self, rule_id: str, target: Target, call: CallFacts, now: datetime, rule: Rule | None
    ) -> Decision:
        queue = target.queue or self.rules.skills[target.skill]
        why = [f"rule {rule_id}" + (f" (reason {call.reason})" if call.reason else "")]
        agent = self._pick(target, call, now.timestamp(), why)
        if agent is None:
            why.append(f"no free agent with {target.skill} ≥ {target.min_level}: queue {queue}")
        after = to_queue = None
        if rule is not None and rule.overflow is not None:
            nxt = self._by_id[rule.overflow.to].target
            after, to_queue = rule.overflow.after_seconds, nxt.queue or self.rules.skills[nxt.skill]
        return Decision(rule_id, target.skill, queue, agent, tuple(why), after, to_queue)

    def _pick(self, target: Target, call: CallFacts, now: float, why: list[str]) -> Agent | None:
        skill, level = target.skill, target.min_level
        free = [
            a
            for a in self._by_skill.get(skill, {}).values()
            if a.state is AgentState.AVAILABLE
            and a.wrap_until <= now
            and a.skills[skill] >= level
            and (target.team is None or a.team == target.team)
            and (call.language is None or not a.languages or call.language in a.languages)
        ]
        if not free:
            return None
        horizon = now - self.rules.affinity_days * DAY
        names = {a.username: a for a in free}
        for username, served_at in call.last_agents:
            if served_at < horizon:
                break
            if username in names:
                why.append(f"{username} served this customer last")
                return names[username]
        if call.valuable or call.rescue:
            seniors = [a for a in free if a.skills[skill] >= self.rules.senior_level]
            if seniors:
                free = seniors
                why.append(
                    "a senior agent for a "
                    + ("service rescue" if call.rescue else f"{call.tier} customer")
                )
        best = max(
            free,
            key=lambda a: (a.skills[skill], -round(a.occupancy, 1), now - a.idle_since),
        )
        free_for = f", free for {int(now - best.idle_since)} s" if best.idle_since else ""
        why.append(f"{best.username}: {skill} level {best.skills[skill]}{free_for}")
        return best
