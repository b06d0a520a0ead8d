"""The call writer: finished calls go to the database in the background, and none is lost.

``submit`` only appends to an in-memory queue. One task writes what is queued in
batches; while the database is away the calls stay queued and the task retries with
a capped exponential backoff. A call the database refuses for good (malformed) is set
aside in ``rejected`` and logged, so it cannot hold back the ones behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.exc import DataError, IntegrityError

from cti.store.exceptions import InvalidCall

log = logging.getLogger(__name__)

PERMANENT_ERRORS: tuple[type[Exception], ...] = (InvalidCall, IntegrityError, DataError)
"""Errors that retrying the same record cannot cure; anything else is taken as an outage."""


class CallStore(Protocol):
    """Where the writer puts calls (``CallRepository``)."""

    async def save_many(self, calls: Sequence[Mapping[str, Any]]) -> None: ...


class CallWriter:
    """Write finished calls in the background, in order, retrying until they are stored."""

    def __init__(
        self,
        store: CallStore,
        *,
        batch_size: int = 200,
        linger: float = 0.25,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        warn_every: int = 1000,
    ) -> None:
        if batch_size < 1 or retry_min <= 0 or retry_max < retry_min:
            raise ValueError("batch_size >= 1 and 0 < retry_min <= retry_max are required")
        self.store = store
        self.batch_size = batch_size
        self.linger = linger
        """Seconds a part-filled batch waits for more calls (a ``flush`` cuts it short):
        fewer, larger writes, and less of the event loop's time spent on each call."""
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.warn_every = warn_every
        self.written = 0
        self.failures = 0
        """Consecutive failed attempts; 0 while the database is fine."""
        self.rejected: list[dict[str, Any]] = []
        self._pending: deque[dict[str, Any]] = deque()
        self._submitted = 0
        self._done = 0
        self._wake = asyncio.Event()
        self._kick = asyncio.Event()
        self._flushing = 0
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Calls submitted but not written yet."""
        return len(self._pending)

    @property
    def healthy(self) -> bool:
        """Whether the last write attempt succeeded."""
        return self.failures == 0

    async def start(self) -> None:
        """Start the background task (idempotent)."""
        if self._closed:
            raise RuntimeError("the call writer is closed")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="call-writer")

    def submit(self, call: Mapping[str, Any]) -> None:
        """Queue one finished call for writing; returns at once."""
        if self._closed:
            raise RuntimeError("the call writer is closed")
        self._pending.append(dict(call))
        self._submitted += 1
        if self.warn_every and len(self._pending) % self.warn_every == 0:
            log.warning("%d finished calls are waiting for the database", len(self._pending))
        self._wake.set()

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every call submitted so far is written (or rejected).

        Raises ``TimeoutError`` if that takes longer than ``timeout`` seconds; the calls
        stay queued.
        """
        await self.start()
        target = self._submitted
        self._flushing += 1
        self._kick.set()
        try:
            async with asyncio.timeout(timeout), self._progress:
                await self._progress.wait_for(lambda: self._done >= target)
        finally:
            self._flushing -= 1

    async def close(self, timeout: float | None = 30.0) -> list[dict[str, Any]]:
        """Write what is queued (waiting up to ``timeout`` seconds), then stop.

        Returns the calls that could not be written in time, which are also logged by
        ``linkedid``; an empty list means nothing was lost.
        """
        if self._closed:
            return list(self._pending)
        try:
            await self.flush(timeout)
        except TimeoutError:
            log.error(
                "database unavailable at shutdown: %d finished calls not written: %s",
                len(self._pending),
                ", ".join(str(c.get("linkedid")) for c in self._pending),
            )
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return list(self._pending)

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._pending) < self.batch_size and self.linger > 0 and not self._flushing:
                self._kick.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.linger):
                        await self._kick.wait()
            batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
            try:
                await self.store.save_many(batch)
            except PERMANENT_ERRORS:
                if not await self._one_by_one(batch):
                    await self._back_off()
                continue
            except Exception as exc:
                self._failed(exc, len(batch))
                await self._back_off()
                continue
            await self._written(len(batch))

    async def _one_by_one(self, batch: list[dict[str, Any]]) -> bool:
        """Write a refused batch call by call, setting aside the refused ones."""
        for call in batch:
            stored = True
            try:
                await self.store.save_many([call])
            except PERMANENT_ERRORS as exc:
                log.error(
                    "call %s cannot be stored and is set aside: %s",
                    call.get("linkedid"),
                    _short(exc),
                )
                self.rejected.append(call)
                stored = False
            except Exception as exc:
                self._failed(exc, len(batch))
                return False
            await self._written(1, stored=stored)
        return True

    async def _written(self, count: int, *, stored: bool = True) -> None:
        for _ in range(count):
            self._pending.popleft()
        if stored:
            self.written += count
        if self.failures:
            log.info("database is back; writing finished calls again")
        self.failures = 0
        self._done += count
        async with self._progress:
            self._progress.notify_all()

    def _failed(self, exc: Exception, count: int) -> None:
        self.failures += 1
        log.warning(
            "cannot write %d finished calls (attempt %d, %d queued): %s: %s",
            count,
            self.failures,
            len(self._pending),
            type(exc).__name__,
            _short(exc),
        )

    async def _back_off(self) -> None:
        """Sleep before the next attempt; a ``flush`` or ``close`` cuts the sleep short."""
        delay = min(self.retry_max, self.retry_min * 2 ** min(self.failures - 1, 30))
        self._kick.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._kick.wait()


def _short(exc: BaseException) -> object:
    """The driver's own error, without the SQL and parameters SQLAlchemy adds."""
    return getattr(exc, "orig", None) or exc
