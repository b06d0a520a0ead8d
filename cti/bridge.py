"""The AMI bridge: Asterisk's event stream, in order, into the call service."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

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
) -> None:
    """Feed every event and snapshot from ``client`` to ``service`` (and the agents'
    ``board``, each event to the ``watchers``, each snapshot to the
    ``snapshot_watchers``) until cancelled.

    One bad event is logged with its ``Linkedid`` and skipped; it never stops the stream.
    """
    async for item in client.stream():
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
