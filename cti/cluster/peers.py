"""What each of several processes needs besides the AMI lease: AMI actions, agent state, calls.

Built by the composition root when ``CTI_REDIS_URL`` is set, in every process, whether
it may read AMI (``CTI_AMI_ENABLED``) or not: ``ClusterActions`` sends the API's AMI
actions on the process's own event-less session, ``BoardRelay`` keeps routing's agent
board the same as the reader's, ``ClusterCalls`` answers the API's live calls from the
reader's call ledger and keeps wrap-ups until their call is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from cti.ami.client import AmiClient
from cti.bridge import AmiReader
from cti.bus.base import EventBus
from cti.cluster.actions import ClusterActions
from cti.cluster.calls import ClusterCalls, Tracker, cluster_calls
from cti.cluster.lease import RedisLease, asterisk_tag, holder_id, lease_key
from cti.cluster.ownership import AmiOwnership
from cti.cluster.replica import BoardRelay
from cti.cluster.wrapups import WrapupStore
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
    calls: ClusterCalls | None = None
    """The API's live calls: this process's own while it reads AMI, else the reader's."""

    async def start(self) -> None:
        """Start following (or relaying) the agent board, open the action session, and
        sweep the wrap-ups kept for calls not stored yet."""
        await self.relay.start()
        if self.calls is not None:
            self.calls.start()
        if self.actions is not None:
            self.actions.start()
        else:
            log.warning(
                "no CTI_AMI_SECRET: this process sends no AMI actions (they answer 503)",
                extra={"error_id": "cluster.no_ami_actions"},
            )

    async def aclose(self) -> None:
        """Log the action session off, stop the relay and the sweeper, close the lease view."""
        if self.actions is not None:
            await self.actions.aclose()
        await self.relay.aclose()
        if self.calls is not None:
            await self.calls.aclose()
        if self.lease is not None:
            await self.lease.close()


def cluster_peers(
    settings: Settings,
    bus: EventBus,
    board: AgentBoard,
    reader: AmiReader | None,
    ownership: AmiOwnership | None,
    *,
    tracker: Tracker | None = None,
    store: WrapupStore | None = None,
) -> Peers | None:
    """This process's actions and relay when several share Redis; ``None`` without Redis,
    or when this process is the only one (``CTI_AMI_LEASE=false``). With ``tracker`` (the
    call service) and ``store`` (the call records), its live calls too."""
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
    calls = None
    if tracker is not None and store is not None:
        touched = ownership.ledger.touch if ownership is not None else None
        calls = cluster_calls(settings, tracker, store, reading=reading, touched=touched)
    return Peers(relay=relay, actions=actions, reading=reading, lease=lease, calls=calls)
