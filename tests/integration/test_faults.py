"""Faults, each over a whole running server: what a contact center notices when Asterisk
restarts, Redis goes away, the database is down for ten seconds, screens stop reading,
or SMS and email arrive in floods.

Each test runs the server as production does (uvicorn and the runtime, ``tests.desk``)
against the PBX simulator on real sockets, with real PostgreSQL and Redis; the ones whose
fault is Redis's or PostgreSQL's reach them through ``tests.relay`` and cut it. The
component-level tests of the same faults are in test_bridge, test_bus_redis, test_store,
test_screenpop, test_sms and test_mail; these check the whole: screens, records, the
wallboard and health checks together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiosmtplib
import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

import tests.desk
from cti.ami.protocol import AmiFramer, parse_message
from cti.messaging.sms import hmac_signature
from cti.pbxsim import PbxSimulator
from cti.pbxsim.server import CallResult
from cti.runner import http_server
from cti.settings import Settings
from cti.store.models import InteractionRecord, MessageRecord
from tests.desk import IVAN, Desk, desk_settings, running_desk, wait_until
from tests.relay import Relay

pytestmark = pytest.mark.integration

METRICS_TOKEN = "metrics-token-for-fault-tests"
WEBHOOK_SECRET = "sms-webhook-secret-for-fault-tests"
ALICE, BOB = "PJSIP/1001", "PJSIP/1002"


# -- the server and its users ---------------------------------------------------------------


def fault_settings(database_url: str, redis_url: str | None = None) -> Settings:
    """The desk's settings, with Prometheus's token (``/metrics`` without the database)."""
    settings = desk_settings(database_url, redis_url)
    settings.metrics_token = SecretStr(METRICS_TOKEN)
    return settings


@asynccontextmanager
async def supervisor(desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in as the supervisor ``sam``."""
    token = await desk.token("sam")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=desk.base, headers=headers, timeout=10) as client:
        yield client


async def metric(client: httpx.AsyncClient, name: str) -> float:
    """One unlabelled figure of ``/metrics``, read with Prometheus's token."""
    reply = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    reply.raise_for_status()
    for line in reply.text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


async def active(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """The live calls the server shows: (caller, stage), oldest first."""
    reply = await client.get("/api/calls/active")
    reply.raise_for_status()
    return [(call["caller_num"], call["stage"]) for call in reply.json()["calls"]]


async def records(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every stored call record, newest first."""
    reply = await client.get("/api/calls/recent", params={"limit": 200})
    reply.raise_for_status()
    calls: list[dict[str, Any]] = reply.json()["calls"]
    return calls


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until an asynchronous ``check`` holds (asked every 50 ms)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def all_recorded(client: httpx.AsyncClient, count: int, timeout: float = 10.0) -> None:
    async def stored() -> bool:
        return len(await records(client)) >= count

    await eventually(stored, timeout)


# -- calls on the simulated PBX ------------------------------------------------------------


def stranger(n: int) -> str:
    """A caller no contact has: the IVR plays them the menu."""
    return f"+7916100{n:04d}"


def menu_call(
    desk: Desk, n: int, key: str, *, talk: float, hold: float = 600.0
) -> asyncio.Future[CallResult]:
    """A stranger pressing ``key`` in the menu (2 sales, 4 billing), waiting up to ``hold``."""
    plan = desk.sim.plan("answered", caller=stranger(n), name="", digits=key, hold=hold, talk=talk)
    plan.script.press_delay = 0.3
    return desk.sim.place_call(plan=plan)


async def hang_up(sim: PbxSimulator, caller: str) -> None:
    """The caller of a live call hangs up now (its other steps run as soon as they are due)."""
    (call,) = [c for c in sim.pbx.calls.values() if c.plan.caller == caller and not c.done.fired]
    sim.sync()
    sim.pbx.caller_hangs_up(call)
    async with asyncio.timeout(10):
        while not call.done.fired:
            sim.sync()
            await asyncio.sleep(0.01)


def waiting_in_asterisk(sim: PbxSimulator) -> dict[str, int]:
    """Callers waiting per queue, as the PBX's own ``QueueStatus`` counts them."""
    return {
        row["Queue"]: int(row["Calls"])
        for kind, row in sim.pbx.queue_status()
        if kind == "QueueParams"
    }


def answered_in_asterisk(sim: PbxSimulator) -> dict[str, int]:
    """Answered calls per queue, as the PBX's own ``QueueStatus`` counts them."""
    return {
        row["Queue"]: int(row["Completed"])
        for kind, row in sim.pbx.queue_status()
        if kind == "QueueParams"
    }


# -- screens -----------------------------------------------------------------------------


class Screen:
    """A screen's socket, read in the background: every message with when it came."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[tuple[float, dict[str, Any]]] = []
        """(monotonic time of arrival, message)"""
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.received.append((time.monotonic(), json.loads(frame)))

    def stages(self, call_id: str) -> list[str]:
        """The stages of the pops shown for one call, in the order they came."""
        return [
            message["call"]["stage"]
            for _, message in self.received
            if message["type"] == "pop" and message["call"]["id"] == call_id
        ]

    async def close(self) -> None:
        await self.ws.close()
        await self._task


class Board(Screen):
    """A supervisor's wallboard socket: the picture, each update laid over it."""

    def __init__(self, ws: ClientConnection, full: dict[str, Any]) -> None:
        self.queues: dict[str, dict[str, Any]] = {q["name"]: q for q in full["queues"]}
        self.lags: list[float] = []
        """Per update, seconds from when the server made it to when it came."""
        super().__init__(ws)

    @classmethod
    async def open(cls, desk: Desk, username: str = "sam") -> Board:
        ws = await websockets.connect(desk.ws_url.replace("/ws/agent", "/ws/wallboard"))
        await ws.send(json.dumps({"type": "auth", "token": await desk.token(username)}))
        full = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert full["type"] == "wallboard" and full["full"], full
        return cls(ws, full)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                update = json.loads(frame)
                self.received.append((time.monotonic(), update))
                self.lags.append(time.time() - update["at"])
                if update["full"]:
                    self.queues = {}
                self.queues.update((q["name"], q) for q in update["queues"])

    def figures(self, field: str) -> dict[str, int]:
        return {name: int(queue[field]) for name, queue in self.queues.items()}


async def refused(ws: ClientConnection) -> tuple[int | None, dict[str, Any] | None]:
    """How the server closed a socket, and the error it said first."""
    error = None
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(8):
            async for frame in ws:
                message = json.loads(frame)
                if message["type"] == "error":
                    error = message
    return ws.close_code, error


# -- 1. Asterisk restarts ----------------------------------------------------------------


async def test_an_asterisk_restart_under_live_calls_leaves_no_ghost_and_one_record_each(
    fresh_postgres_url: str,
) -> None:
    async with running_desk(fault_settings(fresh_postgres_url)) as desk, supervisor(desk) as api:
        board = await Board.open(desk)
        before = await desk.call(IVAN, digits="1", talk=4.0)
        assert before.outcome == "answered"
        talking = desk.call(IVAN, digits="1", talk=600.0)
        await wait_until(lambda: desk.runtime.routing.agents["alice"].state.value == "on_call")
        assert (
            await api.post("/api/agents/bob/pause", json={"reason": "lunch"})
        ).status_code == 200
        queued = [menu_call(desk, n, "2", talk=5.0) for n in (1, 2)]
        await wait_until(lambda: waiting_in_asterisk(desk.sim)["sales"] == 2)
        await wait_until(lambda: board.figures("waiting")["sales"] == 2)
        assert len(await active(api)) == 3

        await desk.sim.restart(downtime=0.3)  # connections drop, live calls vanish
        assert [(await call).outcome for call in (talking, *queued)] == ["lost"] * 3
        await wait_until(lambda: desk.runtime.ami.stats.connects == 2)

        async def no_ghosts() -> bool:
            return await active(api) == []

        await eventually(no_ghosts)
        await wait_until(lambda: board.figures("waiting") == waiting_in_asterisk(desk.sim))
        assert set(board.figures("waiting").values()) == {0}
        agents = (await api.get("/api/agents")).json()
        assert {a["username"]: a["state"] for a in agents} == {
            "alice": "available",
            "bob": "available",  # a restarted Asterisk forgot the pause: the truth wins
        }

        for name in ("alice", "bob"):  # after the restart, callers wait again
            reply = await api.post(f"/api/agents/{name}/pause", json={"reason": "meeting"})
            assert reply.status_code == 200, reply.text
        after = [menu_call(desk, n, "2", talk=5.0) for n in (3, 4)]
        await wait_until(lambda: waiting_in_asterisk(desk.sim)["sales"] == 2)
        await wait_until(lambda: board.figures("waiting") == waiting_in_asterisk(desk.sim))
        assert sorted(await active(api)) == [(stranger(3), "queued"), (stranger(4), "queued")]
        for name in ("alice", "bob"):
            assert (await api.post(f"/api/agents/{name}/unpause")).status_code == 200
        finished = [await call for call in after]
        assert [call.outcome for call in finished] == ["answered", "answered"]
        await eventually(no_ghosts)
        await wait_until(lambda: board.figures("waiting")["sales"] == 0)

        await all_recorded(api, 6)
        stored = await records(api)
        assert len(stored) == 6 and len({r["linkedid"] for r in stored}) == 6
        completed = {call.linkedid: call.outcome for call in (before, *finished)}
        assert {r["linkedid"]: r["outcome"] for r in stored if r["linkedid"] in completed} == (
            completed
        )
        cut_off = [r for r in stored if r["linkedid"] not in completed]
        assert sorted(
            (r["caller_num"], r["outcome"], bool(r.get("vanished"))) for r in cut_off
        ) == [
            (stranger(1), "lost", True),  # was waiting in sales
            (stranger(2), "lost", True),
            (IVAN, "answered", True),  # was talking to alice
        ]
        await board.close()


# -- 2. Redis goes away -------------------------------------------------------------------


async def test_redis_away_from_a_single_process_then_back_without_a_restart(
    redis_url: str, fresh_postgres_url: str
) -> None:
    """What one process configured with CTI_REDIS_URL does while Redis is away, as it is.

    The AMI lease (docs/deployment.md) makes the process stop reading AMI once its term
    runs out without a renewal, even when it is the only process: calls that start and
    end after that are neither tracked nor recorded, and pops wait in the bus until Redis
    is back (local screens, too, hear only through Redis). HTTP, the database and call
    records of calls it did see carry on; when Redis is back the process takes the lease
    again on its own, adopts the live calls, and the screens get what was kept for them.
    """
    target = urlsplit(redis_url)
    relay = await Relay(target.hostname or "127.0.0.1", target.port or 6379).start()
    through = urlunsplit(target._replace(netloc=f"127.0.0.1:{relay.port}"))
    try:
        settings = fault_settings(fresh_postgres_url, through)
        async with running_desk(settings) as desk, supervisor(desk) as api:
            ownership, reader = desk.runtime.ownership, desk.runtime.reader
            assert ownership is not None and reader is not None
            alice = Screen((await desk.screen("alice"))[0])
            across = menu_call(desk, 1, "4", talk=6000.0)  # bob, billing: lasts the outage
            await wait_until(lambda: desk.runtime.routing.agents["bob"].state.value == "on_call")
            granted = ownership.timer.granted_at
            await wait_until(lambda: ownership.timer.granted_at != granted)
            await relay.cut()  # right after a renewal: the whole term (2.7 s) is left

            within = await desk.call(IVAN, digits="1", talk=3.0)
            assert within.outcome == "answered" and reader.reading
            await wait_until(lambda: not reader.reading, timeout=5)
            assert await metric(api, "cti_ami_owner") == 0
            unread = await api.get("/api/calls/active")  # nobody reads AMI, Redis says nothing
            assert unread.status_code == 503, "no live calls claimed while none can be known"
            assert unread.json()["error"]["id"] == "calls.live_unavailable"
            assert (await api.get("/healthz")).status_code == 200
            assert (await api.get("/readyz")).status_code == 200
            gap = await desk.call(IVAN, digits="1", talk=3.0)
            assert gap.outcome == "answered"
            ws = await websockets.connect(desk.ws_url)
            await ws.send(json.dumps({"type": "auth", "token": await desk.token("alice")}))
            code, error = await refused(ws)
            assert code == 1011 and error is not None and error["code"] == "unavailable"
            assert alice.stages(within.linkedid) == [], "pops wait in the bus for Redis"

            await relay.restore()
            await wait_until(lambda: reader.reading, timeout=10)
            assert await metric(api, "cti_ami_owner") == 1
            assert await metric(api, "cti_ami_takeovers_total") == 2
            await wait_until(
                lambda: alice.stages(within.linkedid) == ["ringing", "talking", "ended"]
            )

            async def adopted() -> bool:
                return await active(api) == [(stranger(1), "talking")]

            await eventually(adopted)
            after = await desk.call(IVAN, digits="1", talk=3.0)
            assert after.outcome == "answered"
            await wait_until(
                lambda: alice.stages(after.linkedid) == ["ringing", "talking", "ended"]
            )
            again, hello = await desk.screen("alice")
            assert hello["type"] == "hello"
            await again.close()
            await hang_up(desk.sim, stranger(1))
            kept = await across

            await all_recorded(api, 3)
            stored = {r["linkedid"]: r for r in await records(api)}
            assert set(stored) == {within.linkedid, after.linkedid, kept.linkedid}
            assert gap.linkedid not in stored, "nobody read AMI: the call left no record"
            whole = stored[kept.linkedid]
            assert (whole["outcome"], whole["agent"], whole.get("vanished")) == (
                "answered",
                BOB,
                None,
            )
            assert alice.stages(gap.linkedid) == []
            await alice.close()
    finally:
        await relay.restore()
        await relay.cut()


async def test_the_only_process_keeps_taking_calls_while_redis_is_away(
    redis_url: str, fresh_postgres_url: str
) -> None:
    """``CTI_AMI_LEASE=false``: the only process for its Asterisk reads AMI whatever Redis
    does. Calls are tracked and recorded through the outage; pops published meanwhile wait
    in the bus and reach the agent's screen when Redis is back (docs/deployment.md)."""
    target = urlsplit(redis_url)
    relay = await Relay(target.hostname or "127.0.0.1", target.port or 6379).start()
    through = urlunsplit(target._replace(netloc=f"127.0.0.1:{relay.port}"))
    try:
        settings = fault_settings(fresh_postgres_url, through)
        settings.ami.lease = False
        async with running_desk(settings) as desk, supervisor(desk) as api:
            assert desk.runtime.ownership is None and desk.runtime.peers is None
            alice = Screen((await desk.screen("alice"))[0])
            await relay.cut()
            during = [await desk.call(IVAN, digits="1", talk=3.0) for _ in range(2)]
            assert [c.outcome for c in during] == ["answered", "answered"]
            assert await metric(api, "cti_ami_owner") == 1
            await all_recorded(api, 2)
            assert {r["linkedid"] for r in await records(api)} == {c.linkedid for c in during}
            await relay.restore()
            for call in during:
                await wait_until(
                    lambda call=call: alice.stages(call.linkedid) == ["ringing", "talking", "ended"]
                )
            await alice.close()
    finally:
        await relay.restore()
        await relay.cut()


# -- 3. The database away for ten seconds ---------------------------------------------------


class Health:
    """A load balancer's probes: ``/healthz`` and ``/readyz`` every 100 ms, remembered."""

    def __init__(self, desk: Desk) -> None:
        self.base = desk.base
        self.answers: list[tuple[float, str, int, float]] = []
        """(monotonic time asked, path, status, seconds to answer)"""
        self._task = asyncio.create_task(self._probe())

    async def _probe(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as client:
            while True:
                for path in ("/healthz", "/readyz"):
                    asked = time.monotonic()
                    status = (await client.get(path)).status_code
                    self.answers.append((asked, path, status, time.monotonic() - asked))
                await asyncio.sleep(0.1)

    def statuses(self, path: str, start: float = 0.0, end: float = float("inf")) -> set[int]:
        return {s for at, p, s, _ in self.answers if p == path and start <= at < end}

    def slowest(self) -> float:
        return max(took for *_, took in self.answers)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def sms(sid: str, sender: str, body: str) -> tuple[bytes, dict[str, str]]:
    """A generic-format SMS webhook, signed as the provider signs it."""
    raw = json.dumps({"id": sid, "from": sender, "to": "+74950000000", "body": body}).encode()
    return raw, {
        "Content-Type": "application/json",
        "X-Callfold-Signature": hmac_signature(raw, WEBHOOK_SECRET),
    }


async def test_the_database_away_for_ten_seconds_loses_and_doubles_nothing(
    fresh_postgres_url: str,
) -> None:
    # the longest test here: ten seconds of outage, and the writer's backoff after it
    target = make_url(fresh_postgres_url)
    relay = await Relay(target.host or "127.0.0.1", target.port or 5432).start()
    proxied = target.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    settings = fault_settings(proxied)
    settings.sms.webhook_secret = SecretStr(WEBHOOK_SECRET)
    try:
        async with running_desk(settings) as desk, supervisor(desk) as api:
            alice = Screen((await desk.screen("alice"))[0])
            before = await desk.call(IVAN, digits="1", talk=4.0)
            await all_recorded(api, 1)
            ending = desk.call(IVAN, digits="1", talk=60.0)  # alice; ends during the outage
            await wait_until(lambda: desk.runtime.routing.agents["alice"].state.value == "on_call")
            health = Health(desk)
            await wait_until(lambda: health.statuses("/readyz") == {200})

            await relay.cut()
            cut_at = time.monotonic()
            during = [menu_call(desk, n, "4", talk=20.0) for n in (1, 2)]  # bob, billing
            raw, headers = sms("outage-1", IVAN, "Is my parcel on its way?")
            turned_away = await api.post("/webhooks/sms", content=raw, headers=headers)
            assert turned_away.status_code == 503, turned_away.text
            assert turned_away.json()["error"]["id"] == "storage.unavailable"
            assert turned_away.headers["Retry-After"] == "5"
            listing = await api.get("/api/calls/recent")  # the user is read from the database
            assert listing.status_code == 503, listing.text
            assert listing.json()["error"]["id"] == "storage.unavailable"
            assert listing.headers["Retry-After"] == "5"
            finished = [await ending, *[await call for call in during]]
            assert [call.outcome for call in finished] == ["answered"] * 3
            await wait_until(lambda: alice.stages(finished[0].linkedid)[-1:] == ["ended"])

            async def waiting_for_the_database() -> bool:
                return await metric(api, "cti_calls_write_pending") == 3

            await eventually(waiting_for_the_database)
            assert health.statuses("/readyz", cut_at + 0.5) == {503}
            await asyncio.sleep(cut_at + 10.0 - time.monotonic())  # the outage's own length

            await relay.restore()
            restored_at = time.monotonic()
            await wait_until(lambda: 200 in health.statuses("/readyz", restored_at))
            retried = await api.post("/webhooks/sms", content=raw, headers=headers)
            assert retried.status_code == 200 and not retried.json()["duplicate"], retried.text
            again = await api.post("/webhooks/sms", content=raw, headers=headers)
            assert again.json() == {**retried.json(), "duplicate": True}

            await all_recorded(api, 4, timeout=30)
            stored = await records(api)
            assert sorted(r["linkedid"] for r in stored) == sorted(
                call.linkedid for call in (before, *finished)
            )
            assert {r["outcome"] for r in stored} == {"answered"}
            assert await metric(api, "cti_calls_write_pending") == 0
            await health.stop()
            assert health.statuses("/healthz") == {200}
            assert health.statuses("/readyz", 0, cut_at) == {200}
            assert health.statuses("/readyz", cut_at + 0.5, restored_at) == {503}
            assert health.slowest() < 2.5
            await alice.close()
    finally:
        await relay.restore()
        await relay.cut()


# -- 4. Slow WebSocket clients ------------------------------------------------------------


class GivenUp(logging.Handler):
    """Hears the hub say it gives up on a screen that fell behind, and which one."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.wallboard = asyncio.Event()
        self.alice = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text == "closing a wallboard that reads too slowly":
            self.wallboard.set()
        elif text == "closing a screen of alice that reads too slowly":
            self.alice.set()


async def on_a_slow_link(
    desk: Desk, server: uvicorn.Server, path: str, username: str
) -> ClientConnection:
    """A screen that reads its first message, then nothing more until told.

    On loopback the kernel would hold about 4 MB per socket (``tcp_wmem``) before the
    server noticed anything, and permessage-deflate shrinks JSON tenfold: far more than a
    test's burst. So this client turns compression off and keeps a small receive buffer,
    and the server's end of just this connection gets a small send buffer, as on a slow
    link; what the server does once its sends stall is its own code, unchanged.
    """
    link = socket.socket()
    link.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    link.setblocking(False)
    await asyncio.get_running_loop().sock_connect(link, ("127.0.0.1", desk.settings.http.port))
    ws = await websockets.connect(
        f"ws://127.0.0.1:{desk.settings.http.port}{path}",
        sock=link,
        max_queue=1,
        compression=None,
    )
    await ws.send(json.dumps({"type": "auth", "token": await desk.token(username)}))
    first = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert first["type"] in ("hello", "wallboard"), first
    here = link.getsockname()
    (served,) = [c for c in server.server_state.connections if getattr(c, "client", None) == here]
    transport: asyncio.Transport = served.transport
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport.set_write_buffer_limits(high=4096)
    return ws


async def read_when(ws: ClientConnection, told: asyncio.Event) -> list[dict[str, Any]]:
    """Start reading once ``told``; everything that comes until the socket closes."""
    await told.wait()
    got: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed):
        async for frame in ws:
            got.append(json.loads(frame))
    return got


class RingClock:
    """When an agent's phone began to ring for each call, as the PBX says it (AMI)."""

    def __init__(self, sim: PbxSimulator, interface: str) -> None:
        self.prefix = f"{interface}-"
        self.rang: dict[str, float] = {}
        self._framer = AmiFramer(expect_banner=False)
        sim.listeners.append(self._hear)

    def _hear(self, data: bytes) -> None:
        for frame in self._framer.feed(data):
            event = parse_message(frame)
            if event.get("Event") == "Newchannel" and event["Channel"].startswith(self.prefix):
                self.rang.setdefault(event["Linkedid"], time.monotonic())


async def test_screens_that_stop_reading_are_closed_and_the_others_keep_up(
    fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    servers: list[uvicorn.Server] = []

    def kept(app: FastAPI, settings: Settings) -> uvicorn.Server:
        server = http_server(app, settings)
        servers.append(server)
        return server

    monkeypatch.setattr(tests.desk, "http_server", kept)
    caplog.set_level(logging.INFO, logger="screenpop.hub")
    given_up = GivenUp()
    logging.getLogger("screenpop.hub").addHandler(given_up)
    settings = fault_settings(fresh_postgres_url)
    settings.wallboard.update_interval = 0.0  # every change goes out at once: a busy board
    try:
        async with running_desk(settings, speed=200) as desk:
            hub = desk.runtime.hub
            rings = RingClock(desk.sim, ALICE)
            stuck_board = await on_a_slow_link(desk, servers[0], "/ws/wallboard", "sam")
            stuck_alice = await on_a_slow_link(desk, servers[0], "/ws/agent", "alice")
            late = [
                asyncio.create_task(read_when(stuck_board, given_up.wallboard)),
                asyncio.create_task(read_when(stuck_alice, given_up.alice)),
            ]
            board = await Board.open(desk)
            alice = Screen((await desk.screen("alice"))[0])
            assert hub.connections == 4

            calls: list[asyncio.Future[CallResult]] = []
            live: set[asyncio.Future[CallResult]] = set()
            async with asyncio.timeout(60):  # calls in a row until the server gives up on both
                while not (given_up.wallboard.is_set() and given_up.alice.is_set()):
                    while len(live) < 40:  # as many as the sales queue can take, no pile-up
                        calls.append(menu_call(desk, len(calls), "2", talk=5.0, hold=6000.0))
                        live.add(calls[-1])
                    _, live = await asyncio.wait(live, timeout=0.2, return_when="FIRST_COMPLETED")
            results = await asyncio.gather(*calls)
            (board_late, alice_late) = await asyncio.wait_for(asyncio.gather(*late), 10)

            for ws, got in ((stuck_board, board_late), (stuck_alice, alice_late)):
                assert ws.close_code == 1013 and (ws.close_reason or "").startswith("too slow")
                assert got[-1]["type"] == "error" and got[-1]["code"] == "closing"
                assert len(got) < 256, "what was queued for it was dropped, not sent late"
            assert hub.slow_closed == 2
            await wait_until(lambda: hub.connections == 2)

            answered_by_alice = [r.linkedid for r in results if r.agent == ALICE]
            assert len(answered_by_alice) > 20
            await wait_until(
                lambda: all(
                    alice.stages(call) == ["ringing", "talking", "ended"]
                    for call in answered_by_alice
                )
            )
            popped = {
                m["call"]["id"]: at
                for at, m in alice.received
                if m["type"] == "pop" and m["call"]["stage"] == "ringing"
            }
            lags = [popped[call] - rings.rang[call] for call in answered_by_alice]
            assert max(lags) < 2.0, f"pops came up to {max(lags):.2f} s after the ring"
            assert len(board.lags) > 256
            assert max(board.lags) < 2.0, f"updates came up to {max(board.lags):.2f} s late"
            await wait_until(lambda: board.figures("answered") == answered_in_asterisk(desk.sim))
            assert board.figures("waiting") == waiting_in_asterisk(desk.sim)

            fresh = await Board.open(desk)  # the one closed comes back to the current picture
            assert fresh.figures("answered") == answered_in_asterisk(desk.sim)
            for screen in (fresh, board, alice):
                await screen.close()
    finally:
        logging.getLogger("screenpop.hub").removeHandler(given_up)


# -- 5. Floods of SMS and email ----------------------------------------------------------


def email(n: int, *, body: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Customer {n % 100} <customer{n % 100}@example.org>"
    message["To"] = "support@shop.example"
    message["Subject"] = f"Order {n}"
    message["Message-ID"] = f"<flood-{n}@example.org>"
    message.set_content(body or f"Where is my order {n}?")
    return message


async def test_floods_of_sms_and_email_are_stored_once_each_and_health_holds(
    fresh_postgres_url: str,
) -> None:
    settings = fault_settings(fresh_postgres_url)
    settings.sms.webhook_secret = SecretStr(WEBHOOK_SECRET)
    settings.mail.receive = True
    settings.mail.listen_port = 0
    settings.mail.max_bytes = 100_000
    webhooks: list[tuple[str, str, bytes, dict[str, str]]] = []
    """(kind, provider id, body, headers), sent from the end"""
    for n in range(1700):  # 249 new numbers, and one known customer
        sender = IVAN if n % 250 == 0 else f"+7926{n % 250:07d}"
        webhooks.append(("new", f"flood-{n}", *sms(f"flood-{n}", sender, f"Where is order {n}?")))
    for n in range(50):
        raw, headers = sms(f"forged-{n}", "+79260000001", "Send me your money")
        forged = {**headers, "X-Callfold-Signature": "sha256=" + "0" * 64}
        webhooks.append(("forged", "", raw, forged))
        raw = json.dumps({"id": f"nofrom-{n}", "to": "+74950000000", "body": "?"}).encode()
        signature = hmac_signature(raw, WEBHOOK_SECRET)
        webhooks.append(("nofrom", "", raw, {"X-Callfold-Signature": signature}))
        raw = b"[1, 2, 3]"
        signature = hmac_signature(raw, WEBHOOK_SECRET)
        webhooks.append(("notanobject", "", raw, {"X-Callfold-Signature": signature}))
    shuffler = random.Random(7)
    shuffler.shuffle(webhooks)
    firsts = [item for item in webhooks if item[0] == "new"]
    for n, (_, sid, raw, headers) in enumerate(firsts[:150]):  # a provider sending again:
        at = webhooks.index(firsts[n]) if n < 50 else shuffler.randrange(len(webhooks))
        webhooks.insert(at, ("again", sid, raw, headers))  # next to the first, or any time
    assert len(webhooks) == 2000
    mails = [("new", email(n)) for n in range(300)]
    mails += [("again", email(n)) for n in range(0, 300, 10)]  # a lost 250, sent again
    mails += [("huge", email(1000 + n, body="x" * 150_000)) for n in range(10)]
    random.Random(8).shuffle(mails)

    async with running_desk(settings) as desk:
        assert desk.runtime.mail is not None
        port = desk.runtime.mail.port
        health = Health(desk)
        await wait_until(lambda: health.statuses("/readyz") == {200})
        answers: list[tuple[str, str, int, dict[str, Any]]] = []
        delivered: list[tuple[str, str, int]] = []

        async def provider(client: httpx.AsyncClient) -> None:
            while webhooks:
                kind, sid, raw, headers = webhooks.pop()
                for attempt in range(3):  # unanswered is unacknowledged: the provider retries
                    try:
                        reply = await client.post("/webhooks/sms", content=raw, headers=headers)
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                answers.append((kind, sid, reply.status_code, reply.json()))

        async def mail_server() -> None:
            while mails:
                kind, message = mails.pop()
                try:
                    await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
                    code = 250
                except aiosmtplib.SMTPResponseException as exc:
                    code = exc.code
                delivered.append((kind, str(message["Message-ID"]), code))

        started = time.monotonic()
        async with httpx.AsyncClient(
            base_url=desk.base, limits=httpx.Limits(max_connections=16), timeout=30
        ) as client:
            await asyncio.gather(
                *(provider(client) for _ in range(16)), *(mail_server() for _ in range(8))
            )
        took = time.monotonic() - started
        await health.stop()

        kinds = Counter((kind, status) for kind, _, status, _ in answers)
        assert kinds == {
            ("new", 200): 1700,
            ("again", 200): 150,
            ("forged", 403): 50,
            ("nofrom", 400): 50,
            ("notanobject", 400): 50,
        }, kinds
        refusals = Counter(body["error"]["id"] for _, _, status, body in answers if status != 200)
        assert refusals == {"sms.forbidden": 50, "sms.invalid": 100}
        said = {
            kind: body["error"]["message"] for kind, _, status, body in answers if status != 200
        }
        assert said == {
            "forged": "bad X-Callfold-Signature",
            "nofrom": "from: required text up to 64 characters",
            "notanobject": "the body is a JSON object",
        }
        acknowledged: dict[str, set[int]] = {}
        new = Counter[str]()
        for _, sid, status, body in answers:
            if status == 200:
                acknowledged.setdefault(sid, set()).add(body["message_id"])
                new[sid] += not body["duplicate"]
        assert len(acknowledged) == 1700 and all(len(ids) == 1 for ids in acknowledged.values())
        assert set(new.values()) == {1}, "each message is new exactly once"
        assert Counter((kind, code) for kind, _, code in delivered) == {
            ("new", 250): 300,
            ("again", 250): 30,
            ("huge", 552): 10,
        }

        async with desk.runtime.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(MessageRecord.channel, MessageRecord.provider_id, MessageRecord.id)
                )
            ).all()
            by_sender = (
                await session.execute(
                    select(MessageRecord.sender, func.count(MessageRecord.contact_id.distinct()))
                    .where(MessageRecord.channel == "sms")
                    .group_by(MessageRecord.sender)
                )
            ).all()
            refs = Counter(
                (
                    await session.scalars(
                        select(InteractionRecord.ref).where(InteractionRecord.ref.like("message:%"))
                    )
                ).all()
            )
        sms_rows = {pid: mid for channel, pid, mid in rows if channel == "sms"}
        assert len([1 for channel, *_ in rows if channel == "sms"]) == len(sms_rows) == 1700
        assert sms_rows == {sid: ids.pop() for sid, ids in acknowledged.items()}
        mail_ids = [str(pid) for channel, pid, _ in rows if channel == "email"]
        assert sorted(mail_ids) == sorted({mid for kind, mid, code in delivered if code == 250})
        assert len(mail_ids) == 300
        assert all(contacts == 1 for _, contacts in by_sender), "one contact per new number"
        assert len(by_sender) == 250
        assert all(refs[f"message:{mid}"] == 1 for *_, mid in rows), "one timeline entry each"

        assert health.statuses("/healthz") == {200} and health.statuses("/readyz") == {200}
        assert health.slowest() < 1.5, f"a health check took {health.slowest():.2f} s"
        assert took < 60, f"the floods took {took:.0f} s"
