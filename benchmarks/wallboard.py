"""Wallboard latency: from Asterisk's queue event bytes to 100 supervisors' screens.

One server process (this one: the runtime and uvicorn) reads AMI from a fake Asterisk
(``benchmarks.pop_ami`` in its ``wallboard`` mode, its own process) that places 50 calls
a second through the ``sales`` queue: each joins, rings an agent, is answered and ends,
with the queue and member events Asterisk 22 writes (seven the wallboard reads per call).
100 supervisors' wallboards (``benchmarks.wallboard_clients``, another process) hold a
WebSocket each. Every update carries ``seq``, the number of events folded into it, so
each event's latency at each screen is the time from the fake Asterisk handing its bytes
to the socket to that screen reading the first update that includes it (one clock: all
processes read ``CLOCK_MONOTONIC``). Every event is measured on every screen.

Baseline: a wallboard that polls (``/api/wallboard`` once a second), in the same run.
"""

from __future__ import annotations

import asyncio
import bisect
import statistics
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr

from benchmarks.common import Row
from benchmarks.screenpop import KEY, Lines, free_port, server_url, spawn
from cti.app import build_app, build_runtime
from cti.auth.model import Role
from cti.auth.passwords import Passwords
from cti.auth.service import create_user
from cti.auth.tokens import TokenSigner
from cti.runner import http_server
from cti.settings import Settings

RATE = 50.0
SCREENS = 100
AGENTS = 300


async def scenario(seconds: float, screens: int) -> tuple[list[float], list[float], int]:
    """Per (event, screen) latencies, the poller's per-event latencies, and misses."""
    folder = Path(tempfile.mkdtemp(prefix="cti-bench-wallboard-"))
    settings = Settings(secret_key=SecretStr(KEY))
    settings.database.url = f"sqlite+aiosqlite:///{folder / 'cti.db'}"
    settings.ami.secret = SecretStr("bench")
    settings.agi.port = 0
    settings.http.port = free_port()
    ami = await spawn(
        sys.executable,
        "-m",
        "benchmarks.pop_ami",
        str(AGENTS),
        str(RATE),
        str(seconds),
        "wallboard",
    )
    sent = Lines(ami)
    settings.ami.port = int(await sent.wait_for("", 10))
    runtime = build_runtime(settings)
    server = http_server(build_app(settings, runtime), settings)
    serving = asyncio.create_task(server.serve())
    clients: asyncio.subprocess.Process | None = None
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        boss = await create_user(
            runtime.sessionmaker,
            username="boss",
            password="benchmark-password",
            role=Role.SUPERVISOR,
            passwords=Passwords.fast(),
        )
        token = TokenSigner(settings.secret_key.get_secret_value()).issue(boss).token
        while runtime.ami.state.value != "connected":
            await asyncio.sleep(0.01)
        while runtime.wallboard.published == 0:
            await asyncio.sleep(0.01)
        clients = await spawn(
            sys.executable,
            "-m",
            "benchmarks.wallboard_clients",
            f"ws://127.0.0.1:{settings.http.port}/ws/wallboard",
            token,
            str(screens),
            f"{server_url(settings)}/api/wallboard",
        )
        boards = Lines(clients)
        await boards.wait_for("ready", 60)
        await runtime.ami.action("UserEvent", UserEvent="BenchStart")
        await sent.wait_for("done", seconds + 60)
        await asyncio.sleep(2.0)
        assert clients.stdin is not None
        clients.stdin.write(b"stop\n")
        await clients.stdin.drain()
        await boards.wait_for("bye", 30)
    finally:
        for process in (clients, ami):
            if process is not None and process.returncode is None:
                process.terminate()
                await process.wait()
        server.should_exit = True
        await serving
    events = sent.marks("sent")
    sent_at = [events[str(n)] for n in range(1, len(events) + 1)]
    per_screen: dict[str, tuple[list[int], list[float]]] = {}
    polled: tuple[list[int], list[float]] = ([], [])
    for line in boards.lines:
        kind, *rest = line.split()
        if kind == "got":
            seqs, times = per_screen.setdefault(rest[0], ([], []))
            seqs.append(int(rest[1]))
            times.append(float(rest[2]))
        elif kind == "poll":
            polled[0].append(int(rest[0]))
            polled[1].append(float(rest[1]))
    latencies: list[float] = []
    missed = 0
    for seqs, times in per_screen.values():
        for n, at in enumerate(sent_at, start=1):
            i = bisect.bisect_left(seqs, n)
            if i == len(seqs):
                missed += 1
            else:
                latencies.append(times[i] - at)
    missed += (screens - len(per_screen)) * len(sent_at)
    poll_latencies = []
    for n, at in enumerate(sent_at, start=1):
        i = bisect.bisect_left(polled[0], n)
        if i < len(polled[0]):
            poll_latencies.append(polled[1][i] - at)
    return latencies, poll_latencies, missed


def run(quick: bool) -> list[Row]:
    seconds, screens = (5.0, 50) if quick else (20.0, SCREENS)
    latencies, polled, missed = asyncio.run(scenario(seconds, screens))

    def ms(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000

    load = f"{screens} supervisors, {RATE:.0f} calls/s for {seconds:.0f} s"
    p99 = ms(latencies, 99)
    return [
        Row(
            name=f"Wallboard update latency p50, {load}",
            unit="ms",
            target="",
            measured=ms(latencies, 50),
            baseline=ms(polled, 50),
            baseline_name="polling /api/wallboard every second",
            passed=None,
        ),
        Row(
            name=f"Wallboard update latency p99, {load} "
            f"({len(latencies):,} event-screen pairs, {missed} missed)",
            unit="ms",
            target="≤ 100 ms",
            measured=p99,
            baseline=ms(polled, 99),
            baseline_name="polling /api/wallboard every second",
            passed=p99 <= 100 and missed == 0,
        ),
    ]
