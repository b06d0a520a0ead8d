"""Wrap-ups of calls not stored yet, kept in Redis until the call's record carries them.

Agents often wrap a call up while still talking, or in the seconds between its end and
its record reaching the database. A process that does not read AMI has neither the live
call nor the record, so it keeps the wrap-up in a hash per Asterisk
(``cti:ami-wrapups:{host:port}``, ``Linkedid`` to JSON ``{"wrapup", "at"}``), and every
process sweeps that hash about once a second:

- the AMI reader puts a wrap-up on the live call it follows, so that the record carries
  it when the call ends (and the call ledger has it at once, for a successor);
- any process annotates the stored record once there is one (``CallRepository.annotate``);
- a wrap-up whose call has no record a day later is dropped, with a warning.

A wrap-up leaves the hash only if it is still the one that was applied (a
compare-and-``HDEL`` in Lua), so one written meanwhile is never lost; and the latest
wrap-up wins: one older than what the call already carries is dropped, not applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from cti.cluster.exceptions import LedgerUnavailable
from cti.cluster.ledger import LedgerKeys

log = logging.getLogger(__name__)

GIVE_UP = 24 * 3600.0
"""Seconds after which a wrap-up whose call was never stored is dropped."""

SETTLE = """
if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('hdel', KEYS[1], ARGV[1])
end
return 0
"""
"""KEYS: wrap-ups. ARGV: linkedid, the value seen. Deletes it only if still that value."""


class LocalTracker(Protocol):
    """This process's call tracker (``CallService``)."""

    def call(self, linkedid: str) -> dict[str, Any] | None: ...

    def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool: ...


class WrapupStore(Protocol):
    """The stored call records (``CallRepository``)."""

    async def get(self, linkedid: str) -> dict[str, Any] | None: ...

    async def annotate(self, linkedid: str, key: str, value: Any) -> bool: ...


@dataclass(frozen=True, slots=True)
class PendingWrapup:
    """A wrap-up waiting in Redis for its call's record."""

    linkedid: str
    wrapup: dict[str, Any]
    at: float
    """When it was posted (epoch seconds)."""
    raw: bytes
    """The value as Redis holds it, to delete it only while unchanged."""
    live: bool = False
    """Whether the reader's ledger still has the call live (so it cannot be stored yet)."""


def newer(wrapup: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
    """Whether ``wrapup`` should replace ``than``: no wrap-up yet, or a later ``at``.

    An ``at`` that cannot be read counts as older, so a readable new one wins.
    """
    if not than:
        return True
    mine, theirs = _moment(wrapup.get("at")), _moment(than.get("at"))
    if mine is None or theirs is None:
        return theirs is None and wrapup != than
    return mine > theirs


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class PendingWrapups:
    """One Asterisk's pending wrap-ups in Redis.

    Args:
        client: a Redis client (closed by its owner).
        keys: this Asterisk's keys (``LedgerKeys.of``).
        timeout: longest wait for one Redis reply, seconds.
        clock: epoch seconds, for ``at``.

    Every method raises ``LedgerUnavailable`` when Redis cannot be asked.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        keys: LedgerKeys,
        *,
        timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = keys
        self.timeout = timeout
        self.clock = clock
        self._settle = client.register_script(SETTLE)

    async def put(self, linkedid: str, wrapup: dict[str, Any], *, at: float | None = None) -> None:
        """Keep ``wrapup`` for ``linkedid``, replacing one kept before."""
        value = json.dumps(
            {"wrapup": wrapup, "at": self.clock() if at is None else at}, separators=(",", ":")
        )
        try:
            async with asyncio.timeout(self.timeout):
                await self.client.hset(self.keys.wrapups, linkedid, value)
        except (RedisError, OSError, TimeoutError) as exc:
            raise LedgerUnavailable("keep a wrap-up in", exc) from exc

    async def pending(self) -> list[PendingWrapup]:
        """Every wrap-up kept, marked ``live`` where the ledger has its call live; malformed
        ones are logged and dropped."""
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self.client.hgetall(self.keys.wrapups)
                if not raw:
                    return []
                linkedids = [_text(key) for key in raw]
                async with self.client.pipeline(transaction=False) as pipe:
                    for linkedid in linkedids:
                        pipe.hexists(self.keys.live, linkedid)
                    live = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            raise LedgerUnavailable("read the wrap-ups in", exc) from exc
        items = []
        values = [_raw(value) for value in raw.values()]
        for linkedid, value, is_live in zip(linkedids, values, live, strict=True):
            item = decode(linkedid, value, live=bool(is_live))
            if item is None:
                await self.drop(linkedid, value)
            else:
                items.append(item)
        return items

    async def settle(self, item: PendingWrapup) -> bool:
        """Take ``item`` out, unless a newer wrap-up replaced it meanwhile."""
        return await self.drop(item.linkedid, item.raw)

    async def drop(self, linkedid: str, raw: bytes) -> bool:
        """Delete ``linkedid``'s wrap-up if Redis still holds ``raw`` for it."""
        try:
            async with asyncio.timeout(self.timeout):
                return bool(await self._settle(keys=[self.keys.wrapups], args=[linkedid, raw]))
        except (RedisError, OSError, TimeoutError) as exc:
            raise LedgerUnavailable("take a wrap-up out of", exc) from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def decode(linkedid: str, value: bytes, *, live: bool = False) -> PendingWrapup | None:
    """A wrap-up as Redis holds it; ``None`` (logged) if malformed."""
    try:
        document = json.loads(value)
        wrapup, at = document["wrapup"], float(document["at"])
        if not isinstance(wrapup, dict):
            raise TypeError("the wrap-up is not an object")
    except (TypeError, ValueError, KeyError) as exc:
        log.error(
            "dropped a malformed pending wrap-up of call %s: %s",
            linkedid,
            exc,
            extra={"error_id": "cluster.wrapup_malformed", "linkedid": linkedid},
        )
        return None
    return PendingWrapup(linkedid, wrapup, at, _raw(value), live)


class WrapupSweeper:
    """Every ``every`` seconds, puts each pending wrap-up where it belongs and takes it out.

    Args:
        pending: the wrap-ups kept in Redis.
        tracker: this process's call tracker.
        store: the stored call records.
        reading: whether this process reads AMI now (then its tracker has the live calls).
        touched: told when a live call got a wrap-up (the call ledger writes it again).
        every: seconds between sweeps.
        give_up: seconds after which a wrap-up whose call has no record is dropped.
        clock: epoch seconds.
    """

    def __init__(
        self,
        pending: PendingWrapups,
        tracker: LocalTracker,
        store: WrapupStore,
        *,
        reading: Callable[[], bool] = lambda: False,
        touched: Callable[[str], None] = lambda _: None,
        every: float = 1.0,
        give_up: float = GIVE_UP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pending = pending
        self.tracker = tracker
        self.store = store
        self.reading = reading
        self.touched = touched
        self.every = every
        self.give_up = give_up
        self.clock = clock
        self.applied = 0
        """Wrap-ups put on a live call or a stored record."""
        self.given_up = 0
        """Wrap-ups dropped because their call was never stored."""
        self._task: asyncio.Task[None] | None = None
        self._away: str | None = None

    def start(self) -> None:
        """Sweep in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wrapup-sweeper")

    async def aclose(self) -> None:
        """Stop sweeping."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # a bug here must not stop later sweeps
                log.exception(
                    "pending wrap-up sweep failed", extra={"error_id": "cluster.wrapup_failed"}
                )
            await asyncio.sleep(self.every)

    async def sweep(self) -> int:
        """One pass; how many wrap-ups left the hash. Redis or the database away ends the
        pass early (logged once per outage); the rest wait for the next one."""
        try:
            items = await self.pending.pending()
            settled = 0
            for item in items:
                settled += await self._one(item)
        except LedgerUnavailable as exc:
            self._outage("Redis", exc)
            return 0
        except (SQLAlchemyError, OSError) as exc:
            self._outage("the database", exc)
            return 0
        if self._away is not None:
            log.info("pending wrap-ups are swept again (%s is back)", self._away)
            self._away = None
        return settled

    async def _one(self, item: PendingWrapup) -> int:
        if await self._apply(item):
            self.applied += 1
            return int(await self.pending.settle(item))
        if self.clock() - item.at <= self.give_up:
            return 0
        if not await self.pending.settle(item):
            return 0  # replaced by a newer one meanwhile: that one gets its own day
        self.given_up += 1
        log.warning(
            "gave up the wrap-up of call %s: no record of the call %.0f hours after it",
            item.linkedid,
            (self.clock() - item.at) / 3600,
            extra={"error_id": "cluster.wrapup_given_up", "linkedid": item.linkedid},
        )
        return 1

    async def _apply(self, item: PendingWrapup) -> bool:
        """Whether the call carries this wrap-up (or a later one) now."""
        if self.reading():
            live = self.tracker.call(item.linkedid)
            if live is not None:
                if not newer(item.wrapup, live.get("wrapup")):
                    return True
                if self.tracker.annotate_wrapup(item.linkedid, item.wrapup):
                    self.touched(item.linkedid)
                    log.info(
                        "put a pending wrap-up on live call %s",
                        item.linkedid,
                        extra={"linkedid": item.linkedid},
                    )
                    return True
        if item.live:
            return False  # still live in the reader's ledger: no record yet
        stored = await self.store.get(item.linkedid)
        if stored is None:
            return False
        if not newer(item.wrapup, stored.get("wrapup")):
            return True
        return await self.store.annotate(item.linkedid, "wrapup", item.wrapup)

    def _outage(self, what: str, exc: Exception) -> None:
        if self._away is None:
            self._away = what
            log.warning(
                "cannot sweep pending wrap-ups: %s unreachable (%s); trying again",
                what,
                type(exc.__cause__ or exc).__name__,
                extra={"error_id": "cluster.wrapups_unavailable"},
            )
