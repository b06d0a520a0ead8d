"""Three server processes, one simulated Asterisk: kill the AMI reader mid-burst, lose no call.

Real ``cti serve`` processes share a real Redis and a real PostgreSQL. Exactly one reads
AMI's events (each also keeps a session for actions, logged in with ``Events: off``); it
is SIGKILLed while calls arrive and end; another takes over within 5 s, and
every call the simulator completed has exactly one row. Then the new reader stops
cleanly, and the third takes over at once instead of after the lease's term.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from cti.cluster.lease import lease_key
from cti.pbxsim import PbxSimulator
from cti.pbxsim.server import CallResult
from cti.store.db import create_engine, create_sessionmaker
from cti.store.migrate import upgrade
from cti.store.models import CallRecord
from tests.desk import AMI_SECRET, SECRET_KEY, free_port

pytestmark = pytest.mark.integration

SPEED = 10.0
"""Virtual seconds per real second: a call of 55 virtual seconds lasts 5.5 s."""
TTL = 3.0
METRICS_TOKEN = "metrics-token-for-tests"


class Server:
    """One ``cti serve`` process."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("cti")), "serve"],
            env={**env, "CTI_HTTP_PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=open(log, "wb"),  # noqa: SIM115
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    async def ready(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(400):
                if self.process.poll() is not None:
                    break
                try:
                    if (await client.get(f"http://127.0.0.1:{self.port}/healthz")).is_success:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        pytest.fail(f"{self.name} did not start: {self.log.read_text()[-3000:]}")

    async def owner_metric(self) -> float:
        async with httpx.AsyncClient() as client:
            reply = await client.get(
                f"http://127.0.0.1:{self.port}/metrics",
                headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            )
        reply.raise_for_status()
        line = next(x for x in reply.text.splitlines() if x.startswith("cti_ami_owner "))
        return float(line.split()[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def logged_in(sim: PbxSimulator) -> int:
    """AMI sessions reading events now (the action-only ones get none)."""
    return sum(1 for session in sim.sessions if session.logged_in and session.events)


def sessions(sim: PbxSimulator) -> set[int]:
    """The event-reading AMI sessions now, by number (a new login gets a new number)."""
    return {session.number for session in sim.sessions if session.logged_in and session.events}


def quiet(sim: PbxSimulator) -> int:
    """AMI sessions logged in with ``Events: off``, for actions only."""
    return sum(1 for session in sim.sessions if session.logged_in and not session.events)


async def until(condition: object, timeout: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@contextmanager
def servers(count: int, env: dict[str, str], folder: Path) -> Iterator[list[Server]]:
    started = [Server(f"server-{n}", env, folder / f"server-{n}.log") for n in range(count)]
    try:
        yield started
    finally:
        for server in started:
            server.stop()


class Watch:
    """Samples the simulator's event-reading AMI sessions every few milliseconds while calls run."""

    def __init__(self, sim: PbxSimulator) -> None:
        self.sim = sim
        self.most = 0
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.most = max(self.most, logged_in(self.sim))
            await asyncio.sleep(0.002)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    simulator = await PbxSimulator(secret=AMI_SECRET, speed=SPEED, seed=7).start()
    yield simulator
    await simulator.close()


async def owner_pid(redis_url: str, port: int) -> int | None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        holder = await client.get(lease_key("127.0.0.1", port))
    finally:
        await client.aclose()
    return int(holder.decode().split(":")[1]) if holder else None


async def stored(database_url: str) -> tuple[int, set[str], int]:
    """Rows in the calls table, their linkedids, and how many are of vanished calls."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = int(await session.scalar(select(func.count(CallRecord.id))) or 0)
            found = (await session.execute(select(CallRecord.linkedid, CallRecord.details))).all()
    finally:
        await engine.dispose()
    vanished = sum(1 for _, details in found if (details or {}).get("vanished"))
    return rows, {linkedid for linkedid, _ in found}, vanished


async def test_killing_the_ami_reader_mid_burst_loses_no_call(
    sim: PbxSimulator, redis_url: str, fresh_postgres_url: str, tmp_path: Path
) -> None:
    await upgrade(fresh_postgres_url)  # once, before three processes race to do it
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
        "CTI_AMI_LEASE_SECONDS": str(TTL),
        "CTI_AGI_PORT": "0",
        "CTI_LOG_FORMAT": "text",
        "CTI_REPORTS_REFRESH_INTERVAL": "0",
    }
    with servers(3, env, tmp_path) as processes:
        await asyncio.gather(*(server.ready() for server in processes))
        await until(lambda: logged_in(sim) == 1, 10, "one AMI login")
        await until(lambda: quiet(sim) == 3, 10, "an action session per process")
        await asyncio.sleep(1.0)  # every process has had a go at the lease
        assert logged_in(sim) == 1
        by_pid = {server.pid: server for server in processes}
        first = by_pid[await owner_pid(redis_url, sim.port) or -1]
        assert [await s.owner_metric() for s in processes] == [float(s is first) for s in processes]
        watch = Watch(sim)

        # A burst: a call every 0.16 s for 8 s, each 5-6.5 s long (longer than any
        # failover gap, so none starts and ends while nobody reads AMI). The owner dies
        # 5.8 s in: some calls have ended, many end during the gap, more start in it.
        rng = random.Random(1)
        calls: list[asyncio.Future[CallResult]] = []

        async def burst() -> None:
            for n in range(50):
                caller = f"+7916200{n:04d}"
                if n % 3 == 0:
                    plan = sim.plan("answered", caller=caller, hold=90, talk=rng.uniform(37, 50))
                else:
                    plan = sim.plan("abandoned", caller=caller, hold=rng.uniform(37, 50))
                calls.append(sim.place_call(plan=plan))
                await asyncio.sleep(0.16)

        placing = asyncio.create_task(burst())
        await asyncio.sleep(5.8)
        ended_before = sum(1 for call in calls if call.done())
        dead = sessions(sim)
        first.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        live_at_kill = len(calls) - ended_before
        await until(lambda: sessions(sim) - dead, 6.0, "a takeover after the kill")
        takeover = time.monotonic() - killed
        first.process.wait(5)
        await placing
        results = await asyncio.wait_for(asyncio.gather(*calls), 30)
        completed = {result.linkedid for result in results}
        assert len(completed) == 50 and "" not in completed

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows, linkedids, vanished = await stored(fresh_postgres_url)
            if linkedids >= completed:
                break
            await asyncio.sleep(0.2)
        await watch.close()
        print(
            f"\nAMI failover: takeover {takeover:.2f} s after SIGKILL (lease {TTL} s); "
            f"at the kill {ended_before} calls had ended and {live_at_kill} were live; "
            f"{len(linkedids & completed)}/{len(completed)} stored, {vanished} of them "
            "ended unseen during the takeover"
        )
        assert watch.most == 1, "never more than one process reads AMI's events"
        assert takeover < 5.0, f"takeover took {takeover:.2f} s"
        assert completed - linkedids == set(), f"calls lost: {sorted(completed - linkedids)}"
        assert rows == len(linkedids) == len(completed), "one row per call, nothing else"

        second = by_pid[await owner_pid(redis_url, sim.port) or -1]
        assert second is not first and await second.owner_metric() == 1.0
        third = next(s for s in processes if s is not first and s is not second)
        leaving = sessions(sim)
        stopping = time.monotonic()
        second.process.send_signal(signal.SIGTERM)
        await until(lambda: sessions(sim) - leaving, TTL, "a takeover after a clean stop")
        handover = time.monotonic() - stopping
        second.process.wait(10)
        print(f"AMI handover after a clean stop: {handover:.2f} s (lease {TTL} s)")
        assert handover < TTL / 2, f"the lease was not given back ({handover:.2f} s)"
        assert await owner_pid(redis_url, sim.port) == third.pid
        assert await third.owner_metric() == 1.0
