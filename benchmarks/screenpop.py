"""Screen-pop latency: from Asterisk's ``AgentCalled`` bytes to the agent's WebSocket.

One server process (this one: the runtime and uvicorn) reads AMI from a fake Asterisk
(``benchmarks.pop_ami``, its own process) that places 20 calls a second, each ringing
one of 1,000 agents, while 1,000 agent screens (``benchmarks.pop_clients``, another
process) hold a WebSocket each. Latency is the time from the fake Asterisk handing the
``AgentCalled`` bytes to its socket to the screen reading the pop (one clock: both
processes read ``CLOCK_MONOTONIC``). Every pop is measured; each carries the caller's
dossier. Then the same through Redis: the screens held by a second server process
(``cti serve`` with ``CTI_AMI_ENABLED=false``), pops travelling over Redis.

Baseline: what an integration without push does, asking ``/api/calls/active`` once a
second, measured in the same run for the same calls.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from pydantic import SecretStr

from benchmarks.common import Row
from cti.app import build_app, build_runtime
from cti.auth.model import Role
from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.auth.tokens import TokenSigner
from cti.demo import seed_contacts
from cti.routing.board import AgentProfile
from cti.runner import http_server
from cti.settings import Settings

RATE = 20.0
REDIS_URL = os.environ.get("CTI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
KEY = "screen-pop-benchmark-key-" * 2


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    polled: list[float] = field(default_factory=list)
    connections: int = 0
    kib_per_connection: float = 0.0
    missed: int = 0


class Lines:
    """A subprocess's stdout, line by line, kept as it arrives."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().strip())
            self._new.set()

    async def wait_for(self, prefix: str, timeout: float) -> str:
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                self._new.clear()
                await self._new.wait()

    def marks(self, kind: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for line in self.lines:
            name, _, rest = line.partition(" ")
            if name == kind:
                key, _, moment = rest.partition(" ")
                found.setdefault(key, float(moment))
        return found


async def spawn(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def scenario(agents: int, seconds: float, *, through_redis: bool) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix="cti-bench-pops-"))
    settings = Settings(secret_key=SecretStr(KEY))
    settings.database.url = f"sqlite+aiosqlite:///{folder / 'cti.db'}"
    settings.ami.secret = SecretStr("bench")
    settings.agi.port = 0
    settings.http.port = free_port()
    if through_redis:
        redis.Redis.from_url(REDIS_URL).flushdb()
        settings.redis.url = REDIS_URL
    ami = await spawn(
        sys.executable, "-m", "benchmarks.pop_ami", str(agents), str(RATE), str(seconds)
    )
    sent = Lines(ami)
    settings.ami.port = int(await sent.wait_for("", 10))
    runtime = build_runtime(settings)
    server = http_server(build_app(settings, runtime), settings)
    serving = asyncio.create_task(server.serve())
    others: list[asyncio.subprocess.Process] = []
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        await seed_contacts(runtime.sessionmaker)
        tokens, poller = await people(runtime, settings, agents)
        runtime.routing.load_profiles(
            [
                AgentProfile(f"agent{n:04d}", f"PJSIP/{2000 + n}", {"sales": 1})
                for n in range(agents)
            ]
        )
        while runtime.ami.state.value != "connected":
            await asyncio.sleep(0.01)
        port = settings.http.port
        holder = psutil.Process()
        if through_redis:
            port = free_port()
            env = {
                **os.environ,
                "CTI_SECRET_KEY": KEY,
                "CTI_DATABASE_URL": settings.database.url,
                "CTI_REDIS_URL": REDIS_URL,
                "CTI_AMI_ENABLED": "false",
                "CTI_AGI_PORT": "0",
                "CTI_HTTP_PORT": str(port),
                "CTI_LOG_LEVEL": "WARNING",
            }
            other = await spawn(str(Path(sys.executable).with_name("cti")), "serve", env=env)
            others.append(other)
            holder = psutil.Process(other.pid)
            await wait_listening(port)
        token_file = folder / "tokens.json"
        token_file.write_text(json.dumps(tokens))
        before = holder.memory_info().rss
        poll = [] if through_redis else [f"{server_url(settings)}/api/calls/active", poller]
        clients = await spawn(
            sys.executable,
            "-m",
            "benchmarks.pop_clients",
            f"ws://127.0.0.1:{port}/ws/agent",
            str(token_file),
            *poll,
        )
        others.append(clients)
        screens = Lines(clients)
        ready = await screens.wait_for("ready", 120)
        after = holder.memory_info().rss
        await runtime.ami.action("UserEvent", UserEvent="BenchStart")
        await sent.wait_for("done", seconds + 60)
        await asyncio.sleep(2.0)
        assert clients.stdin is not None
        clients.stdin.write(b"stop\n")
        await clients.stdin.drain()
        await screens.wait_for("bye", 30)
        outcome = Outcome(connections=int(ready.split()[1]))
        outcome.kib_per_connection = (after - before) / 1024 / max(1, outcome.connections)
        times, got, polled = sent.marks("sent"), screens.marks("got"), screens.marks("poll")
        outcome.latencies = [got[k] - t for k, t in times.items() if k in got]
        outcome.polled = [polled[k] - t for k, t in times.items() if k in polled]
        outcome.missed = sum(1 for k in times if k not in got)
        return outcome
    finally:
        for process in [*others, ami]:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        server.should_exit = True
        await serving


def server_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.http.port}"


async def wait_listening(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("the second server process did not start")


async def people(runtime: object, settings: Settings, agents: int) -> tuple[list[str], str]:
    """Agent accounts with phones ``PJSIP/2000``…; their tokens, and a supervisor's."""
    from cti.app import Runtime

    assert isinstance(runtime, Runtime)
    signer = TokenSigner(settings.secret_key.get_secret_value())
    fast = Passwords.fast()
    tokens = []
    for n in range(agents):
        user = await create_user(
            runtime.sessionmaker,
            username=f"agent{n:04d}",
            password="benchmark-password",
            role=Role.AGENT,
            agent_interface=f"PJSIP/{2000 + n}",
            passwords=fast,
        )
        tokens.append(signer.issue(user).token)
    boss = await create_user(
        runtime.sessionmaker,
        username="boss",
        password="benchmark-password",
        role=Role.SUPERVISOR,
        passwords=fast,
    )
    return tokens, signer.issue(boss).token


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def run(quick: bool) -> list[Row]:
    agents, seconds = (200, 5.0) if quick else (1000, 20.0)
    local = asyncio.run(scenario(agents, seconds, through_redis=False))
    shared = asyncio.run(scenario(agents, seconds, through_redis=True))
    load = f"{agents:,} agents connected, {RATE:.0f} calls/s"
    polled = "polling /api/calls/active every second"

    def latency(name: str, q: int, target: float, run: Outcome, baseline: bool) -> Row:
        measured = percentile(run.latencies, q)
        return Row(
            name=name,
            unit="ms",
            target=f"≤ {target:g} ms",
            measured=measured,
            baseline=percentile(run.polled, q) if baseline else None,
            baseline_name=polled if baseline else "",
            passed=measured <= target and run.missed == 0,
        )

    return [
        latency(
            f"Pop latency p50, one process, {load} ({len(local.latencies):,} pops)",
            50,
            5.0,
            local,
            baseline=True,
        ),
        latency(f"Pop latency p99, one process, {load}", 99, 25.0, local, baseline=True),
        latency(
            f"Pop latency p99 through Redis, two processes, {load} "
            f"({len(shared.latencies):,} pops, {local.missed + shared.missed} missed in both runs)",
            99,
            40.0,
            shared,
            baseline=False,
        ),
        Row(
            name="WebSocket connections held by one process (each authenticated, with hello)",
            unit="",
            target="",
            measured=local.connections,
            baseline=None,
            passed=None,
        ),
        Row(
            name="Memory per connection (resident, server process)",
            unit="KiB",
            target="",
            measured=local.kib_per_connection,
            baseline=None,
            passed=None,
        ),
    ]
