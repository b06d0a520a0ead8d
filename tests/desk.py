"""A whole server on real sockets, with the PBX simulator, for screen-pop tests.

HTTP and WebSockets through uvicorn on a free port, AMI and FastAGI against the
simulator (trunk shape, the project's dialplan), demo customers, an agent ``alice``
(``PJSIP/1001``, sales) and a supervisor ``sam``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection

from cti.app import Runtime, build_app, build_runtime
from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.demo import seed_contacts
from cti.pbxsim import PbxConfig, PbxSimulator
from cti.runner import http_server
from cti.settings import Settings
from cti.store.agents import agent_profiles, save_agent_profile

SECRET_KEY = "screen-pop-tests-" * 2
AMI_SECRET = "s3cret-for-tests"
IVAN = "+79161234567"
PASSWORDS = {"alice": "alice-password", "sam": "sam-password", "bob": "bob-password"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def desk_settings(database_url: str, redis_url: str | None = None) -> Settings:
    settings = Settings(secret_key=SecretStr(SECRET_KEY))
    settings.ami.secret = SecretStr(AMI_SECRET)
    settings.ami.reconnect_min = 0.05
    settings.database.url = database_url
    settings.redis.url = redis_url
    settings.agi.port = 0
    settings.http.port = free_port()
    return settings


@dataclass
class Desk:
    sim: PbxSimulator
    runtime: Runtime
    settings: Settings

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings.http.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.settings.http.port}/ws/agent"

    async def token(self, username: str, password: str | None = None) -> str:
        async with httpx.AsyncClient(base_url=self.base) as client:
            reply = await client.post(
                "/api/auth/login",
                json={"username": username, "password": password or PASSWORDS[username]},
            )
            reply.raise_for_status()
            token: str = reply.json()["token"]
            return token

    async def screen(self, username: str, **auth: Any) -> tuple[ClientConnection, dict[str, Any]]:
        """An authenticated socket and its ``hello``."""
        ws = await websockets.connect(self.ws_url)
        await ws.send(json.dumps({"type": "auth", "token": await self.token(username), **auth}))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "hello", hello
        return ws, hello

    def call(self, caller: str = IVAN, digits: str = "1", talk: float = 6.0) -> asyncio.Future[Any]:
        plan = self.sim.plan("answered", caller=caller, name="", digits=digits, talk=talk)
        plan.script.press_delay = 0.3
        return self.sim.place_call(plan=plan)


async def next_of(ws: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def wait_until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def add_people(runtime: Runtime) -> None:
    fast = Passwords.fast()
    sessionmaker = runtime.sessionmaker
    for username, role, interface in (
        ("alice", "agent", "PJSIP/1001"),
        ("bob", "agent", "PJSIP/1002"),
        ("sam", "supervisor", None),
    ):
        await create_user(
            sessionmaker,
            username=username,
            password=PASSWORDS[username],
            role=role,
            display_name=username.capitalize(),
            agent_interface=interface,
            passwords=fast,
        )
    await save_agent_profile(
        sessionmaker, "alice", skills={"sales": 3}, languages=[], team=None, actor="test"
    )
    await save_agent_profile(
        sessionmaker, "bob", skills={"billing": 2}, languages=[], team=None, actor="test"
    )
    runtime.routing.load_profiles(await agent_profiles(sessionmaker))


async def add_admin(runtime: Runtime) -> None:
    """An admin ``ada`` with no phone, for the console's admin-only pages."""
    await create_user(
        runtime.sessionmaker,
        username="ada",
        password=PASSWORDS["ada"],
        role="admin",
        display_name="Ada",
        agent_interface=None,
        passwords=Passwords.fast(),
    )


@asynccontextmanager
async def running_desk(
    settings: Settings, *, speed: float = 20.0, sim: PbxSimulator | None = None
) -> AsyncIterator[Desk]:
    """The server (and, unless given, a simulator) running; stopped on exit."""
    own_sim = sim is None
    if sim is None:
        config = PbxConfig.production(missing_prompts=frozenset())
        sim = await PbxSimulator(secret=AMI_SECRET, speed=speed, config=config).start()
    settings.ami.port = sim.port
    runtime = build_runtime(settings)
    server = http_server(build_app(settings, runtime), settings)
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started)
        if settings.ami.enabled:
            sim.pbx.ivr = ("127.0.0.1", runtime.agi.port)
            await seed_contacts(runtime.sessionmaker)
            await add_people(runtime)
            await wait_until(lambda: runtime.ami.state.value == "connected")
            await wait_until(lambda: runtime.routing.agents["alice"].state.value == "available")
        yield Desk(sim, runtime, settings)
    finally:
        server.should_exit = True
        await serving
        if own_sim:
            await sim.close()
