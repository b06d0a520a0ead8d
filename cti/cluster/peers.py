"""What each of several processes needs besides the AMI lease: AMI actions and agent state.

Built by the composition root when ``CTI_REDIS_URL`` is set, in every process, whether
it may read AMI (``CTI_AMI_ENABLED``) or not: ``ClusterActions`` sends the API's AMI
actions on the process's own event-less session, ``BoardRelay`` keeps routing's agent
board the same as the reader's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from cti.ami.client import AmiClient
from cti.bridge import AmiReader
from cti.bus.base import EventBus
from cti.cluster.actions import ClusterActions
from cti.cluster.lease import RedisLease, asterisk_tag, holder_id, lease_key
from cti.cluster.ownership import AmiOwnership
from cti.cluster.replica import BoardRelay
from cti.routing.board import AgentBoard
from cti.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Peers:
    """This process's part among several: its AMI actions and its agent board's relay."""

    relay: BoardRelay
    actions: ClusterActions | None
    """``None`` without an AMI secret: this process's AMI actions then answer 503."""
    reading: Callable[[], bool]
    """Whether this process reads AMI now (holds the lease, within its term)."""
    lease: RedisLease | None = None
    """A view of the lease, owned here, for a process that never contends for it."""

    async def start(self) -> None:
        """Start following (or relaying) the agent board, and open the action session."""
        await self.relay.start()
        if self.actions is not None:
            self.actions.start()
        else:
            log.warning(
                "no CTI_AMI_SECRET: this process sends no AMI actions (they answer 503)",
                extra={"error_id": "cluster.no_ami_actions"},
            )

    async def aclose(self) -> None:
        """Log the action session off, stop the relay, close the lease view."""
        if self.actions is not None:
            await self.actions.aclose()
        await self.relay.aclose()
        if self.lease is not None:
            await self.lease.close()


def cluster_peers(
    settings: Settings,
    bus: EventBus,
    board: AgentBoard,
    reader: AmiReader | None,
    ownership: AmiOwnership | None,
) -> Peers | None:
    """This process's actions and relay when several share Redis; ``None`` without Redis,
    or when this process is the only one (``CTI_AMI_LEASE=false``)."""
    url = settings.redis.url
    if url is None or not settings.ami.lease:
        return None
    ami = settings.ami
    lease: RedisLease | None = None
    if ownership is not None:
        view = ownership.lease
        owned = ownership

        def reading() -> bool:
            return owned.held()

        def term() -> int:
            return owned.term if owned.held() else 0

        holder = ownership.holder
    else:
        holder = holder_id()
        view = lease = RedisLease(
            url,
            lease_key(ami.host, ami.port),
            holder,
            ttl=ami.lease_seconds,
            timeout=ami.lease_seconds / 3,
        )

        def reading() -> bool:
            return False

        def term() -> int:
            return 0

    relay = BoardRelay(bus, board, holder, asterisk_tag(ami.host, ami.port), term=term)
    if ownership is not None and reader is not None:
        reader.watchers.append(relay.on_event)
        reader.snapshot_watchers.append(relay.on_snapshot)
    actions = None
    if ami.secret.get_secret_value():
        actions = ClusterActions(
            AmiClient(ami, events=False),
            view,
            reading=reading,
            timeout=ami.lease_seconds / 3,
        )
    return Peers(relay=relay, actions=actions, reading=reading, lease=lease)
