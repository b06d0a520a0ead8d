"""Routing rules are checked before they are saved; decisions pick the best free agent."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest

from cti.routing.engine import Agent, AgentState, CallFacts, Router
from cti.routing.rules import RoutingError, parse_routing

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 12:00 in Moscow
T = NOW.timestamp()
FREE = AgentState.AVAILABLE


def shipped() -> dict[str, Any]:
    text = resources.files("cti.routing").joinpath("default_rules.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def agent(name: str, skills: dict[str, int], state: AgentState = FREE, **kw: Any) -> Agent:
    kw.setdefault("idle_since", T - 60)
    return Agent(name, f"PJSIP/{name}", skills, state=state, **kw)


def router(*agents: Agent, document: dict[str, Any] | None = None) -> Router:
    return Router(parse_routing(document or shipped()), agents)


def test_a_reason_goes_to_its_skill_and_the_best_free_agent() -> None:
    decision = router(
        agent("alice", {"sales": 2}),
        agent("bob", {"sales": 3}),
        agent("carol", {"billing": 5}),
    ).decide(CallFacts(reason="delivery_late"), NOW)
    assert (decision.rule, decision.queue, decision.agent and decision.agent.username) == (
        "delivery",
        "sales",
        "bob",
    )
    assert decision.why[-1] == "bob: sales level 3, free for 60 s"


@pytest.mark.parametrize(
    "state", [AgentState.PAUSED, AgentState.RINGING, AgentState.ON_CALL, AgentState.LOGGED_OUT]
)
def test_a_busy_paused_or_absent_agent_is_never_chosen(state: AgentState) -> None:
    decision = router(agent("alice", {"billing": 5}, state)).decide(CallFacts(reason="debt"), NOW)
    assert decision.agent is None and decision.queue == "billing"
    assert decision.why[-1] == "no free agent with billing ≥ 1: queue billing"


def test_the_agent_who_served_the_customer_last_comes_first() -> None:
    call = CallFacts(reason="order_status", last_agents=(("dan", T - 3600), ("bob", T - 7200)))
    decision = router(
        agent("bob", {"sales": 5}), agent("dan", {"sales": 1}), agent("eve", {"sales": 5})
    ).decide(call, NOW)
    assert decision.agent is not None and decision.agent.username == "dan"
    assert "dan served this customer last" in decision.why


def test_affinity_ends_after_its_window() -> None:
    call = CallFacts(reason="order_status", last_agents=(("dan", T - 40 * 86400),))
    decision = router(agent("bob", {"sales": 5}), agent("dan", {"sales": 1})).decide(call, NOW)
    assert decision.agent is not None and decision.agent.username == "bob"


def test_a_valuable_customer_gets_a_senior_agent() -> None:
    agents = (agent("junior", {"sales": 3}, idle_since=T - 900), agent("senior", {"sales": 4}))
    plain = router(*agents).decide(CallFacts(reason="delivery"), NOW)
    vip = router(*agents).decide(CallFacts(reason="delivery", valuable=True, tier="gold"), NOW)
    assert plain.agent is not None and plain.agent.username == "senior"
    assert vip.agent is not None and vip.agent.username == "senior"
    assert "a senior agent for a gold customer" in vip.why


def test_a_rescue_goes_to_senior_complaints_and_overflows() -> None:
    decision = router(agent("carol", {"complaints": 5})).decide(
        CallFacts(reason="order_status", rescue=True), NOW
    )
    assert (decision.rule, decision.skill) == ("rescue", "complaints")
    assert (decision.overflow_after, decision.overflow_queue) == (60, "support")


def test_ties_go_to_the_least_occupied_then_the_longest_idle() -> None:
    agents = (
        agent("busy", {"sales": 2}, occupancy=0.9, idle_since=T - 3000),
        agent("fresh", {"sales": 2}, occupancy=0.2, idle_since=T - 10),
        agent("longest", {"sales": 2}, occupancy=0.2, idle_since=T - 500),
    )
    decision = router(*agents).decide(CallFacts(reason="delivery"), NOW)
    assert decision.agent is not None and decision.agent.username == "longest"


def test_language_and_unknown_reasons() -> None:
    agents = (agent("olga", {"frontdesk": 1}, languages=frozenset({"ru"})),)
    assert router(*agents).decide(CallFacts(reason="weather", language="en"), NOW).agent is None
    decision = router(*agents).decide(CallFacts(reason=None, language="ru"), NOW)
    assert decision.rule == "default" and decision.agent is not None


def test_hours_and_queue_wait_conditions() -> None:
    document = shipped()
    document["rules"] = [
        {
            "id": "night",
            "priority": 1,
            "when": {"hours": {"from": "20:00", "to": "23:59"}},
            "target": {"skill": "frontdesk"},
        },
        {
            "id": "spill",
            "priority": 2,
            "when": {"reason": ["debt"], "queue_wait_over": 120},
            "target": {"skill": "frontdesk", "queue": "billing"},
        },
        {"id": "debt", "priority": 3, "when": {"reason": ["debt"]}, "target": {"skill": "billing"}},
    ]
    r = router(document=document)
    assert r.decide(CallFacts(reason="debt"), NOW).rule == "debt"
    assert r.decide(CallFacts(reason="debt", queue_waits={"billing": 300}), NOW).rule == "spill"
    evening = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)  # 21:30 in Moscow
    assert r.decide(CallFacts(reason="debt"), evening).rule == "night"


def test_the_holiday_calendar() -> None:
    document = shipped()
    document["holidays"] = [{"date": "01-01", "name": "New Year"}, {"date": "2026-11-24"}]
    document["rules"] = [
        {"id": "closed", "priority": 1, "when": {"holiday": True}, "target": {"skill": "sales"}},
        {"id": "open", "priority": 1, "when": {"holiday": False}, "target": {"skill": "support"}},
    ]
    r = router(document=document)
    assert r.decide(CallFacts(), NOW).rule == "open"
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert r.decide(CallFacts(), tuesday).rule == "closed"
    new_year = datetime(2027, 12, 31, 21, 30, tzinfo=UTC)  # 00:30 on 1 January in Moscow
    assert r.decide(CallFacts(), new_year).rule == "closed"


def rules_with(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(shipped())
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["rules"][1]["target"].update(skill="magic"), "unknown skill 'magic'"),
        (lambda d: d["rules"][0]["overflow"].update(to="nowhere"), "no rule 'nowhere'"),
        (
            lambda d: (
                d["rules"][2].update(overflow={"after_seconds": 30, "to": "complaints"}, id="loop")
                or d["rules"][1].update(overflow={"after_seconds": 30, "to": "loop"})
            ),
            "comes back to itself",
        ),
        (
            lambda d: d["rules"].append(
                {
                    "id": "dup",
                    "priority": 30,
                    "when": {"reason": ["debt", "x"]},
                    "target": {"skill": "sales"},
                }
            ),
            "overlaps rules.billing at priority 30",
        ),
        (lambda d: d["rules"].append(dict(d["rules"][0])), "id 'rescue' is used twice"),
        (lambda d: d.update(timezone="Mars/Olympus"), "unknown time zone"),
        (
            lambda d: d["rules"][0]["when"].update(hours={"from": "18:00", "to": "09:00"}),
            "'from' must be before 'to'",
        ),
        (lambda d: d["skills"].update(sales="sales; Dial(x)"), "String should match"),
        (lambda d: d.update(holidays=[{"date": "02-30"}]), "'02-30' is not a date"),
        (
            lambda d: d["rules"].append(
                {"id": "x", "priority": 30, "when": {"holiday": True}, "target": {"skill": "sales"}}
            ),
            "overlaps rules.delivery at priority 30",
        ),
    ],
)
def test_bad_rules_are_refused_with_the_reason(change: Any, problem: str) -> None:
    with pytest.raises(RoutingError) as caught:
        parse_routing(rules_with(change))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_disjoint_rules_may_share_a_priority() -> None:
    assert parse_routing(shipped()).rules[2].priority == parse_routing(shipped()).rules[3].priority
