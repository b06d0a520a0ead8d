"""The call ledger: what the AMI owner knows about calls, kept in Redis for whoever comes next.

Two hashes per Asterisk, keyed by ``Linkedid``:

``live`` (``cti:ami-live:{host:port}``)
    every call the owner is following, as ``CallTracker.export`` gives it (channels
    included). A new owner adopts them, so a call that was live when the old owner died
    keeps its history, and one that ended while nobody was reading is still recorded
    (as vanished) instead of forgotten.
``ended`` (``cti:ami-ended:{host:port}``)
    finished calls not yet committed to the database. A call goes in here, in the same
    Lua step that takes it out of ``live``, before it is handed to the call writer, and
    leaves once the database has it; a new owner stores whatever a dead owner left.

Every write checks, inside Redis, that this process still holds the AMI lease: a process
that lost it cannot overwrite its successor's ledger. Writes go out in the background,
coalesced, so the AMI bridge never waits for Redis; when Redis cannot be reached the
finished calls go to the writer anyway, since the database, not the ledger, is the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cti.ami.client import Snapshot
from cti.calls.service import CallSink
from cti.calls.tracker import CallTracker
from cti.cluster.exceptions import LedgerUnavailable
from cti.cluster.lease import KEY_PREFIX, asterisk_tag, lease_key
from cti.store.writer import PERMANENT_ERRORS, CallStore

log = logging.getLogger(__name__)

WRITE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '1' then
  redis.call('del', KEYS[2])
end
local i = 4
for _ = 1, tonumber(ARGV[3]) do
  redis.call('hset', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('hdel', KEYS[2], ARGV[i])
  i = i + 2
end
while i <= #ARGV do
  if ARGV[i + 1] == '' then
    redis.call('hdel', KEYS[2], ARGV[i])
  else
    redis.call('hset', KEYS[2], ARGV[i], ARGV[i + 1])
  end
  i = i + 2
end
return 1
"""
"""KEYS: lease, live, ended. ARGV: holder, full rewrite (1/0), number of ended calls, then
(linkedid, call) per ended call, then (linkedid, state or '' when gone) per live call."""


@dataclass(frozen=True, slots=True)
class LedgerKeys:
    """The Redis keys of one Asterisk's lease and ledger."""

    lease: str
    live: str
    ended: str
    wrapups: str
    """Wrap-ups of calls not stored yet (``cti.cluster.wrapups``)."""

    @classmethod
    def of(cls, host: str, port: int, prefix: str = KEY_PREFIX) -> LedgerKeys:
        tag = asterisk_tag(host, port)
        return cls(
            lease=lease_key(host, port, prefix),
            live=f"{prefix}ami-live:{tag}",
            ended=f"{prefix}ami-ended:{tag}",
            wrapups=f"{prefix}ami-wrapups:{tag}",
        )


@dataclass(frozen=True, slots=True)
class Recovered:
    """What a previous owner left in the ledger."""

    live: list[dict[str, Any]]
    """Calls it was following (``CallTracker.export``), to adopt."""
    ended: list[dict[str, Any]]
    """Finished calls it had not seen committed, to store if they are missing."""


class KeepingStore(Protocol):
    """A call store that can insert calls only where no row exists (``CallRepository``)."""

    async def save_many(
        self, calls: Sequence[Mapping[str, Any]], *, replace: bool = True
    ) -> None: ...


class CallLedger:
    """The owner's live and finished calls in Redis, written behind the AMI bridge.

    Args:
        url: ``redis://[:password@]host:port/db``.
        keys: this Asterisk's keys (``LedgerKeys.of``).
        holder: this process's lease holder id; writes happen only while it holds the lease.
        timeout: longest wait for one Redis reply, seconds.
        retry: seconds before writing again after Redis failed.
    """

    def __init__(
        self,
        url: str,
        keys: LedgerKeys,
        holder: str,
        *,
        timeout: float = 1.0,
        retry: float = 0.5,
    ) -> None:
        self.keys = keys
        self.holder = holder
        self.timeout = timeout
        self.retry = retry
        self.journaled = 0
        """Finished calls written to the ledger before they went to the writer."""
        self.unjournaled = 0
        """Finished calls handed to the writer without the ledger (Redis away, lease gone)."""
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._write = self._client.register_script(WRITE)
        self._tracker: CallTracker | None = None
        self._ended: list[tuple[dict[str, Any], CallSink]] = []
        self._dirty: set[str] = set()
        self._full = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._down = False

    # -- wiring ---------------------------------------------------------------------------

    def sink(self, writer: CallSink) -> CallSink:
        """Where the call service should put finished calls: the ledger, then ``writer``."""
        return _LedgerSink(self, writer)

    def journaled_store(self, store: CallStore) -> CallStore:
        """``store`` that also takes committed calls out of the ledger (for the call writer)."""
        return _ForgettingStore(self, store)

    def keeping_store(self, store: KeepingStore) -> CallStore:
        """``store`` that inserts missing calls only, then takes them out of the ledger.

        For replaying what a previous owner left: a row already stored (and maybe given a
        wrap-up since) is never replaced by an older copy.
        """
        return _ForgettingStore(self, _InsertMissing(store))

    # -- the owner's reign ----------------------------------------------------------------

    def begin(self, tracker: CallTracker) -> None:
        """Start keeping the ledger for ``tracker``'s calls (this process now owns AMI)."""
        self._tracker = tracker
        self._dirty.clear()
        self._full = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="call-ledger")
        self._wake.set()

    async def end(self, *, flush: bool) -> None:
        """Stop keeping the ledger; ``flush`` writes what is pending first (a clean stop).

        Finished calls still pending go to the writer either way.
        """
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if flush and self._tracker is not None:
            await self._flush()
        self._tracker = None
        self._dirty.clear()
        self._full = False
        ended, self._ended = self._ended, []
        self._hand_over(ended, journaled=False)

    def on_event(self, message: Mapping[str, str], _now: float) -> None:
        """A bridge watcher: the call this event belongs to has changed."""
        if self._tracker is not None:
            linkedid = message.get("Linkedid")
            if linkedid:
                self._dirty.add(linkedid)
                self._wake.set()

    def touch(self, linkedid: str) -> None:
        """A live call changed outside the AMI stream (its wrap-up): write it again."""
        if self._tracker is not None:
            self._dirty.add(linkedid)
            self._wake.set()

    def on_snapshot(self, _snapshot: Snapshot, _now: float) -> None:
        """A bridge snapshot watcher: rewrite the whole live hash from the tracker."""
        if self._tracker is not None:
            self._full = True
            self._wake.set()

    def finished(self, call: dict[str, Any], writer: CallSink) -> None:
        """A call ended: into the ledger, then to ``writer``; at once when not the owner."""
        if self._tracker is None or self._task is None or self._task.done():
            self._hand_over([(call, writer)], journaled=False)
            return
        self._ended.append((call, writer))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                written = await self._flush()
            except Exception:  # a bug here must not strand finished calls
                log.exception(
                    "call ledger write failed", extra={"error_id": "cluster.ledger_failed"}
                )
                ended, self._ended = self._ended, []
                self._hand_over(ended, journaled=False)
                written = False
            if not written:
                await asyncio.sleep(self.retry)
                self._wake.set()

    async def _flush(self) -> bool:
        """Write what changed; False if Redis failed (the live part is tried again)."""
        tracker = self._tracker
        if tracker is None:
            return True
        ended, self._ended = self._ended, []
        dirty, self._dirty = self._dirty, set()
        full, self._full = self._full, False
        journal: list[tuple[dict[str, Any], CallSink]] = []
        args: list[str | int] = [self.holder, "1" if full else "0", 0]
        for call, writer in ended:
            try:
                if not call.get("linkedid"):
                    raise ValueError("no linkedid")
                encoded = json.dumps(call, separators=(",", ":"))
            except (TypeError, ValueError) as exc:
                log.warning(
                    "call %s cannot go into the ledger: %s",
                    call.get("linkedid"),
                    exc,
                    extra={"error_id": "cluster.ledger_encode", "linkedid": call.get("linkedid")},
                )
                self._hand_over([(call, writer)], journaled=False)
                continue
            journal.append((call, writer))
            args += [str(call["linkedid"]), encoded]
        args[2] = len(journal)
        for linkedid in tracker.calls if full else dirty:
            state = tracker.export(linkedid)
            try:
                args += [linkedid, json.dumps(state, separators=(",", ":")) if state else ""]
            except (TypeError, ValueError) as exc:
                log.warning(
                    "live call %s cannot go into the ledger: %s",
                    linkedid,
                    exc,
                    extra={"error_id": "cluster.ledger_encode", "linkedid": linkedid},
                )
        try:
            async with asyncio.timeout(self.timeout):
                kept = await self._write(
                    keys=[self.keys.lease, self.keys.live, self.keys.ended], args=args
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._hand_over(journal, journaled=False)
            self._dirty |= dirty
            self._full = self._full or full
            if not self._down:
                self._down = True
                log.warning(
                    "cannot write the call ledger to Redis: %s; finished calls go straight "
                    "to the database",
                    exc,
                    extra={"error_id": LedgerUnavailable.error_id},
                )
            return False
        except BaseException:
            self._hand_over(journal, journaled=False)  # cancelled or a bug: keep every call
            raise
        if self._down:
            self._down = False
            log.info("call ledger written to Redis again")
        self._hand_over(journal, journaled=bool(kept))
        if not kept:
            log.warning(
                "call ledger not written: this process no longer holds the AMI lease",
                extra={"error_id": "cluster.ledger_fenced"},
            )
        return True

    def _hand_over(self, ended: list[tuple[dict[str, Any], CallSink]], *, journaled: bool) -> None:
        for call, writer in ended:
            writer.submit(call)
        if journaled:
            self.journaled += len(ended)
        else:
            self.unjournaled += len(ended)

    # -- a new owner's side ---------------------------------------------------------------

    async def recover(self) -> Recovered:
        """Read what the previous owner left: its live calls and its uncommitted ones.

        Raises:
            LedgerUnavailable: Redis cannot be asked.
        """
        try:
            async with asyncio.timeout(self.timeout):
                live = await self._client.hgetall(self.keys.live)
                ended = await self._client.hgetall(self.keys.ended)
        except (RedisError, OSError, TimeoutError) as exc:
            raise LedgerUnavailable("read", exc) from exc
        return Recovered(live=_decoded(live, "live"), ended=_decoded(ended, "ended"))

    async def forget(self, linkedids: Sequence[str]) -> None:
        """Take committed calls out of the ledger; on failure they stay for the next owner."""
        if not linkedids:
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self._client.hdel(self.keys.ended, *linkedids)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning(
                "stored %d calls but cannot take them out of the ledger: %s (the next "
                "owner stores them again only where missing)",
                len(linkedids),
                exc,
                extra={"error_id": LedgerUnavailable.error_id},
            )

    async def close(self) -> None:
        """Stop writing and close the connection to Redis."""
        await self.end(flush=False)
        await self._client.aclose()


def _decoded(raw: Mapping[Any, Any], what: str) -> list[dict[str, Any]]:
    """The ledger's JSON values; a malformed one is logged and skipped."""
    items = []
    for key, value in raw.items():
        try:
            item = json.loads(value)
            if not isinstance(item, dict):
                raise TypeError("not an object")
        except (TypeError, ValueError) as exc:
            log.error(
                "skipped a malformed %s entry %r in the call ledger: %s",
                what,
                key,
                exc,
                extra={"error_id": "cluster.ledger_malformed"},
            )
            continue
        items.append(item)
    return items


class _LedgerSink:
    """The call service's sink: finished calls go through the ledger to the writer."""

    def __init__(self, ledger: CallLedger, writer: CallSink) -> None:
        self.ledger = ledger
        self.writer = writer

    def submit(self, call: dict[str, Any]) -> None:
        self.ledger.finished(call, self.writer)


class _InsertMissing:
    """A ``CallStore`` that never replaces a stored call."""

    def __init__(self, store: KeepingStore) -> None:
        self.store = store

    async def save_many(self, calls: Sequence[Mapping[str, Any]]) -> None:
        await self.store.save_many(calls, replace=False)


class _ForgettingStore:
    """A ``CallStore`` that takes calls out of the ledger once the database has them."""

    def __init__(self, ledger: CallLedger, store: CallStore) -> None:
        self.ledger = ledger
        self.store = store

    async def save_many(self, calls: Sequence[Mapping[str, Any]]) -> None:
        try:
            await self.store.save_many(calls)
        except PERMANENT_ERRORS:
            if len(calls) == 1:  # refused for good, alone: the writer logs it; drop it here
                await self.ledger.forget(_linkedids(calls))
            raise
        await self.ledger.forget(_linkedids(calls))


def _linkedids(calls: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(call["linkedid"]) for call in calls if call.get("linkedid")]
