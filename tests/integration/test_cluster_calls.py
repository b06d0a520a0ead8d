"""Live calls and their wrap-ups on a process that does not read AMI, over a real Redis.

Two server runtimes share a real Redis and PostgreSQL before the simulated PBX: one reads
AMI, the other never does. A call live on the PBX shows in the other's
``GET /api/calls/active``; a wrap-up posted there while the call is live lands on the
stored record. Then the API alone over ``ClusterCalls``: a wrap-up of a call that has
ended but is not stored yet waits in Redis for its record, and Redis away answers 503.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from cti.auth.model import Role
from cti.calls.service import CallService
from cti.cluster.calls import ClusterCalls
from cti.cluster.ledger import LedgerKeys
from cti.store.repositories import CallRepository
from tests.desk import IVAN, desk_settings, running_desk
from tests.integration import test_api
from tests.integration.test_api import Api, assert_error
from tests.relay import Relay

api = test_api.api
settings = test_api.settings

pytestmark = pytest.mark.integration

KEYS = LedgerKeys.of("127.0.0.1", 5038)
ENDED = {
    "linkedid": "1795403632.0",
    "started_at": 1795403632.0,
    "ended_at": 1795403700.0,
    "stage": "ended",
    "outcome": "answered",
    "caller_num": IVAN,
    "agent": "PJSIP/1001",
    "rings": [],
    "wrapup": None,
}


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 10.0) -> Any:
    """The first true answer of ``check``, asked every 50 ms."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


async def test_a_process_that_does_not_read_ami_shows_live_calls_and_keeps_their_wrapups(
    redis_url: str, fresh_postgres_url: str
) -> None:
    async with running_desk(desk_settings(fresh_postgres_url, redis_url)) as desk:
        assert desk.runtime.peers is not None and desk.runtime.peers.reading()
        web_only = desk_settings(fresh_postgres_url, redis_url)
        web_only.ami.enabled = False
        async with running_desk(web_only, sim=desk.sim) as other:
            assert other.runtime.peers is not None and not other.runtime.peers.reading()
            assert other.runtime.service.tracker.calls == {}
            token = await other.token("alice")
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx.AsyncClient(base_url=desk.base, headers=headers) as reader,
                httpx.AsyncClient(base_url=other.base, headers=headers) as follower,
            ):
                call = desk.call(IVAN, digits="1", talk=120.0)

                async def same_call_talking() -> list[dict[str, Any]] | None:
                    theirs = (await reader.get("/api/calls/active")).json()["calls"]
                    reply = await follower.get("/api/calls/active")
                    assert reply.status_code == 200, reply.text
                    mine = reply.json()["calls"]
                    talking = [c for c in mine if c["stage"] == "talking"]
                    return mine if talking and mine == theirs else None

                shown = await eventually(same_call_talking, "the live call on the other process")
                (live,) = shown
                linkedid = live["linkedid"]
                assert (live["caller_num"], live["agent"]) == (IVAN, "PJSIP/1001")
                assert "channels" not in live and "abandoned" not in live

                # Wrapped up while still talking, through the process that does not read.
                body = {"disposition": "sale", "notes": "Delivery booked for Friday."}
                reply = await follower.post(f"/api/calls/{linkedid}/wrapup", json=body)
                assert reply.status_code == 201, reply.text
                assert reply.json()["disposition"] == "sale"

                def on_the_live_call() -> Any:
                    found = desk.runtime.service.call(linkedid)
                    return found is not None and (found["wrapup"] or {}).get("disposition")

                async def carried() -> bool:
                    return on_the_live_call() == "sale"

                await eventually(carried, "the wrap-up on the reader's live call")
                redis = aioredis.Redis.from_url(redis_url)
                try:
                    keys = LedgerKeys.of("127.0.0.1", desk.sim.port)
                    assert await redis.hgetall(keys.wrapups) == {}

                    async def in_the_ledger() -> bool:
                        raw = await redis.hget(keys.live, linkedid)
                        return (
                            raw is not None
                            and (json.loads(raw)["wrapup"] or {}).get("disposition") == "sale"
                        )

                    await eventually(in_the_ledger, "the wrap-up in the call ledger")
                finally:
                    await redis.aclose()

                result = await asyncio.wait_for(call, 30)
                assert result.outcome == "answered"

                async def stored() -> dict[str, Any] | None:
                    reply = await follower.get("/api/calls/recent")
                    found = [c for c in reply.json()["calls"] if c["linkedid"] == linkedid]
                    return found[0] if found else None

                record = await eventually(stored, "the call's record")
                assert record["wrapup"]["disposition"] == "sale"
                assert record["wrapup"]["notes"] == "Delivery booked for Friday."
                assert record["wrapup"]["by"] == "alice"
                assert (await follower.get("/api/calls/active")).json()["calls"] == []


# -- the API over ClusterCalls, this process never reading ----------------------------------


@pytest.fixture
async def ledger(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def cluster_calls(url: str, api: Api, *, every: float = 0.05) -> ClusterCalls:
    """The live calls of a process that does not read AMI, put behind ``api``."""
    calls = ClusterCalls(
        aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5),
        KEYS,
        CallService(_Nowhere(), _Nowhere()),
        CallRepository(api.sessionmaker),
        timeout=0.5,
        every=every,
    )
    api.app.state.context = dataclasses.replace(api.app.state.context, live_calls=calls)
    return calls


class _Nowhere:
    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        raise AssertionError("a process that does not read AMI publishes no call events")

    def submit(self, call: dict[str, Any]) -> None:
        raise AssertionError("a process that does not read AMI stores no calls")


async def test_the_ledgers_calls_oldest_first_without_what_only_a_successor_needs(
    api: Api, redis_url: str, ledger: aioredis.Redis
) -> None:
    calls = cluster_calls(redis_url, api)
    newer = {**ENDED, "linkedid": "1795403650.4", "started_at": 1795403650.0, "stage": "queued"}
    older = {**ENDED, "stage": "talking", "channels": {"1795403632.0": "PJSIP/trunk-01"}}
    for call in (newer, {**older, "abandoned": False}):
        await ledger.hset(KEYS.live, call["linkedid"], json.dumps(call))
    try:
        reply = await api.client.get("/api/calls/active", headers=api.auth(Role.AGENT))
        assert reply.status_code == 200, reply.text
        older.pop("channels")
        assert reply.json()["calls"] == [older, newer]
    finally:
        await calls.aclose()


async def test_a_wrapup_of_an_ended_call_not_yet_stored_lands_on_its_record(
    api: Api, redis_url: str, ledger: aioredis.Redis
) -> None:
    calls = cluster_calls(redis_url, api)
    calls.start()
    repository = CallRepository(api.sessionmaker)
    linkedid = ENDED["linkedid"]
    agent = api.auth(Role.AGENT)
    try:
        body = {"disposition": "callback", "notes": "Call back after 6 pm."}
        missing = await api.client.post("/api/calls/1795409999.1/wrapup", json=body, headers=agent)
        assert_error(missing, 404, "call.not_found")

        await ledger.hset(KEYS.ended, linkedid, json.dumps(ENDED))
        reply = await api.client.post(f"/api/calls/{linkedid}/wrapup", json=body, headers=agent)
        assert reply.status_code == 201, reply.text
        assert await repository.get(linkedid) is None
        await asyncio.sleep(0.2)
        assert await ledger.hexists(KEYS.wrapups, linkedid), "kept until the record exists"

        # The reader's call writer stores the call (without the wrap-up it never saw).
        await repository.save_many([ENDED])
        await ledger.hdel(KEYS.ended, linkedid)

        async def annotated() -> bool:
            stored = await repository.get(linkedid)
            return stored is not None and stored.get("wrapup") is not None

        await eventually(annotated, "the wrap-up on the stored record")
        stored = await repository.get(linkedid)
        assert stored is not None
        assert (stored["wrapup"]["disposition"], stored["wrapup"]["by"]) == ("callback", "agent1")
        assert not await ledger.exists(KEYS.wrapups)
        recent = await api.client.get("/api/calls/recent", headers=agent)
        assert recent.json()["calls"][0]["wrapup"]["notes"] == "Call back after 6 pm."
    finally:
        await calls.aclose()


async def test_redis_away_answers_503_and_is_logged_once(
    api: Api, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    relay = await Relay(host, int(port)).start()
    calls = cluster_calls(f"redis://127.0.0.1:{relay.port}/15", api)
    agent = api.auth(Role.AGENT)
    body = {"disposition": "sale", "notes": ""}
    try:
        assert (await api.client.get("/api/calls/active", headers=agent)).status_code == 200
        await relay.cut()
        with caplog.at_level(logging.INFO, logger="cti.cluster.calls"):
            for _ in range(3):
                reply = await api.client.get("/api/calls/active", headers=agent)
                error = assert_error(reply, 503, "calls.live_unavailable")
                assert reply.headers["Retry-After"] == "5"
                assert "6379" not in error["message"] and str(relay.port) not in error["message"]
            wrapup = await api.client.post(
                "/api/calls/1795403632.0/wrapup", json=body, headers=agent
            )
            assert_error(wrapup, 503, "calls.live_unavailable")
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1, [r.getMessage() for r in warnings]
            assert warnings[0].error_id == "cluster.live_calls_unavailable"

            await relay.restore()
            reply = await api.client.get("/api/calls/active", headers=agent)
            assert reply.status_code == 200 and reply.json()["calls"] == []
            assert "answers again" in caplog.text
    finally:
        await calls.aclose()
        await relay.cut()
