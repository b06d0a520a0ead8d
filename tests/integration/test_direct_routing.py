"""Calls that skip the IVR: the server routes them with AMI Setvar and Redirect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from cti.app import Runtime, build_runtime
from cti.demo import seed_contacts
from cti.pbxsim import PbxConfig, PbxSimulator
from cti.routing.board import AgentProfile
from cti.settings import Settings
from tests.integration.test_bridge import wait_until

pytestmark = pytest.mark.integration

SERGEY = "+79035550102"
"""A platinum customer with an open complaint: a service rescue (demo data)."""


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[tuple[PbxSimulator, Runtime]]:
    config = PbxConfig.production(missing_prompts=frozenset(), route_wait=5.0)
    sim = await PbxSimulator(secret="s3cret-for-tests", speed=20, config=config).start()
    settings = Settings(secret_key=SecretStr("k" * 32))
    settings.ami.port = sim.port
    settings.ami.secret = SecretStr("s3cret-for-tests")
    settings.database.url = database_url
    settings.agi.port = 0
    runtime = build_runtime(settings)
    await runtime.start()
    await seed_contacts(runtime.sessionmaker)
    runtime.routing.load_profiles(
        [
            AgentProfile("carol", "PJSIP/1003", {"complaints": 5, "support": 3}),
            AgentProfile("bob", "PJSIP/1002", {"sales": 2, "billing": 2}),
        ]
    )
    await wait_until(lambda: runtime.ami.state.value == "connected")
    await wait_until(lambda: runtime.routing.agents["carol"].state.value == "available")
    yield sim, runtime
    await runtime.stop()
    await sim.close()


async def finished(runtime: Runtime, caller: str) -> dict[str, Any]:
    """The stored record of the call from ``caller``, once the tracker has ended it."""
    await wait_until(lambda: not runtime.service.active())
    await runtime.writer.flush()
    calls = await runtime.writer.store.recent(limit=10)
    (call,) = [c for c in calls if c["caller_num"] == caller]
    return call


async def test_a_direct_call_is_routed_to_the_senior_agent_by_redirect(
    server: tuple[PbxSimulator, Runtime],
) -> None:
    sim, runtime = server
    plan = sim.plan("answered", caller=SERGEY, name="Sergey", talk=3.0)
    plan.direct = True
    assert (await sim.place_call(plan=plan)).outcome == "answered"
    call = await finished(runtime, SERGEY)
    assert (call["agent"], call["queue"]) == ("PJSIP/1003", None), "rung directly, no queue"
    assert call["reason"] == "complaint" and call["reason_confidence"] > 0.5
    routing = call["routing"]
    assert (routing["rule"], routing["agent"]) == ("rescue", "PJSIP/1003")
    assert routing["overflow_queue"] == "support" and routing["overflow_after"] == "60"
    assert "a senior agent for a service rescue" in routing["why"]


async def test_without_the_server_a_direct_call_still_reaches_the_default_queue(
    server: tuple[PbxSimulator, Runtime],
) -> None:
    sim, runtime = server
    runtime.direct.budget = 0.001  # the decision cannot be made in time
    plan = sim.plan("answered", caller="+79645550108", name="", talk=2.0)
    plan.direct = True
    assert (await sim.place_call(plan=plan)).outcome == "answered"
    call = await finished(runtime, "+79645550108")
    assert call["queue"] == "frontdesk" and call["routing"] is None


async def test_asterisk_refusing_a_redirect_is_reported_and_changes_nothing(
    server: tuple[PbxSimulator, Runtime],
) -> None:
    _, runtime = server
    assert await runtime.direct.route("PJSIP/trunk-gone", SERGEY) is None
    reply = await runtime.ami.action(
        "Redirect", Channel="PJSIP/trunk-gone", Context="cti-route", Exten="s", Priority="1"
    )
    assert reply["Message"] == "Channel does not exist: PJSIP/trunk-gone"
