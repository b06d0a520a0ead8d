"""The AMI bridge: Asterisk's event stream, in order, into the call service."""

from __future__ import annotations

import logging
import time

from cti.ami.client import AmiClient, Snapshot
from cti.calls.service import CallService
from cti.routing.board import AgentBoard

log = logging.getLogger(__name__)


async def run_bridge(
    client: AmiClient, service: CallService, board: AgentBoard | None = None
) -> None:
    """Feed every event and snapshot from ``client`` to ``service`` (and the agents'
    ``board``) until cancelled.

    One bad event is logged with its ``Linkedid`` and skipped; it never stops the stream.
    """
    async for item in client.stream():
        try:
            if isinstance(item, Snapshot):
                await service.on_snapshot(item.channels, item.queue_entries)
                if board is not None:
                    board.on_snapshot(item.queue_members)
            else:
                await service.on_event(item)
                if board is not None:
                    board.on_event(item, time.time())
        except (KeyError, ValueError, TypeError, AttributeError):
            linkedid = None if isinstance(item, Snapshot) else item.get("Linkedid")
            log.exception(
                "failed to apply an AMI item; skipped",
                extra={"error_id": "calls.apply", "linkedid": linkedid},
            )
