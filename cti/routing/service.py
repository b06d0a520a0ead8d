"""Routing in the server: the rules in force, the agents' state, and "where would it go?".

The facts of a call come from its dossier: the top likely reason (unless the IVR or the
caller gave one), the customer's tier, the service-rescue flag, their language and the
agents who served them on any channel (the timeline).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from cti.contacts.dossier import Dossier, DossierService
from cti.routing.board import AgentBoard, AgentProfile
from cti.routing.engine import Agent, AgentState, CallFacts, Decision, Router
from cti.routing.predict import Prediction, predict_reason
from cti.routing.rules import RoutingRules, parse_routing
from cti.store.rulesets import LiveDocument, RuleSetStore

RULES_NAME = "routing"
ROUTING_VARIABLES = (
    "CTI_REASON_CONFIDENCE",
    "CTI_AGENT",
    "CTI_RULE",
    "CTI_OVERFLOW_AFTER",
    "CTI_OVERFLOW_QUEUE",
    "CTI_ROUTE",
)
"""Channel variables of a routing decision, beside ``CTI_QUEUE`` and ``CTI_REASON``."""


def default_routing() -> dict[str, Any]:
    """The shipped routing rules, in force until an admin saves their own."""
    text = resources.files("cti.routing").joinpath("default_rules.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class RoutingService:
    """The router over the newest rules and the agents the server knows of."""

    def __init__(
        self,
        store: RuleSetStore | None,
        *,
        refresh: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agents: dict[str, Agent] = {}
        self.board = AgentBoard(self.update_agent)
        self.watchers: list[Callable[[Agent], None]] = []
        """Called with every agent whose profile or state the server learns."""
        self._rules = LiveDocument(
            store,
            RULES_NAME,
            self._build,
            self._build(default_routing()),
            refresh=refresh,
            clock=clock,
        )

    def _build(self, body: Any) -> Router:
        return Router(parse_routing(body), self.agents.values())

    @property
    def version(self) -> int:
        return self._rules.version

    def forget(self) -> None:
        """Re-read the rules on the next decision (after a save in this process)."""
        self._rules.forget()

    async def rules(self) -> RoutingRules:
        """The routing rules in force."""
        return (await self._rules.current()).rules

    def load_profiles(self, profiles: list[AgentProfile]) -> None:
        """Know every agent (again); an agent no longer listed stops being chosen."""
        for gone in set(self.agents) - {p.username for p in profiles}:
            self.update_agent(replace(self.agents[gone], state=AgentState.LOGGED_OUT, skills={}))
        self.board.set_profiles(profiles)

    def update_agent(self, agent: Agent) -> None:
        """Know an agent's profile and state (from the user store and Asterisk's events)."""
        self.agents[agent.username] = agent
        self._rules.value.add_agent(agent)
        for watch in self.watchers:
            watch(agent)

    def username_of(self, interface: str) -> str | None:
        """The agent whose phone is ``interface`` (``PJSIP/1001``), if any."""
        return self.board.username_of(interface)

    async def decide(self, call: CallFacts, now: datetime | None = None) -> Decision:
        """The decision for ``call``; with nobody free, where the caller will stand in line.

        Queue waits the facts leave out are taken from the live board.
        """
        router = await self._rules.current()
        moment = now or datetime.now(UTC)
        if not call.queue_waits:
            call = replace(call, queue_waits=self.board.oldest_waits(moment.timestamp()))
        decision = router.decide(call, moment)
        if decision.agent is not None:
            return decision
        outlook = self.board.outlook(decision.queue)
        return replace(decision, position=outlook.position, expected_wait=outlook.expected_wait)

    async def simulate(
        self, dossiers: DossierService, number: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Where a call from ``number`` would go right now, and why."""
        view = await dossiers.for_caller(number)
        now = datetime.now(UTC)
        prediction = predict_reason(reason, view.dossier, now)
        facts = call_facts(view.dossier, prediction.reason)
        waits = self.board.oldest_waits(now.timestamp())
        decision = await self.decide(replace(facts, queue_waits=waits), now)
        return {
            "caller": view.identification.to_dict(),
            "reason": prediction.to_dict(),
            "facts": {
                "reason": facts.reason,
                "tier": facts.tier,
                "valuable": facts.valuable,
                "rescue": facts.rescue,
                "language": facts.language,
                "last_agents": [name for name, _ in facts.last_agents],
                "queue_waits": {queue: round(wait) for queue, wait in waits.items()},
            },
            "decision": decision.to_dict(),
            "rules_version": self.version,
            "agents_known": len(self.agents),
        }


def call_facts(dossier: Dossier | None, reason: str | None = None) -> CallFacts:
    """What routing needs of a call, from its dossier (a stranger has none)."""
    if dossier is None:
        return CallFacts(reason=reason)
    verdict, facts = dossier.verdict, dossier.facts
    served = tuple((i.agent, i.at.timestamp()) for i in facts.interactions if i.agent)
    return CallFacts(
        reason=reason or dossier.top_reason,
        tier=verdict.tier,
        valuable=verdict.valuable,
        rescue=bool(verdict.rescue),
        language=facts.language,
        last_agents=served,
    )


def handover(prediction: Prediction, decision: Decision) -> dict[str, str]:
    """A decision as the channel variables the dialplan (``cti-route``) reads.

    ``CTI_ROUTE`` says it in words: the rule, the reason with how sure and why, and how
    the agent or queue was chosen (at most 250 characters).
    """
    words = [f"rule {decision.rule}", prediction.describe(), *decision.why[1:]]
    variables = {
        "CTI_QUEUE": decision.queue,
        "CTI_REASON_CONFIDENCE": (
            f"{prediction.confidence:.2f}" if prediction.reason is not None else ""
        ),
        "CTI_AGENT": decision.agent.interface if decision.agent else "",
        "CTI_RULE": decision.rule,
        "CTI_OVERFLOW_AFTER": (
            str(decision.overflow_after) if decision.overflow_after is not None else ""
        ),
        "CTI_OVERFLOW_QUEUE": decision.overflow_queue or "",
        "CTI_ROUTE": "; ".join(words)[:250],
    }
    if prediction.reason is not None:
        variables["CTI_REASON"] = prediction.reason
    return variables
