"""Wrap-ups kept in a real Redis until their call's record carries them, and their sweeper."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy.exc import OperationalError

from cti.cluster.ledger import LedgerKeys
from cti.cluster.wrapups import GIVE_UP, PendingWrapups, WrapupSweeper

pytestmark = pytest.mark.integration

KEYS = LedgerKeys.of("127.0.0.1", 5038)
CALL = "1795403632.0"
NOW = 1_795_500_000.0
FIRST = {"disposition": "sale", "notes": "", "by": "alice", "at": "2026-11-24T10:00:00+00:00"}
SECOND = {"disposition": "resolved", "notes": "", "by": "alice", "at": "2026-11-24T10:00:09+00:00"}


class Records:
    """Stored call records, as ``CallRepository`` answers for them."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}
        self.asked = 0
        self.down = False
        self.while_annotating: Callable[[], Any] | None = None

    async def get(self, linkedid: str) -> dict[str, Any] | None:
        self.asked += 1
        if self.down:
            raise OperationalError("SELECT", {}, ConnectionRefusedError())
        call = self.calls.get(linkedid)
        return dict(call) if call is not None else None

    async def annotate(self, linkedid: str, key: str, value: Any) -> bool:
        if linkedid not in self.calls:
            return False
        if self.while_annotating is not None:
            await self.while_annotating()
        self.calls[linkedid][key] = value
        return True


class Tracker:
    """This process's live calls, as ``CallService`` answers for them."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}

    def call(self, linkedid: str) -> dict[str, Any] | None:
        return self.calls.get(linkedid)

    def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool:
        if linkedid not in self.calls:
            return False
        self.calls[linkedid]["wrapup"] = wrapup
        return True


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def pending(redis: aioredis.Redis) -> PendingWrapups:
    return PendingWrapups(redis, KEYS, clock=lambda: NOW)


def sweeper(
    pending: PendingWrapups,
    records: Records,
    tracker: Tracker | None = None,
    *,
    reading: bool = False,
    touched: list[str] | None = None,
) -> WrapupSweeper:
    return WrapupSweeper(
        pending,
        tracker or Tracker(),
        records,
        reading=lambda: reading,
        touched=(touched if touched is not None else []).append,
        clock=lambda: NOW,
    )


async def kept(redis: aioredis.Redis) -> dict[str, dict[str, Any]]:
    raw = await redis.hgetall(KEYS.wrapups)
    return {key.decode(): json.loads(value)["wrapup"] for key, value in raw.items()}


async def test_a_wrapup_waits_until_the_call_is_stored_then_lands_on_its_record(
    pending: PendingWrapups, redis: aioredis.Redis
) -> None:
    records = Records()
    sweep = sweeper(pending, records)
    await pending.put(CALL, FIRST)
    assert await sweep.sweep() == 0
    assert await kept(redis) == {CALL: FIRST}, "no record yet: kept"

    records.calls[CALL] = {"linkedid": CALL, "outcome": "answered"}
    assert await sweep.sweep() == 1
    assert records.calls[CALL]["wrapup"] == FIRST
    assert await kept(redis) == {}


async def test_a_wrapup_written_while_another_is_applied_is_not_deleted(
    pending: PendingWrapups, redis: aioredis.Redis
) -> None:
    records = Records()
    records.calls[CALL] = {"linkedid": CALL}
    await pending.put(CALL, FIRST)

    async def agent_saves_again() -> None:
        records.while_annotating = None
        await pending.put(CALL, SECOND)

    records.while_annotating = agent_saves_again
    sweep = sweeper(pending, records)
    assert await sweep.sweep() == 0, "the first was applied, but the hash holds the second"
    assert await kept(redis) == {CALL: SECOND}
    assert await sweep.sweep() == 1
    assert records.calls[CALL]["wrapup"] == SECOND
    assert await kept(redis) == {}


async def test_an_older_wrapup_never_replaces_a_newer_one(
    pending: PendingWrapups, redis: aioredis.Redis
) -> None:
    records = Records()
    records.calls[CALL] = {"linkedid": CALL, "wrapup": SECOND}
    await pending.put(CALL, FIRST)
    assert await sweeper(pending, records).sweep() == 1
    assert records.calls[CALL]["wrapup"] == SECOND
    assert await kept(redis) == {}


async def test_after_a_day_without_a_record_the_wrapup_is_given_up_with_a_warning(
    pending: PendingWrapups, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await pending.put(CALL, FIRST, at=NOW - GIVE_UP - 60)
    await pending.put("1795403640.7", SECOND, at=NOW - GIVE_UP + 60)
    sweep = sweeper(pending, Records())
    with caplog.at_level(logging.WARNING, logger="cti.cluster.wrapups"):
        assert await sweep.sweep() == 1
    assert await kept(redis) == {"1795403640.7": SECOND}, "younger than a day: still kept"
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert getattr(warning, "linkedid", None) == CALL and CALL in warning.getMessage()
    assert sweep.given_up == 1 and sweep.applied == 0


async def test_the_reader_puts_the_wrapup_on_the_live_call(
    pending: PendingWrapups, redis: aioredis.Redis
) -> None:
    records, tracker, touched = Records(), Tracker(), []
    tracker.calls[CALL] = {"linkedid": CALL, "stage": "talking", "wrapup": None}
    await redis.hset(KEYS.live, CALL, json.dumps(tracker.calls[CALL]))
    await pending.put(CALL, FIRST)

    assert await sweeper(pending, records, tracker, reading=False).sweep() == 0
    assert records.asked == 0, "live in the reader's ledger: no record to look for yet"
    assert await kept(redis) == {CALL: FIRST}

    assert await sweeper(pending, records, tracker, reading=True, touched=touched).sweep() == 1
    assert tracker.calls[CALL]["wrapup"] == FIRST
    assert touched == [CALL], "the call ledger is told, for a successor"
    assert await kept(redis) == {}

    await pending.put(CALL, {**FIRST, "at": "2026-11-24T09:59:00+00:00", "notes": "older"})
    assert await sweeper(pending, records, tracker, reading=True).sweep() == 1
    assert tracker.calls[CALL]["wrapup"] == FIRST, "the later wrap-up stays"


async def test_the_database_away_keeps_every_wrapup_and_logs_once(
    pending: PendingWrapups, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    records = Records()
    records.calls[CALL] = {"linkedid": CALL}
    records.down = True
    await pending.put(CALL, FIRST)
    sweep = sweeper(pending, records)
    with caplog.at_level(logging.INFO, logger="cti.cluster.wrapups"):
        for _ in range(3):
            assert await sweep.sweep() == 0
        assert await kept(redis) == {CALL: FIRST}
        records.down = False
        assert await sweep.sweep() == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "database" in warnings[0].getMessage()
    assert records.calls[CALL]["wrapup"] == FIRST


async def test_a_malformed_entry_is_dropped(
    pending: PendingWrapups, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.hset(KEYS.wrapups, CALL, "{not json")
    await pending.put("1795403640.7", FIRST)
    assert [item.linkedid for item in await pending.pending()] == ["1795403640.7"]
    assert await kept(redis) == {"1795403640.7": FIRST}
    assert "malformed" in caplog.text
