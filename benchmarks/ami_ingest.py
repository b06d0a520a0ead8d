"""AMI ingest: real Asterisk traffic (``burst30``) through the full path, against panoramisk.

Our path: loopback TCP → ``AmiClient`` (framing, noise dropped unparsed, ordered stream)
→ ``run_bridge`` → ``CallService`` (call-state machine, domain events) →
``InProcessBus.publish``. Baseline: panoramisk 1.4's ``Manager`` reading the same bytes
from the same kind of socket and dispatching every event to a handler that does nothing
(a plain function: its fastest configuration; and an ``async def``: its usual one).

The bytes are sent by a thread with its own socket, so the sender's cost is outside the
measured event loop, identical for both sides. Each repetition of ``burst30`` gets its
own ``Uniqueid``/``Linkedid`` values, so call state really grows and shrinks.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from panoramisk import Manager
from pydantic import SecretStr

from benchmarks.common import Row, rss_mb
from cti.ami.client import AmiClient
from cti.bridge import run_bridge
from cti.bus.memory import InProcessBus
from cti.calls.service import CallService
from cti.settings import AmiSettings

CAPTURE = Path(__file__).parents[1] / "tests" / "captures" / "burst30" / "ami.raw"
CALLS_PER_REPETITION = 30
SECRET = "bench"


def recorded_body() -> bytes:
    """The recording's events after login, without the boot notice and the logoff."""
    raw = CAPTURE.read_bytes()
    frames = raw.split(b"\r\n\r\n")[1:]
    kept = [
        f for f in frames if f and not f.startswith((b"Event: FullyBooted", b"Response: Goodbye"))
    ]
    return b"\r\n\r\n".join(kept) + b"\r\n\r\n"


def repetition(body: bytes, n: int) -> bytes:
    return body.replace(b"1795403", str(2_000_000 + n).encode())


def count_events(body: bytes) -> int:
    return body.count(b"\r\n\r\nEvent: ") + body.startswith(b"Event: ")


class Sender:
    """A one-client AMI peer in its own thread: logs the client in, then streams bytes."""

    def __init__(
        self, payload: Iterable[bytes] | Callable[[], Iterable[bytes]], pace: float | None = None
    ) -> None:
        self.payload = payload
        self.pace = pace
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += conn.recv(4096)
        action = buffer.split(b"\r\n\r\n")[0].decode()
        action_id = next(
            (
                line.split(": ", 1)[1]
                for line in action.split("\r\n")
                if line.lower().startswith("actionid")
            ),
            "",
        )
        reply = f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted"
        conn.sendall(reply.encode() + b"\r\n\r\n")
        threading.Thread(target=self._drain, args=(conn,), daemon=True).start()
        start = time.perf_counter()
        payload = self.payload() if callable(self.payload) else self.payload
        for n, chunk in enumerate(payload):
            if self.pace is not None:
                delay = start + n * self.pace - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            conn.sendall(chunk)
        time.sleep(0.5)
        conn.close()
        self.sock.close()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass
        except OSError:
            return


def chunks(data: bytes, size: int = 65536) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class CountingSink:
    """Counts finished calls; can note the process's memory at one call count."""

    def __init__(self, expected: int, checkpoint: int | None = None) -> None:
        self.calls = 0
        self.done = asyncio.Event()
        self.expected = expected
        self.checkpoint = checkpoint
        self.rss_at_checkpoint = 0.0

    def submit(self, call: dict[str, Any]) -> None:
        self.calls += 1
        if self.calls == self.checkpoint:
            gc.collect()
            self.rss_at_checkpoint = rss_mb()
        if self.calls >= self.expected:
            self.done.set()


def settings(port: int) -> AmiSettings:
    return AmiSettings(port=port, secret=SecretStr(SECRET), ping_interval=3600, action_timeout=30)


async def ours(
    payload: Iterable[bytes] | Callable[[], Iterable[bytes]],
    calls: int,
    watch: list[float] | None = None,
    sink: CountingSink | None = None,
) -> tuple[float, CallService]:
    """Seconds to turn the payload into ``calls`` finished calls through the full path."""
    sender = Sender(payload, pace=None if watch is None else 0.01)
    sink = sink or CountingSink(calls)
    service = CallService(InProcessBus(), sink)
    client = AmiClient(settings(sender.port), wanted=service.handled_events, resync=False)
    await client.connect()
    started = time.perf_counter()
    bridge = asyncio.create_task(run_bridge(client, service))
    ticker = asyncio.create_task(tick(watch)) if watch is not None else None
    await asyncio.wait_for(sink.done.wait(), 600)
    elapsed = time.perf_counter() - started
    for task in (bridge, ticker):
        if task is not None:
            task.cancel()
    await client.close()
    return elapsed, service


async def tick(lags: list[float]) -> None:
    """Measure how late a 1 ms sleep wakes up: the event loop's stall."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - before - 0.001)


async def panoramisk(payload: list[bytes], events: int, *, coroutine: bool) -> float:
    """Seconds for panoramisk to parse and dispatch ``events`` events of the payload."""
    sender = Sender(payload)
    done = asyncio.Event()
    seen = 0
    started = 0.0

    def count() -> None:
        nonlocal seen
        seen += 1
        if seen >= events:
            done.set()

    def plain(_: Manager, __: object) -> None:
        count()

    async def handler(_: Manager, __: object) -> None:
        count()

    manager = Manager(
        host="127.0.0.1",
        port=sender.port,
        username="cti",
        secret=SECRET,
        ping_delay=3600,
        loop=asyncio.get_running_loop(),
    )
    manager.register_event("*", handler if coroutine else plain)

    def logged_in(_: Manager) -> None:
        nonlocal started
        started = time.perf_counter()

    manager.on_login = logged_in
    await manager.connect()
    await asyncio.wait_for(done.wait(), 600)
    elapsed = time.perf_counter() - started
    manager.close()
    return elapsed


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 10 else max(values)
    )


def run(quick: bool) -> list[Row]:
    body = recorded_body()
    per_rep = count_events(body)
    reps = 20 if quick else 80
    data = b"".join(repetition(body, n) for n in range(reps))
    payload = chunks(data)
    events = per_rep * reps
    calls = CALLS_PER_REPETITION * reps

    ours_s, _ = asyncio.run(ours(payload, calls))
    pano_plain_s = asyncio.run(panoramisk(payload, events, coroutine=False))
    pano_async_s = asyncio.run(panoramisk(payload, events, coroutine=True))
    ours_rate = events / ours_s
    plain_rate = events / pano_plain_s
    async_rate = events / pano_async_s

    seconds = 2 if quick else 5
    rate = 20_000
    slice_events = rate // 100
    paced_reps = (rate * seconds) // per_rep + 1
    frames = b"".join(repetition(body, 1000 + n) for n in range(paced_reps)).split(b"\r\n\r\n")
    slices = [
        b"\r\n\r\n".join(frames[i : i + slice_events]) + b"\r\n\r\n"
        for i in range(0, len(frames) - 1, slice_events)
    ]
    lags: list[float] = []
    asyncio.run(ours(slices, CALLS_PER_REPETITION * paced_reps, watch=lags))
    stall_p99 = percentile(lags, 0.99) * 1000

    warm_calls = 1_050
    memory_calls = 3_000 if quick else 10_000
    memory_reps = (warm_calls + memory_calls) // CALLS_PER_REPETITION

    def generated() -> Iterable[bytes]:
        for n in range(memory_reps):
            yield from chunks(repetition(body, 6000 + n))

    sink = CountingSink(memory_reps * CALLS_PER_REPETITION, checkpoint=warm_calls)
    _, service = asyncio.run(ours(generated, sink.expected, sink=sink))
    gc.collect()
    growth = rss_mb() - sink.rss_at_checkpoint
    live = len(service.tracker.calls)

    return [
        Row(
            "AMI ingest, full path (events/s)",
            "ev/s",
            "≥ panoramisk bare",
            ours_rate,
            plain_rate,
            "panoramisk, no-op handler",
            ours_rate >= plain_rate,
        ),
        Row(
            "AMI ingest vs panoramisk async handler",
            "ev/s",
            "≥ panoramisk bare",
            ours_rate,
            async_rate,
            "panoramisk, async no-op handler",
            ours_rate >= plain_rate,
        ),
        Row(
            f"event-loop stall p99 at {rate:,} ev/s",
            "ms",
            "< 10 ms",
            stall_p99,
            None,
            "",
            stall_p99 < 10,
        ),
        Row(
            f"RSS growth after {memory_calls:,} calls ({live} left live)",
            "MiB",
            "< 5 MiB",
            growth,
            None,
            "",
            growth < 5 and live == 0,
        ),
    ]
