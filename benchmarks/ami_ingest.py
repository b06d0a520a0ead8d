"""AMI ingest: real Asterisk 22 traffic through our full path, against panoramisk's own.

Our path: loopback TCP → ``AmiClient`` (byte framing, noise dropped unparsed, wanted
events parsed into one ordered queue) → ``run_bridge`` → ``CallService`` (``CallTracker``
state, domain events) → ``InProcessBus.publish``, with a writer sink that counts
finished calls. Baseline: panoramisk 1.4's ``Manager`` (its ``AMIProtocol`` decoding and
parsing every message, ``dispatch`` to a handler registered with
``register_event("*", ...)`` that does nothing).

Both sides log in to the same fake Asterisk (``benchmarks.fake_ami``), a separate
process, over a real loopback socket, and receive the same bytes in the same
message-aligned 64 KiB writes: ``tests/captures/burst30/ami.raw`` (30 calls) after its
login reply, repeated with fresh ``Uniqueid``/``Linkedid`` values per repetition. Rates
count every event in those bytes, noise included, as Asterisk sends them. The clock
starts when the client asks for the stream and stops when every event has reached the
handler or, on our side, every message is framed and every call has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panoramisk import Manager
from pydantic import SecretStr

from benchmarks.common import Row, rss_mib
from cti.ami.client import AmiClient
from cti.bridge import run_bridge
from cti.bus.memory import InProcessBus
from cti.calls.service import CallService
from cti.settings import AmiSettings

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "tests" / "captures" / "burst30" / "ami.raw"
CALLS_PER_REPETITION = 30
PACED_RATE = 20_000
"""Events per second for the event-loop stall figure."""
TICK = 0.001
PHASE_TIMEOUT = 120.0
"""A phase that has not finished by then is reported as failed, not waited for."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to run: the full run for the docs, ``quick`` for a smoke check."""

    reps: int
    rounds: int
    paced_seconds: float
    warmup_reps: int
    memory_reps: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(reps=20, rounds=1, paced_seconds=2, warmup_reps=34, memory_reps=334)
        return cls(reps=80, rounds=3, paced_seconds=5, warmup_reps=34, memory_reps=334)


class FakeAsterisk:
    """The fake Asterisk process for one connection, streaming the given phases."""

    def __init__(self, *phases: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.fake_ami", str(CAPTURE), *phases],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().split()
        if len(ready) != 3:
            self.process.kill()
            raise RuntimeError(f"benchmarks.fake_ami did not start (exit {self.process.wait()})")
        port, frames, events = ready
        self.port = int(port)
        self.frames_per_rep = int(frames)
        self.events_per_rep = int(events)

    async def __aenter__(self) -> FakeAsterisk:
        return self

    async def __aexit__(self, *_: object) -> None:
        """Wait for the process to see the client go (without blocking the loop)."""
        try:
            await asyncio.to_thread(self.process.wait, 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class CountingSink:
    """The call writer's stand-in: counts finished calls; wakes a waiter at a target."""

    def __init__(self) -> None:
        self.calls = 0
        self._target = 0
        self._reached = asyncio.Event()

    def submit(self, call: dict[str, Any]) -> None:
        self.calls += 1
        if self.calls == self._target:
            self._reached.set()

    async def until(self, calls: int) -> None:
        if self.calls < calls:
            self._target = calls
            self._reached.clear()
            await self._reached.wait()


@dataclass(slots=True)
class Checks:
    """What must hold for a figure to be honest; failures are printed and fail the row."""

    problems: list[str] = field(default_factory=list)
    _reported: int = 0

    def clean(self) -> bool:
        """No new problem since the last call."""
        new = len(self.problems) > self._reported
        self._reported = len(self.problems)
        return not new

    def expect(self, what: str, got: object, want: object) -> bool:
        if got != want:
            self.problems.append(f"{what}: got {got}, expected {want}")
            return False
        return True


class OurPath:
    """One connection through the whole server path, driven phase by phase."""

    def __init__(self, server: FakeAsterisk) -> None:
        self.server = server
        self.sink = CountingSink()
        self.bus = InProcessBus()
        self.service = CallService(self.bus, self.sink)
        self.client = AmiClient(
            AmiSettings(port=server.port, secret=SecretStr("bench"), ping_interval=3600),
            wanted=self.service.handled_events,
        )
        self.bridge: asyncio.Task[None] | None = None
        self.expected_frames = 0

    async def __aenter__(self) -> OurPath:
        await self.bus.start()
        await self.client.connect()
        self.bridge = asyncio.create_task(run_bridge(self.client, self.service))
        # The empty snapshot replies come before the Ping reply: settled after this.
        await self.client.ok("Ping")
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.bridge is not None:
            self.bridge.cancel()
        await self.client.close()
        await self.bus.close()

    async def phase(self, reps: int) -> float:
        """Stream ``reps`` repetitions; seconds until all are framed and every call ended."""
        self.expected_frames = self.client.stats.frames + 1 + reps * self.server.frames_per_rep
        calls = self.sink.calls + reps * CALLS_PER_REPETITION
        started = time.perf_counter()
        await self.client.ok("UserEvent", UserEvent="BenchStart")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sink.until(calls), PHASE_TIMEOUT)
        deadline = started + PHASE_TIMEOUT
        while self.client.stats.frames < self.expected_frames and time.perf_counter() < deadline:
            await asyncio.sleep(0.0005)
        return time.perf_counter() - started

    def check(self, checks: Checks, reps: int) -> bool:
        """Every message framed, every call ended, nothing live, nothing malformed."""
        stats = self.client.stats
        return all(
            [
                checks.expect("messages framed", stats.frames, self.expected_frames),
                checks.expect("calls ended", self.sink.calls, reps * CALLS_PER_REPETITION),
                checks.expect("live calls", len(self.service.tracker.calls), 0),
                checks.expect("malformed/oversize", stats.malformed + stats.oversize, 0),
            ]
        )

    def live_state(self) -> dict[str, int]:
        tracker = self.service.tracker
        return {
            "calls": len(tracker.calls),
            "channels": len(tracker._channel_call),
            "ring legs": len(tracker._legs),
            "abandoned marks": len(tracker._abandoned),
        }


class PanoramiskPath:
    """One connection through panoramisk's ``Manager``: parse, dispatch, no-op handler."""

    def __init__(self, server: FakeAsterisk, *, coroutine: bool) -> None:
        self.server = server
        self.coroutine = coroutine
        self.seen = 0
        self._target = 0
        self._reached = asyncio.Event()
        self.manager: Manager | None = None

    def _count(self) -> None:
        self.seen += 1
        if self.seen == self._target:
            self._reached.set()

    async def __aenter__(self) -> PanoramiskPath:
        loop = asyncio.get_running_loop()
        logged_in: asyncio.Future[None] = loop.create_future()

        async def on_event_async(manager: Manager, event: object) -> None:
            self._count()

        def on_event(manager: Manager, event: object) -> None:
            self._count()

        self.manager = Manager(
            port=self.server.port,
            username="cti",
            secret="bench",
            ping_delay=3600,
            loop=loop,
            on_login=lambda _: logged_in.set_result(None),
        )
        self.manager.register_event("*", on_event_async if self.coroutine else on_event)
        self.manager.connect()
        await asyncio.wait_for(logged_in, 10)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.manager is not None:
            self.manager.close()

    async def phase(self, reps: int) -> float:
        """Stream ``reps`` repetitions; seconds until every event reached the handler."""
        assert self.manager is not None
        self._target = self.seen + reps * self.server.events_per_rep
        self._reached.clear()
        started = time.perf_counter()
        self.manager.send_action({"Action": "UserEvent", "UserEvent": "BenchStart"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reached.wait(), PHASE_TIMEOUT)
        return time.perf_counter() - started

    def check(self, checks: Checks) -> bool:
        return checks.expect("panoramisk events handled", self.seen, self._target)


async def ours_rate(reps: int, checks: Checks) -> float:
    """AMI events per second through our full path."""
    async with FakeAsterisk(str(reps)) as server, OurPath(server) as path:
        seconds = await path.phase(reps)
        path.check(checks, reps)
    return reps * server.events_per_rep / seconds


async def panoramisk_rate(reps: int, checks: Checks, *, coroutine: bool) -> float:
    """AMI events per second through panoramisk's parse and dispatch to a no-op handler."""
    async with (
        FakeAsterisk(str(reps)) as server,
        PanoramiskPath(server, coroutine=coroutine) as path,
    ):
        seconds = await path.phase(reps)
        path.check(checks)
    return reps * server.events_per_rep / seconds


Ticks = list[tuple[float, float]]
"""Per 1 ms sleep: how late it woke up, and the CPU time this thread used meanwhile."""


async def ticker(ticks: Ticks) -> None:
    """How late a 1 ms sleep wakes up: the event loop's stall, sample by sample.

    The thread's CPU time over the same interval tells a stall caused by work in this
    loop from one caused by the machine not running the process at all.
    """
    while True:
        before = time.perf_counter()
        cpu = time.thread_time()
        await asyncio.sleep(TICK)
        ticks.append((time.perf_counter() - before - TICK, time.thread_time() - cpu))


def events_per_rep() -> int:
    from benchmarks.fake_ami import Template, recorded_frames

    return Template(recorded_frames(CAPTURE)[1]).events


@dataclass(frozen=True, slots=True)
class Stall:
    """How late 1 ms timers fired in the client's loop during a paced stream."""

    ticks: Ticks
    achieved: float
    """Events per second actually delivered."""

    @property
    def p99_ms(self) -> float:
        overshoots = [late for late, _ in self.ticks]
        return statistics.quantiles(overshoots, n=100, method="inclusive")[98] * 1000

    @property
    def max_ms(self) -> float:
        return max(self.ticks)[0] * 1000

    @property
    def max_cpu_ms(self) -> float:
        """CPU time this loop's thread used during the longest stall."""
        return max(self.ticks)[1] * 1000


async def paced_stall(seconds: float, checks: Checks, *, baseline: bool = False) -> Stall:
    """Timer overshoots while a client ingests ``PACED_RATE`` events/s.

    The client is our full path, or with ``baseline`` panoramisk with an async no-op
    handler. The ticker runs in the client's loop; the sender is another process.
    """
    reps = max(1, round(PACED_RATE * seconds / events_per_rep()))
    ticks: Ticks = []
    async with FakeAsterisk(f"{reps}@{PACED_RATE}") as server:
        path: OurPath | PanoramiskPath = (
            PanoramiskPath(server, coroutine=True) if baseline else OurPath(server)
        )
        async with path:
            tick = asyncio.create_task(ticker(ticks))
            elapsed = await path.phase(reps)
            tick.cancel()
            if isinstance(path, OurPath):
                path.check(checks, reps)
            else:
                path.check(checks)
    return Stall(ticks, reps * server.events_per_rep / elapsed)


async def idle_stall(seconds: float) -> Stall:
    """Timer overshoots of an idle loop: the floor the ticker itself can reach."""
    ticks: Ticks = []
    tick = asyncio.create_task(ticker(ticks))
    await asyncio.sleep(seconds)
    tick.cancel()
    return Stall(ticks, 0.0)


@dataclass(frozen=True, slots=True)
class Memory:
    growth_mib: float
    calls: int
    live: dict[str, int]
    ok: bool


async def memory(warmup_reps: int, reps: int, checks: Checks) -> Memory:
    """RSS growth over ``reps`` repetitions, after a warm-up and a full collection."""
    async with FakeAsterisk(str(warmup_reps), str(reps)) as server, OurPath(server) as path:
        await path.phase(warmup_reps)
        gc.collect()
        before = rss_mib()
        await path.phase(reps)
        gc.collect()
        after = rss_mib()
        ok = path.check(checks, warmup_reps + reps)
        live = path.live_state()
    ok = checks.expect("live state after the run", sum(live.values()), 0) and ok
    return Memory(after - before, reps * CALLS_PER_REPETITION, live, ok)


def run(quick: bool) -> list[Row]:
    plan = Plan.of(quick)
    checks = Checks()
    ours: list[float] = []
    coro: list[float] = []
    plain: list[float] = []
    for _ in range(plan.rounds):
        ours.append(asyncio.run(ours_rate(plan.reps, checks)))
        coro.append(asyncio.run(panoramisk_rate(plan.reps, checks, coroutine=True)))
        plain.append(asyncio.run(panoramisk_rate(plan.reps, checks, coroutine=False)))
    rate_ok = checks.clean()
    stall = asyncio.run(paced_stall(plan.paced_seconds, checks))
    stall_base = asyncio.run(paced_stall(plan.paced_seconds, checks, baseline=True))
    stall_ok = checks.clean()
    idle = asyncio.run(idle_stall(plan.paced_seconds))
    mem = asyncio.run(memory(plan.warmup_reps, plan.memory_reps, checks))
    for problem in checks.problems:
        print(f"ami_ingest: {problem}", file=sys.stderr)

    ours_rate_ = statistics.median(ours)
    coro_rate = statistics.median(coro)
    plain_rate = statistics.median(plain)
    events = plan.reps * events_per_rep()
    calls = plan.reps * CALLS_PER_REPETITION
    runs = f"median of {plan.rounds} runs" if plan.rounds > 1 else "1 run"
    pace = f"paced {PACED_RATE:,} events/s for {plan.paced_seconds:g} s"
    base = "panoramisk, async no-op handler"
    live = ", ".join(f"{value} {name}" for name, value in mem.live.items())
    return [
        Row(
            f"AMI ingest, full path: {events:,} events, {calls:,}/{calls:,} calls ended ({runs})",
            "events/s",
            "≥ panoramisk bare",
            ours_rate_,
            coro_rate,
            ours_rate_ >= coro_rate and rate_ok,
            "panoramisk 1.4, async no-op handler",
        ),
        Row(
            "AMI ingest, full path, against panoramisk's fastest dispatch",
            "events/s",
            "≥ panoramisk bare",
            ours_rate_,
            plain_rate,
            ours_rate_ >= plain_rate and rate_ok,
            "panoramisk 1.4, plain-function no-op handler",
        ),
        Row(
            f"event-loop stall p99, full path {pace} (achieved {stall.achieved:,.0f}/s; "
            f"baseline achieved {stall_base.achieved:,.0f}/s)",
            "ms",
            "< 10 ms",
            stall.p99_ms,
            stall_base.p99_ms,
            stall.p99_ms < 10 and stall_ok,
            base,
        ),
        Row(
            f"event-loop stall max, same runs (on CPU in the loop's thread during it: "
            f"ours {stall.max_cpu_ms:.1f} ms, baseline {stall_base.max_cpu_ms:.1f} ms)",
            "ms",
            "(reported)",
            stall.max_ms,
            stall_base.max_ms,
            None,
            base,
        ),
        Row(
            f"timer floor: stall p99 of the same ticker in an idle loop (max {idle.max_ms:.1f} ms)",
            "ms",
            "(reported)",
            idle.p99_ms,
            None,
            None,
        ),
        Row(
            f"RSS growth over {mem.calls:,} calls after a "
            f"{plan.warmup_reps * CALLS_PER_REPETITION:,}-call warm-up and gc.collect()",
            "MiB",
            "< 5 MiB",
            mem.growth_mib,
            None,
            mem.growth_mib < 5 and mem.ok,
        ),
        Row(
            f"tracker state left after the memory run ({live})",
            "entries",
            "0",
            sum(mem.live.values()),
            None,
            mem.ok,
        ),
    ]
