"""The wallboard over a real WebSocket and supervisors stepping into calls, against the
simulated PBX: figures equal the PBX's own ``QueueStatus``, and every action is audited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.store.repositories import AuditRepository
from tests.desk import IVAN, Desk, desk_settings, running_desk, wait_until

pytestmark = pytest.mark.integration

SUE = "sue-password"
"""A supervisor with a phone, made for these tests only (not in the shared PASSWORDS)."""


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    async with running_desk(desk_settings(database_url)) as running:
        await create_user(
            running.runtime.sessionmaker,
            username="sue",
            password=SUE,
            role="supervisor",
            display_name="Sue",
            agent_interface="PJSIP/1009",
            passwords=Passwords.fast(),
        )
        yield running


async def wallboard(desk: Desk, username: str) -> tuple[websockets.ClientConnection, Any]:
    ws = await websockets.connect(desk.ws_url.replace("/ws/agent", "/ws/wallboard"))
    await ws.send(json.dumps({"type": "auth", "token": await desk.token(username)}))
    return ws, json.loads(await asyncio.wait_for(ws.recv(), 5))


class Picture:
    """The wallboard as a screen draws it: the full picture with each update laid over."""

    def __init__(self, full: dict[str, Any]) -> None:
        self.queues = {q["name"]: q for q in full["queues"]}
        self.agents = {a["interface"]: a for a in full["agents"]}
        self.abandoned = list(full["abandoned"])
        self.seq = full["seq"]
        self.updates = 0

    def apply(self, update: dict[str, Any]) -> None:
        self.queues.update((q["name"], q) for q in update["queues"])
        self.agents.update((a["interface"], a) for a in update["agents"])
        self.abandoned[:0] = update["abandoned"]
        assert update["seq"] >= self.seq
        self.seq = update["seq"]
        self.updates += 1


async def follow(ws: websockets.ClientConnection, picture: Picture, until: Any) -> None:
    async with asyncio.timeout(15):
        while not until():
            picture.apply(json.loads(await ws.recv()))


async def test_the_wallboard_follows_calls_and_equals_the_pbxs_own_figures(desk: Desk) -> None:
    ws, full = await wallboard(desk, "sam")
    assert full["type"] == "wallboard" and full["full"]
    picture = Picture(full)
    assert picture.agents["PJSIP/1001"]["username"] == "alice"
    async with httpx.AsyncClient(base_url=desk.base) as client:
        token = await desk.token("sam")
        paused = await client.post(
            "/api/agents/alice/pause",
            json={"reason": "coaching"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert paused.status_code == 200
    await follow(ws, picture, lambda: picture.agents["PJSIP/1001"]["state"] == "paused")
    assert picture.agents["PJSIP/1001"]["pause_reason"] == "coaching"
    await desk.call(IVAN, digits="1", talk=4.0)  # alice paused: the sales queue, then bob
    await follow(ws, picture, lambda: picture.queues["sales"]["answered"] == 1)
    assert picture.agents["PJSIP/1002"]["handled"] == 1
    for kind, row in desk.sim.pbx.queue_status():
        if kind == "QueueParams":
            ours = desk.runtime.wallboard.board.queue_params(row["Queue"])
            assert ours == {field: row[field] for field in ours}
            assert picture.queues[row["Queue"]]["answered"] == int(row["Completed"])
            assert picture.queues[row["Queue"]]["sl"] == float(row["ServicelevelPerf"])
    async with httpx.AsyncClient(base_url=desk.base) as client:
        polled = await client.get("/api/wallboard", headers={"Authorization": f"Bearer {token}"})
    assert polled.json()["seq"] >= picture.seq > 0
    assert {q["name"]: q["answered"] for q in polled.json()["queues"]}["sales"] == 1
    async with desk.runtime.sessionmaker() as session:
        entry = (await AuditRepository(session).page(actor="sam"))[0]
    assert (entry["action"], entry["target"]) == ("agent.queuepause", "alice")
    assert entry["details"]["after"] == {"Paused": "true", "Reason": "coaching"}
    assert entry["details"]["before"]["state"] == "available"
    await ws.close()


async def test_only_supervisors_see_the_wallboard(desk: Desk) -> None:
    ws, error = await wallboard(desk, "alice")
    assert error["type"] == "error" and error["code"] == "auth.forbidden"
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 4403


async def test_a_supervisor_barges_into_an_agents_call_audited(desk: Desk) -> None:
    call = desk.call(IVAN, digits="1", talk=60.0)
    await wait_until(lambda: desk.runtime.routing.agents["alice"].state.value == "on_call")
    async with httpx.AsyncClient(base_url=desk.base) as client:

        async def spy(who: str, agent: str = "alice", mode: str = "barge") -> httpx.Response:
            token = await desk.token(who, SUE if who == "sue" else None)
            return await client.post(
                f"/api/agents/{agent}/spy",
                json={"mode": mode},
                headers={"Authorization": f"Bearer {token}"},
            )

        assert (await spy("alice")).status_code == 403
        no_phone = await spy("sam")
        assert no_phone.status_code == 422
        assert no_phone.json()["error"]["id"] == "supervisor.no_phone"
        assert (await spy("sue", agent="bob")).status_code == 409
        barge = await spy("sue")
        assert barge.status_code == 202, barge.text
    originate = desk.sim.pbx.applications[-1]
    assert originate["Channel"] == "PJSIP/1009"
    assert originate["Application"] == "ChanSpy"
    assert originate["Data"] == "PJSIP/1001-,qBE"
    async with desk.runtime.sessionmaker() as session:
        entry = (await AuditRepository(session).page(action="agent.spy"))[0]
    assert (entry["actor"], entry["action"], entry["target"]) == ("sue", "agent.spy.barge", "alice")
    assert entry["details"]["before"] == {"state": "on_call"}
    call.cancel()
