"""The AMI bridge: Asterisk's event stream, in order, into the call service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from cti.ami.client import AmiClient, Snapshot
from cti.calls.service import CallService
from cti.routing.board import AgentBoard

log = logging.getLogger(__name__)


Watcher = Callable[[Mapping[str, str], float], None]
SnapshotWatcher = Callable[[Snapshot, float], None]


async def run_bridge(
    client: AmiClient,
    service: CallService,
    board: AgentBoard | None = None,
    watchers: Sequence[Watcher] = (),
    snapshot_watchers: Sequence[SnapshotWatcher] = (),
    held: Callable[[], bool] | None = None,
) -> None:
    """Feed every event and snapshot from ``client`` to ``service`` (and the agents'
    ``board``, each event to the ``watchers``, each snapshot to the
    ``snapshot_watchers``) until cancelled, or until ``held()`` turns false.

    ``held`` is asked before each item: a process that may have lost the AMI lease
    applies nothing more, even if its event loop stalled past the lease's end.
    One bad event is logged with its ``Linkedid`` and skipped; it never stops the stream.
    """
    async for item in client.stream():
        if held is not None and not held():
            log.warning(
                "stopped applying AMI events: the AMI lease is no longer held",
                extra={"error_id": "cluster.lease_lost"},
            )
            return
        try:
            if isinstance(item, Snapshot):
                await service.on_snapshot(item.channels, item.queue_entries)
                now = time.time()
                if board is not None:
                    members, entries = item.queue_members, item.queue_entries
                    board.on_snapshot(members, entries, item.queue_params, now)
                for watch_snapshot in snapshot_watchers:
                    watch_snapshot(item, now)
            else:
                await service.on_event(item)
                now = time.time()
                if board is not None:
                    board.on_event(item, now)
                for watch in watchers:
                    watch(item, now)
        except (KeyError, ValueError, TypeError, AttributeError):
            linkedid = None if isinstance(item, Snapshot) else item.get("Linkedid")
            log.exception(
                "failed to apply an AMI item; skipped",
                extra={"error_id": "calls.apply", "linkedid": linkedid},
            )


class Companion(Protocol):
    """Something that runs only while AMI is read (the wallboard publisher)."""

    def start(self) -> None: ...

    async def aclose(self) -> None: ...


class AmiReader:
    """Reading one Asterisk's AMI: the client's connection, the bridge and their companions.

    Started and stopped as one, so a process either reads AMI whole or not at all
    (``cti.cluster`` starts it only while this process holds the AMI lease).
    """

    def __init__(
        self,
        client: AmiClient,
        service: CallService,
        board: AgentBoard | None = None,
        *,
        watchers: Sequence[Watcher] = (),
        snapshot_watchers: Sequence[SnapshotWatcher] = (),
        companions: Sequence[Companion] = (),
    ) -> None:
        self.client = client
        self.service = service
        self.board = board
        self.watchers = list(watchers)
        self.snapshot_watchers = list(snapshot_watchers)
        self.companions = list(companions)
        self.held: Callable[[], bool] | None = None
        """Asked by the bridge before each item (``run_bridge``); set by the lease's owner."""
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def reading(self) -> bool:
        """Whether this process reads AMI now."""
        return bool(self._tasks)

    async def start(self) -> None:
        """Connect (and keep reconnecting) to AMI and apply its events (idempotent)."""
        if self._tasks:
            return
        self.client.reopen()
        bridge = run_bridge(
            self.client,
            self.service,
            self.board,
            watchers=self.watchers,
            snapshot_watchers=self.snapshot_watchers,
            held=self.held,
        )
        self._tasks = [
            asyncio.create_task(self.client.run(), name="ami"),
            asyncio.create_task(bridge, name="bridge"),
        ]
        for companion in self.companions:
            companion.start()

    async def stop(self, *, logoff: bool = True) -> None:
        """Stop reading: the connection closes at once (after a ``Logoff`` if ``logoff``)."""
        tasks, self._tasks = self._tasks, []
        await self.client.close(logoff=logoff)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if tasks:
            for companion in self.companions:
                await companion.aclose()
