"""Every process a full peer: AMI actions and live agent state wherever a request lands.

Three real ``cti serve`` processes share a real Redis and PostgreSQL before one simulated
Asterisk: two may read AMI (one does, holding the lease), the third never does
(``CTI_AMI_ENABLED=false``). A supervisor pauses an agent through a process that does not
read AMI and the pause reaches the PBX; every process's ``/api/agents`` shows it; a call
routed by the IVR of a process that does not read AMI goes to the free agent; while she
talks every process sees her on the call and routes the same way; a spy is originated
from there. The reader stops: the other takes over and the third follows it. The last
reader stops: an AMI action answers 503 at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.demo import seed_contacts
from cti.pbxsim import PbxConfig, PbxSimulator
from cti.pbxsim.server import CallResult
from cti.store.agents import save_agent_profile
from cti.store.db import create_engine, create_sessionmaker
from cti.store.migrate import upgrade
from tests.desk import AMI_SECRET, IVAN, PASSWORDS, SECRET_KEY, free_port
from tests.integration.test_ami_failover import METRICS_TOKEN, Server, owner_pid

pytestmark = pytest.mark.integration

SPEED = 20.0
SAM_PHONE = "PJSIP/1005"


class Peer:
    """One ``cti serve`` process and an HTTP client to it, as a supervisor."""

    def __init__(self, server: Server, agi_port: int) -> None:
        self.server = server
        self.agi_port = agi_port
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)

    async def login(self, username: str = "sam") -> None:
        reply = await self.http.post(
            "/api/auth/login", json={"username": username, "password": PASSWORDS[username]}
        )
        reply.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {reply.json()['token']}"

    async def agents(self) -> dict[str, dict[str, Any]]:
        reply = await self.http.get("/api/agents")
        reply.raise_for_status()
        return {agent["username"]: agent for agent in reply.json()}

    async def state(self, username: str) -> tuple[str, str | None]:
        agent = (await self.agents())[username]
        return agent["state"], agent["pause_reason"]

    async def simulate(self, reason: str) -> dict[str, Any]:
        reply = await self.http.post(
            "/api/routing/simulate", json={"number": IVAN, "reason": reason}
        )
        reply.raise_for_status()
        decision: dict[str, Any] = reply.json()["decision"]
        return {key: decision[key] for key in ("rule", "queue", "agent", "position")}

    async def metric(self, name: str) -> float:
        reply = await self.http.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        reply.raise_for_status()
        line = next(x for x in reply.text.splitlines() if x.startswith(f"{name} "))
        return float(line.split()[1])


async def eventually(check: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    """Wait until the coroutine function ``check`` returns something true."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def paused_in_pbx(sim: PbxSimulator, interface: str) -> list[tuple[str, bool, str]]:
    """Each queue's record of ``interface``: queue, paused, reason (``QueuePause`` sets them)."""
    return [
        (queue.name, member.paused, member.reason_paused)
        for queue in sim.pbx.queues.values()
        for member in queue.members
        if member.interface == interface
    ]


async def seed(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    fast = Passwords.fast()
    try:
        await seed_contacts(sessionmaker)
        for username, role, phone in (
            ("alice", "agent", "PJSIP/1001"),
            ("bob", "agent", "PJSIP/1002"),
            ("sam", "supervisor", SAM_PHONE),
        ):
            await create_user(
                sessionmaker,
                username=username,
                password=PASSWORDS[username],
                role=role,
                agent_interface=phone,
                passwords=fast,
            )
        await save_agent_profile(
            sessionmaker, "alice", skills={"sales": 3}, languages=[], team=None, actor="test"
        )
        await save_agent_profile(
            sessionmaker, "bob", skills={"billing": 2}, languages=[], team=None, actor="test"
        )
    finally:
        await engine.dispose()


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    config = PbxConfig.production(missing_prompts=frozenset())
    simulator = await PbxSimulator(secret=AMI_SECRET, speed=SPEED, config=config).start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def peers(
    sim: PbxSimulator, redis_url: str, fresh_postgres_url: str, tmp_path: Path
) -> AsyncIterator[list[Peer]]:
    """Two processes that may read AMI, then one that never does."""
    await seed(fresh_postgres_url)
    env = {
        **os.environ,
        "CTI_SECRET_KEY": SECRET_KEY,
        "CTI_METRICS_TOKEN": METRICS_TOKEN,
        "CTI_DATABASE_URL": fresh_postgres_url,
        "CTI_DATABASE_AUTO_MIGRATE": "false",
        "CTI_REDIS_URL": redis_url,
        "CTI_AMI_PORT": str(sim.port),
        "CTI_AMI_SECRET": AMI_SECRET,
        "CTI_AMI_RECONNECT_MIN": "0.05",
        "CTI_IVR_TTS": "false",
        "CTI_LOG_FORMAT": "text",
        "CTI_REPORTS_REFRESH_INTERVAL": "0",
    }
    made: list[Peer] = []
    try:
        for n, enabled in enumerate(("true", "true", "false")):
            agi = free_port()
            extra = {"CTI_AGI_PORT": str(agi), "CTI_AMI_ENABLED": enabled}
            made.append(Peer(Server(f"peer-{n}", {**env, **extra}, tmp_path / f"p{n}.log"), agi))
        await asyncio.gather(*(peer.server.ready() for peer in made))
        for peer in made:
            await peer.login()
        yield made
    finally:
        for peer in made:
            peer.server.stop()
            await peer.http.aclose()


async def reader_of(peers: list[Peer], redis_url: str, port: int) -> Peer:
    async def known() -> int | None:
        return await owner_pid(redis_url, port)

    await eventually(known, "an AMI reader")
    pid = await owner_pid(redis_url, port)
    return next(peer for peer in peers if peer.server.pid == pid)


async def test_any_process_pauses_agents_and_routes_with_the_live_board(
    sim: PbxSimulator, redis_url: str, peers: list[Peer]
) -> None:
    reader = await reader_of(peers, redis_url, sim.port)
    spare = next(p for p in peers[:2] if p is not reader)
    web_only = peers[2]
    followers = [spare, web_only]

    async def everyone(username: str, state: str, reason: str | None = None) -> bool:
        seen = [await peer.state(username) for peer in peers]
        return seen == [(state, reason)] * len(peers)

    await eventually(lambda: everyone("alice", "available"), "alice free on every process")
    assert [await p.metric("cti_ami_owner") for p in peers] == [float(p is reader) for p in peers]

    async def sessions_up() -> bool:
        return [await p.metric("cti_ami_actions_up") for p in peers] == [1.0, 1.0, 1.0]

    await eventually(sessions_up, "an AMI session for actions in every process")
    assert sum(1 for s in sim.sessions if s.logged_in and not s.events) == 3
    assert [await p.metric("cti_agent_board_synced") for p in peers] == [1.0, 1.0, 1.0]
    assert sum(1 for s in sim.sessions if s.logged_in and s.events) == 1, "one event reader"

    # A pause asked of a process that does not read AMI reaches the PBX, then every board.
    reply = await spare.http.post("/api/agents/alice/pause", json={"reason": "lunch"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["refused"] == []
    assert paused_in_pbx(sim, "PJSIP/1001") == [
        ("frontdesk", True, "lunch"),
        ("sales", True, "lunch"),
    ]
    await eventually(lambda: everyone("alice", "paused", "lunch"), "the pause everywhere")
    reply = await web_only.http.post("/api/agents/alice/unpause")
    assert reply.status_code == 200, reply.text
    assert [paused for _, paused, _ in paused_in_pbx(sim, "PJSIP/1001")] == [False, False]
    await eventually(lambda: everyone("alice", "available"), "the unpause everywhere")
    assert await spare.simulate("order_ready") == await reader.simulate("order_ready")
    assert (await spare.simulate("order_ready"))["agent"] == "alice"

    # The IVR of a process that does not read AMI routes the call to the free agent.
    sim.pbx.ivr = ("127.0.0.1", spare.agi_port)
    plan = sim.plan("answered", caller=IVAN, name="", digits="1", talk=80.0)
    plan.script.press_delay = 0.3
    call: asyncio.Future[CallResult] = sim.place_call(plan=plan)
    await eventually(lambda: everyone("alice", "on_call"), "alice on the call everywhere")
    busy = await reader.simulate("order_ready")
    assert busy["agent"] is None and busy["queue"] == "sales"
    for follower in followers:
        assert await follower.simulate("order_ready") == busy

    # A supervisor listens in through the process that never reads AMI.
    reply = await web_only.http.post("/api/agents/alice/spy", json={"mode": "listen"})
    assert reply.status_code == 202, reply.text
    assert sim.pbx.applications[-1]["Channel"] == SAM_PHONE
    assert sim.pbx.applications[-1]["Data"] == "PJSIP/1001-,qE"

    result = await asyncio.wait_for(call, 30)
    assert result.outcome == "answered"
    assert result.variables.get("CTI_AGENT") == "PJSIP/1001", result.variables
    assert result.agent == "PJSIP/1001"
    await eventually(
        lambda: everyone("alice", "available"), "alice free again everywhere", timeout=15
    )

    # The reader stops: the other takes over and the web-only process follows it.
    reader.server.process.send_signal(signal.SIGTERM)
    reader.server.process.wait(10)
    await eventually(lambda: spare.metric("cti_ami_owner"), "the spare taking over")
    reply = await web_only.http.post("/api/agents/alice/pause", json={"reason": "coaching"})
    assert reply.status_code == 200, reply.text
    alive = [spare, web_only]

    async def both_paused() -> bool:
        return [await p.state("alice") for p in alive] == [("paused", "coaching")] * 2

    await eventually(both_paused, "the pause seen by the new reader and its follower")
    assert await web_only.metric("cti_agent_board_synced") == 1.0

    # Nobody reads AMI any more: an action answers 503 at once, and says why.
    spare.server.process.send_signal(signal.SIGTERM)
    spare.server.process.wait(10)
    assert await owner_pid(redis_url, sim.port) is None
    started = time.monotonic()
    reply = await web_only.http.post("/api/agents/alice/unpause")
    assert time.monotonic() - started < 2.0
    assert reply.status_code == 503
    body = reply.json()
    assert body["error"]["id"] == "asterisk.unavailable", body
    assert "no server process reads Asterisk's AMI" in body["error"]["message"]
    assert [paused for _, paused, _ in paused_in_pbx(sim, "PJSIP/1001")] == [True, True]
    assert await web_only.metric("cti_ami_actions_refused_total") == 1.0
