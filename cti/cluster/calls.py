"""Live calls wherever a request lands: the reader's own tracker, or its call ledger in Redis.

Only the process reading AMI follows calls. While this process reads, the API's live calls
are its tracker's, as with one process. Otherwise they are the ledger the reader keeps in
Redis (``cti.cluster.ledger``): its live calls for ``GET /api/calls/active``, and for a
wrap-up also the ended ones not stored yet. A wrap-up of a call without a record is kept
in Redis (``cti.cluster.wrapups``) until the reader puts it on the live call or the
record is stored. Redis away on a process that does not read: ``LiveCallsUnavailable``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cti.cluster.exceptions import LedgerUnavailable, LiveCallsUnavailable
from cti.cluster.ledger import LedgerKeys
from cti.cluster.wrapups import (
    LocalTracker,
    PendingWrapups,
    WrapupStore,
    WrapupSweeper,
    decode,
    newer,
)
from cti.settings import Settings

log = logging.getLogger(__name__)

LEDGER_ONLY = ("channels", "abandoned")
"""What ``CallTracker.export`` adds to ``Call.to_dict`` for a successor, not for the API."""


class Tracker(LocalTracker, Protocol):
    """This process's call tracker (``CallService``), with its live calls."""

    def active(self) -> list[dict[str, Any]]: ...


class ClusterCalls:
    """The API's live calls (``cti.api.context.LiveCalls``) in one of several processes.

    Args:
        client: a Redis client, closed by ``aclose``.
        keys: this Asterisk's ledger keys (``LedgerKeys.of``).
        tracker: this process's call tracker.
        store: the stored call records, for the wrap-ups kept meanwhile.
        reading: whether this process reads AMI now.
        touched: told when a live call got a wrap-up (the call ledger writes it again).
        timeout: longest wait for one Redis reply, seconds.
        every: seconds between sweeps of the pending wrap-ups.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        keys: LedgerKeys,
        tracker: Tracker,
        store: WrapupStore,
        *,
        reading: Callable[[], bool] = lambda: False,
        touched: Callable[[str], None] = lambda _: None,
        timeout: float = 1.0,
        every: float = 1.0,
    ) -> None:
        self.client = client
        self.keys = keys
        self.tracker = tracker
        self.reading = reading
        self.touched = touched
        self.timeout = timeout
        self.pending = PendingWrapups(client, keys, timeout=timeout)
        self.sweeper = WrapupSweeper(
            self.pending, tracker, store, reading=reading, touched=touched, every=every
        )
        self._down = False

    def start(self) -> None:
        """Start sweeping the pending wrap-ups."""
        self.sweeper.start()

    async def aclose(self) -> None:
        """Stop sweeping and close the connection to Redis."""
        await self.sweeper.aclose()
        await self.client.aclose()

    async def active(self) -> list[dict[str, Any]]:
        """Calls in progress, oldest first.

        Raises:
            LiveCallsUnavailable: this process does not read AMI and Redis cannot be asked.
        """
        if self.reading():
            return self.tracker.active()
        live, pending = await self._read("hgetall", (), self.keys.live, self.keys.wrapups)
        calls = []
        for linkedid, value in live.items():
            call = self._view(value, pending.get(linkedid))
            if call is not None:
                calls.append(call)
        calls.sort(key=_started_at)
        return calls

    async def call(self, linkedid: str) -> dict[str, Any] | None:
        """A call in progress, or ended but not stored yet; ``None`` otherwise.

        Raises:
            LiveCallsUnavailable: this process does not read AMI and Redis cannot be asked.
        """
        if self.reading():
            found = self.tracker.call(linkedid)
            if found is not None:
                return found
            try:  # ended a moment ago, its record on its way to the database
                ended, pending = await self._read(
                    "hget", (linkedid,), self.keys.ended, self.keys.wrapups
                )
            except LiveCallsUnavailable:
                return None  # the database has the rest
            return self._view(ended, pending)
        live, ended, pending = await self._read(
            "hget", (linkedid,), self.keys.live, self.keys.ended, self.keys.wrapups
        )
        return self._view(live if live is not None else ended, pending)

    async def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool:
        """Put ``wrapup`` on the live call, or keep it in Redis until the call's record has
        it; False if neither could be done (then only a stored record can take it)."""
        if self.reading() and self.tracker.annotate_wrapup(linkedid, wrapup):
            self.touched(linkedid)
            return True
        try:
            await self.pending.put(linkedid, wrapup)
        except LedgerUnavailable as exc:
            self._failed(exc)
            return False
        self._answered()
        return True

    async def _read(self, command: str, args: tuple[str, ...], *keys: str) -> list[Any]:
        """``command`` on each key in one round trip."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self.client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        getattr(pipe, command)(key, *args)
                    replies: list[Any] = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            error = LiveCallsUnavailable("read", exc)
            self._failed(error)
            raise error from exc
        self._answered()
        if command == "hgetall":
            return [{_text(k): v for k, v in reply.items()} for reply in replies]
        return replies

    def _view(self, value: bytes | None, pending: bytes | None) -> dict[str, Any] | None:
        """A ledger entry as the API shows a call, with a wrap-up kept meanwhile on it."""
        if value is None:
            return None
        try:
            call = json.loads(value)
            if not isinstance(call, dict) or not call.get("linkedid"):
                raise TypeError("not a call")
        except (TypeError, ValueError) as exc:
            log.warning(
                "skipped a malformed call in the call ledger: %s",
                exc,
                extra={"error_id": "cluster.ledger_malformed"},
            )
            return None
        for key in LEDGER_ONLY:
            call.pop(key, None)
        kept = decode(str(call["linkedid"]), pending) if pending is not None else None
        if kept is not None and newer(kept.wrapup, call.get("wrapup")):
            call["wrapup"] = kept.wrapup
        return call

    def _failed(self, exc: LedgerUnavailable) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "%s; where this process does not read AMI, live calls answer 503 until "
                "Redis is back",
                exc,
                extra={"error_id": exc.error_id},
            )

    def _answered(self) -> None:
        if self._down:
            self._down = False
            log.info("the call ledger in Redis answers again")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _started_at(call: Mapping[str, Any]) -> float:
    try:
        return float(call.get("started_at") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def cluster_calls(
    settings: Settings,
    tracker: Tracker,
    store: WrapupStore,
    *,
    reading: Callable[[], bool],
    touched: Callable[[str], None] | None = None,
) -> ClusterCalls:
    """The live calls of one of several processes sharing ``settings.redis.url``."""
    ami = settings.ami
    assert settings.redis.url is not None
    timeout = min(1.0, ami.lease_seconds / 3)
    client = aioredis.Redis.from_url(
        settings.redis.url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    return ClusterCalls(
        client,
        LedgerKeys.of(ami.host, ami.port),
        tracker,
        store,
        reading=reading,
        touched=touched or (lambda _: None),
        timeout=timeout,
    )
