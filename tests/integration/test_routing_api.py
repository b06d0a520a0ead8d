"""Routing rules over the API, and "where would this call go" on a real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cti.auth.model import Role
from cti.demo import seed_contacts
from cti.routing.engine import Agent, AgentState
from cti.routing.service import default_routing
from tests.integration.test_api import Api, api, assert_error, settings

pytestmark = pytest.mark.integration
__all__ = ["api", "settings"]

NOW = datetime.now(UTC).timestamp()


async def simulate(api: Api, number: str, reason: str | None = None) -> dict[str, object]:
    reply = await api.client.post(
        "/api/routing/simulate",
        json={"number": number, "reason": reason},
        headers=api.auth(Role.SUPERVISOR),
    )
    assert reply.status_code == 200, reply.text
    result: dict[str, object] = reply.json()
    return result


@pytest.fixture
async def staffed(api: Api) -> Api:
    await seed_contacts(api.sessionmaker)
    routing = api.app.state.context.routing
    for name, skills, state in (
        ("alice", {"sales": 3}, AgentState.AVAILABLE),
        ("bob", {"complaints": 5, "support": 2}, AgentState.AVAILABLE),
        ("carol", {"complaints": 2}, AgentState.AVAILABLE),
        ("dan", {"billing": 4}, AgentState.PAUSED),
    ):
        routing.update_agent(Agent(name, f"PJSIP/{name}", skills, state=state, idle_since=NOW))
    return api


async def test_a_valuable_customer_with_a_complaint_goes_to_a_senior(staffed: Api) -> None:
    result = await simulate(staffed, "+79035550102")
    decision = result["decision"]
    assert isinstance(decision, dict)
    assert (decision["rule"], decision["agent"], decision["queue"]) == (
        "rescue",
        "bob",
        "complaints",
    )
    assert decision["overflow"] == {"after_seconds": 60, "queue": "support"}
    assert result["facts"] == {
        "reason": "complaint",
        "tier": "platinum",
        "valuable": True,
        "rescue": True,
        "language": None,
        "last_agents": ["bob"],
        "queue_waits": {},
    }
    assert result["reason"]["id"] == "complaint"  # type: ignore[index]


async def test_the_ivr_reason_wins_and_a_paused_agent_is_skipped(staffed: Api) -> None:
    ready = await simulate(staffed, "8 916 123-45-67")
    assert ready["decision"]["agent"] == "alice"  # type: ignore[index]
    debt = await simulate(staffed, "8 916 123-45-67", reason="debt")
    assert debt["decision"]["agent"] is None  # type: ignore[index]
    assert "no free agent with billing" in debt["decision"]["why"][-1]  # type: ignore[index]
    assert debt["decision"]["position"] == 1  # type: ignore[index]
    assert debt["reason"]["confidence"] == 0.9  # type: ignore[index]
    stranger = await simulate(staffed, "anonymous")
    assert stranger["decision"]["rule"] == "default"  # type: ignore[index]


async def test_routing_rules_are_checked_versioned_and_in_force_at_once(staffed: Api) -> None:
    admin = staffed.auth(Role.ADMIN)
    bad = default_routing()
    bad["rules"][1]["target"]["skill"] = "magic"
    reply = await staffed.client.put("/api/routing/rules", json={"rules": bad}, headers=admin)
    error = assert_error(reply, 422, "rules.invalid")
    assert any("unknown skill 'magic'" in p for p in error["problems"])

    changed = default_routing()
    changed["rules"] = [r for r in changed["rules"] if r["id"] != "orders"]
    reply = await staffed.client.put(
        "/api/routing/rules",
        json={"rules": changed, "comment": "orders to frontdesk"},
        headers=admin,
    )
    assert reply.json() == {"name": "routing", "version": 1}
    result = await simulate(staffed, "8 916 123-45-67")
    assert result["decision"]["rule"] == "default" and result["rules_version"] == 1  # type: ignore[index]

    reply = await staffed.client.post(
        "/api/routing/rules/rollback", json={"version": 1}, headers=admin
    )
    assert reply.json()["version"] == 2
    history = await staffed.client.get("/api/routing/rules/versions", headers=admin)
    assert [v["comment"] for v in history.json()] == [
        "rollback to version 1",
        "orders to frontdesk",
    ]
    audit = await staffed.client.get("/api/audit?action=rules.routing", headers=admin)
    saves = [
        (e["target"], e["details"]["before"], e["details"]["after"])
        for e in audit.json()["entries"]
    ]
    assert saves == [
        ("routing@2", {"version": 1}, {"version": 2}),
        ("routing@1", {"version": 0}, {"version": 1}),
    ]


async def test_one_rule_at_a_time_each_edit_checked_and_versioned(staffed: Api) -> None:
    admin = staffed.auth(Role.ADMIN)
    rule = {
        "id": "vip",
        "priority": 5,
        "when": {"tier": ["platinum"]},
        "target": {"skill": "sales"},
    }
    reply = await staffed.client.post(
        "/api/routing/rules/items", json={"rule": rule}, headers=admin
    )
    assert reply.status_code == 201 and reply.json()["version"] == 1
    clash = {**rule, "id": "vip2"}
    reply = await staffed.client.post(
        "/api/routing/rules/items", json={"rule": clash}, headers=admin
    )
    assert any(
        "overlaps rules.vip" in p for p in assert_error(reply, 422, "rules.invalid")["problems"]
    )
    moved = {**rule, "target": {"skill": "billing"}}
    reply = await staffed.client.put(
        "/api/routing/rules/items/vip", json={"rule": moved}, headers=admin
    )
    assert reply.json()["version"] == 2
    result = await simulate(staffed, "+79035550102", reason="debt")
    assert result["decision"]["rule"] == "vip"  # type: ignore[index]
    reply = await staffed.client.delete("/api/routing/rules/items/complaints", headers=admin)
    error = assert_error(reply, 422, "rules.invalid")
    assert error["problems"] == ["rules.rescue.overflow: no rule 'complaints'"]
    reply = await staffed.client.delete("/api/routing/rules/items/support", headers=admin)
    assert reply.json()["version"] == 3
    reply = await staffed.client.delete("/api/routing/rules/items/nope", headers=admin)
    assert_error(reply, 404, "rules.not_found")
    history = await staffed.client.get("/api/routing/rules/versions", headers=admin)
    assert [v["comment"] for v in history.json()] == [
        "remove rule support",
        "change rule vip",
        "add rule vip",
    ]
