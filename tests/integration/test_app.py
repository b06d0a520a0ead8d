"""The assembled server: simulated PBX, AMI, call state, storage and HTTP, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cti.app import Runtime, build_app, build_runtime
from cti.auth.service import create_user
from cti.pbxsim import PbxSimulator
from cti.settings import Settings
from tests.conftest import capture_bytes
from tests.integration.test_bridge import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def server(
    database_url: str,
) -> AsyncIterator[tuple[PbxSimulator, Runtime, httpx.AsyncClient]]:
    sim = await PbxSimulator(secret="s3cret-for-tests", speed=50).start()
    settings = Settings(secret_key=SecretStr("k" * 32), metrics_token=SecretStr("scrape-" * 4))
    settings.ami.port = sim.port
    settings.ami.secret = SecretStr("s3cret-for-tests")
    settings.ami.reconnect_min = 0.05
    settings.database.url = database_url
    settings.agi.port = 0
    runtime = build_runtime(settings)
    app = build_app(settings, runtime)
    await runtime.start()
    sim.pbx.ivr = ("127.0.0.1", runtime.agi.port)
    await create_user(
        runtime.sessionmaker, username="sup", password="sup-password", role="supervisor"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cti.test") as client:
        token = (
            await client.post(
                "/api/auth/login", json={"username": "sup", "password": "sup-password"}
            )
        ).json()
        client.headers["Authorization"] = f"Bearer {token['token']}"
        await wait_until(lambda: runtime.ami.state.value == "connected")
        yield sim, runtime, client
    await runtime.stop()
    await sim.close()


async def recent(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    reply = await client.get("/api/calls/recent", params={"limit": 100})
    assert reply.status_code == 200
    calls: list[dict[str, Any]] = reply.json()["calls"]
    return calls


async def test_simulated_calls_are_live_then_stored(
    server: tuple[PbxSimulator, Runtime, httpx.AsyncClient],
) -> None:
    sim, runtime, client = server
    call = sim.place_call("answered", caller="+79165550101", name="Olga Smirnova")
    await wait_until(lambda: runtime.service.active() != [])
    live = (await client.get("/api/calls/active")).json()["calls"]
    assert live[0]["caller_num"] == "+79165550101"
    await call
    gives_up_in_ivr = sim.plan("answered", caller="+79035550102", name="Sergey")
    gives_up_in_ivr.script.hangup_after = 0
    await asyncio.gather(sim.place_call("abandoned"), sim.pbx.call(gives_up_in_ivr))
    await wait_until(lambda: runtime.writer.written >= 3)
    stored = await recent(client)
    assert sorted(c["outcome"] for c in stored) == ["abandoned", "answered", "ivr_hangup"]
    answered = next(c for c in stored if c["outcome"] == "answered")
    assert (answered["caller_name"], answered["agent"], answered["talk_seconds"]) == (
        "Olga Smirnova",
        "Local/agent1@agents",
        3.0,
    )
    assert (answered["queue"], answered["reason"]) == ("sales", "delivery"), "chosen in our IVR"
    abandoned = next(c for c in stored if c["outcome"] == "abandoned")
    assert (abandoned["queue"], abandoned["reason"]) == ("support", "complaint")
    assert runtime.agi.stats.sessions == 3 and runtime.agi.stats.hangups == 1
    assert [c["ended_at"] for c in stored] == sorted((c["ended_at"] for c in stored), reverse=True)


async def test_a_replayed_recording_is_stored_call_by_call(
    server: tuple[PbxSimulator, Runtime, httpx.AsyncClient],
) -> None:
    sim, runtime, client = server
    await sim.replay(capture_bytes("burst30"))
    await wait_until(lambda: runtime.writer.written >= 30)
    stored = await recent(client)
    assert len(stored) == 30
    assert sum(c["outcome"] == "answered" for c in stored) == 10


async def test_metrics_for_prometheus(
    server: tuple[PbxSimulator, Runtime, httpx.AsyncClient],
) -> None:
    sim, runtime, client = server
    await sim.place_call("answered")
    await wait_until(lambda: runtime.writer.written >= 1)
    body = (await client.get("/metrics")).text
    assert "cti_ami_up 1" in body
    assert "cti_calls_written_total 1" in body
    assert 'cti_calls_active{stage="talking"} 0' in body
    assert "cti_agi_sessions_total 1" in body
    scrape = {"Authorization": "Bearer " + "scrape-" * 4}
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://cti.test")
    async with anonymous:
        assert (await anonymous.get("/metrics", headers=scrape)).status_code == 200
        assert (
            await anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        assert (await anonymous.get("/metrics")).status_code == 401


async def test_agents_follow_asterisk_and_pause_through_it(
    server: tuple[PbxSimulator, Runtime, httpx.AsyncClient],
) -> None:
    _, runtime, client = server
    await create_user(
        runtime.sessionmaker,
        username="alice",
        password="alice-password",
        role="agent",
        agent_interface="Local/agent1@agents",
    )
    await create_user(runtime.sessionmaker, username="boss", password="boss-password", role="admin")
    login = await client.post(
        "/api/auth/login", json={"username": "boss", "password": "boss-password"}
    )
    admin = {"Authorization": f"Bearer {login.json()['token']}"}
    reply = await client.put(
        "/api/agents/alice/profile",
        json={"skills": {"sales": 3}, "languages": ["ru"]},
        headers=admin,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "available", "a member of sales in Asterisk, not paused"
    bad = await client.put(
        "/api/agents/alice/profile", json={"skills": {"juggling": 3}}, headers=admin
    )
    assert bad.status_code == 422 and "juggling" in bad.text

    async def state() -> str:
        agents = (await client.get("/api/agents")).json()
        return str(next(a for a in agents if a["username"] == "alice")["state"])

    reply = await client.post("/api/agents/alice/pause", json={"reason": "lunch"})
    assert reply.status_code == 200, reply.text
    for _ in range(200):
        if await state() == "paused":
            break
        await asyncio.sleep(0.01)
    agents = (await client.get("/api/agents")).json()
    assert [(a["state"], a["pause_reason"]) for a in agents if a["username"] == "alice"] == [
        ("paused", "lunch")
    ]
    decision = await client.post("/api/routing/simulate", json={"number": "+79161234567"})
    assert decision.json()["decision"]["agent"] is None, "a paused agent is never chosen"

    await client.post("/api/agents/alice/unpause")
    for _ in range(200):
        if await state() == "available":
            break
        await asyncio.sleep(0.01)
    decision = await client.post(
        "/api/routing/simulate", json={"number": "+79161234567", "reason": "delivery"}
    )
    assert decision.json()["decision"]["agent"] == "alice"

    runtime.routing.update_agent(
        replace(runtime.routing.agents["alice"], interface="Local/nobody@agents")
    )
    refused = await client.post("/api/agents/alice/pause", json={"reason": "lunch"})
    assert refused.status_code == 409 and "Asterisk refused" in refused.json()["error"]["message"]
