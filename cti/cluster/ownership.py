"""AMI ownership: read an Asterisk's AMI only while holding its lease, and take over when free.

Every process runs one ``AmiOwnership``. It tries to take the lease every
``lease_retry_seconds``; the one that gets it draws the next term number (which tags what
it relays to the other processes, ``cti.cluster.replica``), adopts the calls its
predecessor left in the ledger, stores the finished calls its predecessor had not seen
committed, and starts reading (the AMI client logs in and reads live channels and queues
back, which settles the adopted calls). It renews every third of the term. When a
renewal is refused, or the term runs out without one getting through (Redis away or
slow), it stops reading at once: by the term's end as this process counts it, which is
before Redis can give the lease to anyone else (see ``cti.cluster.lease``). Then it goes
back to trying.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from cti.bridge import AmiReader
from cti.calls.service import CallService
from cti.cluster.exceptions import LeaseLost, LeaseUnavailable, LedgerUnavailable
from cti.cluster.lease import LeaseTimer, RedisLease, holder_id
from cti.cluster.ledger import CallLedger, KeepingStore, LedgerKeys
from cti.settings import Settings
from cti.store.writer import CallWriter

log = logging.getLogger(__name__)


class AmiOwnership:
    """Start and stop this process's AMI reader as it wins and loses the AMI lease.

    Args:
        lease: this Asterisk's lease, under this process's holder id.
        reader: the AMI client, bridge and wallboard publisher, started only while owner.
        service: the call service, whose live calls are handed over through ``ledger``.
        ledger: the owner's live and uncommitted calls in Redis.
        replayer: a call writer over ``ledger.keeping_store``: stores the finished calls
            a previous owner left, where they are missing.
        ttl: the lease's term, seconds.
        retry: seconds between attempts to take the lease (and to renew after a failure).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        lease: RedisLease,
        reader: AmiReader,
        service: CallService,
        ledger: CallLedger,
        replayer: CallWriter,
        *,
        ttl: float,
        retry: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.reader = reader
        self.service = service
        self.ledger = ledger
        self.replayer = replayer
        self.retry = retry
        self.clock = clock
        self.timer = LeaseTimer(ttl, margin=ttl / 10)
        self.owner = False
        """Whether this process holds the lease and reads AMI."""
        self.term = 0
        """The number of this process's current or last term as the owner (0: never owned)."""
        self.takeovers = 0
        """How many times this process took the lease."""
        self.losses = 0
        """How many times it lost the lease without giving it back."""
        reader.held = self.held
        reader.watchers.append(ledger.on_event)
        reader.snapshot_watchers.append(ledger.on_snapshot)
        self._task: asyncio.Task[None] | None = None
        self._unreachable = False

    @property
    def holder(self) -> str:
        """This process's id in the lease."""
        return self.lease.holder

    def held(self) -> bool:
        """Whether this process may act as the owner right now (the bridge asks per event)."""
        return self.owner and self.timer.held(self.clock())

    async def start(self) -> None:
        """Start contending for the lease in the background."""
        await self.replayer.start()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ami-ownership")

    async def stop(self) -> None:
        """Stop contending; as owner, stop reading, write the ledger, and give the lease back.

        The lease is released at once, so another process takes over within
        ``lease_retry_seconds`` instead of waiting for the term to run out.
        """
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not self.owner:
            return
        self.owner = False
        self.timer.revoke()
        await self.reader.stop(logoff=True)
        await self.ledger.end(flush=True)
        await self._give_back()
        log.info("stopped reading AMI and gave the lease back", extra={"holder": self.holder})
        self.service.restart_tracking()

    async def aclose(self) -> None:
        """Close the connections to Redis and the replay writer (after ``stop``)."""
        await self.replayer.close()
        await self.ledger.close()
        await self.lease.close()

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._reign()
            except Exception:  # a bug must not leave a reader running without a lease
                log.exception(
                    "AMI ownership failed: stopped reading AMI",
                    extra={"error_id": "cluster.ownership_failed"},
                )
                if self.owner:
                    await self._step_down()
            await asyncio.sleep(self.retry * random.uniform(0.8, 1.2))

    async def _reign(self) -> None:
        """Take the lease if free, then read AMI for as long as it is held."""
        if not await self._acquire():
            return
        try:
            await self._take_over()
        except (LedgerUnavailable, LeaseUnavailable) as exc:
            log.warning("%s; not reading AMI this time", exc, extra={"error_id": exc.error_id})
            await self._step_down()
            await self._give_back()
            return
        except LeaseLost:
            log.warning(
                "AMI lease lost while taking over: not reading AMI",
                extra={"error_id": "cluster.lease_lost", "holder": self.holder},
            )
            await self._step_down()
            return
        await self._hold()
        await self._step_down()
        self.losses += 1

    async def _acquire(self) -> bool:
        sent = self.clock()
        try:
            async with asyncio.timeout(self.timer.ttl / 3):
                taken = await self.lease.acquire()
        except (LeaseUnavailable, TimeoutError) as exc:
            if not self._unreachable:
                self._unreachable = True
                log.warning(
                    "cannot ask Redis for the AMI lease: %s; trying again",
                    exc,
                    extra={"error_id": LeaseUnavailable.error_id},
                )
            return False
        if self._unreachable:
            self._unreachable = False
            log.info("Redis answers about the AMI lease again")
        if taken:
            self.timer.granted(sent)
        return taken

    async def _take_over(self) -> None:
        """Draw a term, adopt what the previous owner left, then start reading."""
        started = self.clock()
        remaining = self.timer.remaining(started)
        if not remaining:
            raise LeaseLost()
        try:
            async with asyncio.timeout(remaining):
                term = await self.lease.begin_term()
        except TimeoutError as exc:
            raise LeaseLost() from exc
        if not term:
            raise LeaseLost()
        self.term = term
        self.owner = True
        recovered = await self.ledger.recover()
        adopted = self.service.restart_tracking(recovered.live)
        for call in recovered.ended:
            self.replayer.submit(call)
        self.ledger.begin(self.service.tracker)
        await self.reader.start()
        self.takeovers += 1
        log.info(
            "took the AMI lease: reading AMI (term %d, %d live calls adopted, %d finished calls "
            "to store where missing, %.0f ms)",
            self.term,
            adopted,
            len(recovered.ended),
            (self.clock() - started) * 1000,
            extra={"holder": self.holder},
        )

    async def _hold(self) -> None:
        """Renew until a renewal is refused or the term runs out; return to step down."""
        due = self.timer.next_renewal() or self.clock()
        while True:
            now = self.clock()
            await asyncio.sleep(max(0.0, min(due, self.timer.valid_until or now) - now))
            sent = self.clock()
            if not self.timer.held(sent):
                log.error(
                    "AMI lease not renewed in time (Redis unreachable or slow): stopped "
                    "reading AMI",
                    extra={"error_id": "cluster.lease_expired", "holder": self.holder},
                )
                return
            try:
                async with asyncio.timeout(self.timer.remaining(sent)):
                    kept = await self.lease.renew()
            except TimeoutError:
                continue  # the term ended while waiting: the check above reports it
            except LeaseUnavailable as exc:
                log.warning(
                    "%s; %.1f s of the lease left",
                    exc,
                    self.timer.remaining(self.clock()),
                    extra={"error_id": exc.error_id},
                )
                due = self.clock() + self.retry
                continue
            if not kept:
                log.error(
                    "AMI lease taken by another process: stopped reading AMI",
                    extra={"error_id": "cluster.lease_lost", "holder": self.holder},
                )
                return
            self.timer.granted(sent)
            due = self.timer.next_renewal() or sent

    async def _step_down(self) -> None:
        """Stop reading at once; the live calls are the next owner's now."""
        self.owner = False
        self.timer.revoke()
        await self.reader.stop(logoff=False)
        await self.ledger.end(flush=False)
        self.service.restart_tracking()

    async def _give_back(self) -> None:
        """Release a lease this process took but cannot use, so another may take it now."""
        try:
            async with asyncio.timeout(self.timer.ttl / 3):
                await self.lease.release()
        except (LeaseUnavailable, TimeoutError) as exc:
            log.warning(
                "cannot give the AMI lease back: %s; it will expire on its own",
                exc,
                extra={"error_id": LeaseUnavailable.error_id},
            )


def call_ledger(settings: Settings) -> CallLedger | None:
    """The call ledger when processes share AMI through Redis (Redis set, AMI enabled, the
    lease on)."""
    ami = settings.ami
    if settings.redis.url is None or not ami.enabled or not ami.lease:
        return None
    return CallLedger(
        settings.redis.url,
        LedgerKeys.of(ami.host, ami.port),
        holder_id(),
        timeout=min(1.0, ami.lease_seconds / 3),
        retry=ami.lease_retry_seconds,
    )


def ami_ownership(
    settings: Settings,
    ledger: CallLedger,
    reader: AmiReader,
    service: CallService,
    repository: KeepingStore,
) -> AmiOwnership:
    """This process's part in the contest for ``settings.ami``'s Asterisk, over ``ledger``."""
    ami = settings.ami
    assert settings.redis.url is not None
    lease = RedisLease(
        settings.redis.url,
        ledger.keys.lease,
        ledger.holder,
        ttl=ami.lease_seconds,
        timeout=ami.lease_seconds / 3,
    )
    return AmiOwnership(
        lease,
        reader,
        service,
        ledger,
        CallWriter(ledger.keeping_store(repository)),
        ttl=ami.lease_seconds,
        retry=ami.lease_retry_seconds,
    )
