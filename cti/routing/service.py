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
from cti.routing.rules import RoutingRules, parse_routing
from cti.store.rulesets import LiveDocument, RuleSetStore

RULES_NAME = "routing"


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

    async def decide(self, call: CallFacts, now: datetime | None = None) -> Decision:
        router = await self._rules.current()
        return router.decide(call, now or datetime.now(UTC))

    async def simulate(
        self, dossiers: DossierService, number: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Where a call from ``number`` would go right now, and why."""
        view = await dossiers.for_caller(number)
        facts = call_facts(view.dossier, reason)
        decision = await self.decide(facts)
        return {
            "caller": view.identification.to_dict(),
            "facts": {
                "reason": facts.reason,
                "tier": facts.tier,
                "valuable": facts.valuable,
                "rescue": facts.rescue,
                "language": facts.language,
                "last_agents": [name for name, _ in facts.last_agents],
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
