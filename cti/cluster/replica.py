"""The agents' live state on every process: the AMI reader relays it, the others follow.

Only the process reading AMI (the lease's owner) sees Asterisk's queue-member and
queue-caller events, but routing runs in every process (the FastAGI IVR, the API). So
the reader publishes on the bus, in the order it applies them, each of those events and,
after each read-back or when another process asks, its whole agent board. Every item
carries the reader's term (``RedisLease.begin_term``: higher is later) and its number in
that term. A process that does not read AMI applies them to its own board:

- a whole board replaces its own, unless it is older than what it has;
- an event applies when it is the next one of the newest term;
- a gap (messages lost while Redis was away, or by a slow subscriber) or an event of a
  newer term leaves it waiting for a whole board, which it asks for, again every
  ``retry`` seconds until one comes;
- anything of an older term is a deposed reader's late word, and is ignored.

Items name their Asterisk (as the lease does): pub/sub channels are shared by every
database of a Redis, so processes of other deployments may be heard and are ignored.

The reader applies its own events straight from the bridge and ignores relayed ones;
when it stops reading it follows again, from the next reader's board. So no event is
applied twice in one process, whichever way the lease moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from cti.ami.client import Snapshot
from cti.bus.base import EventBus, Message, Subscription
from cti.bus.exceptions import BusClosedError
from cti.routing.board import CALLER_EVENTS, MEMBER_EVENTS, AgentBoard

log = logging.getLogger(__name__)

TOPIC = "agents.relay"
"""The reader's events and whole boards, in the order it applied them."""
ASK = "agents.ask"
"""A follower asking the reader for its whole board."""
RELAYED = MEMBER_EVENTS | CALLER_EVENTS


class BoardRelay:
    """Relays this process's agent board while it reads AMI; follows the reader's otherwise.

    Args:
        bus: the Redis bus every process shares.
        board: routing's agent board in this process.
        holder: this process's lease holder id (its own relayed items are ignored).
        asterisk: which Asterisk's agents these are (``asterisk_tag``); others are ignored.
        term: the term of this process's reading now; 0 while it does not read AMI.
        retry: seconds between requests for a whole board while waiting for one.
    """

    def __init__(
        self,
        bus: EventBus,
        board: AgentBoard,
        holder: str,
        asterisk: str,
        *,
        term: Callable[[], int] = lambda: 0,
        retry: float = 1.0,
    ) -> None:
        self.bus = bus
        self.board = board
        self.holder = holder
        self.asterisk = asterisk
        self.term = term
        self.retry = retry
        self.relayed = 0
        """Items this process published as the reader."""
        self.applied = 0
        """Relayed items this process applied as a follower."""
        self.asked = 0
        """Whole boards this process asked for."""
        self._out: deque[tuple[str, Message]] = deque()
        self._out_ready = asyncio.Event()
        self._out_term = 0
        self._out_seq = 0
        self._board_queued = False
        self._term = 0
        """The newest term this process has heard of (as follower, or read itself)."""
        self._seq: int | None = None
        """The last item of ``_term`` applied; ``None`` while waiting for a whole board."""
        self._unsynced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def synced(self) -> bool:
        """Whether this board is the reader's: it reads AMI itself, or follows the reader."""
        return bool(self.term()) or self._seq is not None

    async def start(self) -> None:
        """Listen to the relay, and send what this process relays (idempotent)."""
        if self._tasks:
            return
        subscription = self.bus.subscribe(TOPIC, ASK, maxsize=10_000)
        self._unsynced.set()
        self._tasks = [
            asyncio.create_task(self._listen(subscription), name="board-relay-listen"),
            asyncio.create_task(self._send(), name="board-relay-send"),
            asyncio.create_task(self._ask(), name="board-relay-ask"),
        ]

    async def aclose(self) -> None:
        """Stop relaying and following."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the reader's side (bridge watchers) ------------------------------------------------

    def on_event(self, msg: Mapping[str, str], now: float) -> None:
        """Relay an AMI event the board has just applied (a bridge watcher)."""
        if msg.get("Event") in RELAYED:
            self._emit("event", {"event": dict(msg), "now": now})

    def on_snapshot(self, snapshot: Snapshot, now: float) -> None:
        """Relay the whole board after a read-back replaced it (a bridge snapshot watcher)."""
        self._emit_board()

    def _emit_board(self) -> None:
        if not self._board_queued:
            self._board_queued = self._emit("board", {"board": self.board.export()})

    def _emit(self, kind: str, body: Message) -> bool:
        term = self.term()
        if not term:
            return False
        if term != self._out_term:
            self._out_term, self._out_seq = term, 0
        self._out_seq += 1
        self._term, self._seq = max(self._term, term), None  # follow afresh when it stops
        message = {
            "asterisk": self.asterisk,
            "holder": self.holder,
            "term": term,
            "seq": self._out_seq,
            "kind": kind,
        }
        self._out.append((TOPIC, {**message, **body}))
        self._out_ready.set()
        return True

    async def _send(self) -> None:
        """One sender, so the other processes get the items in the order they were made."""
        while True:
            await self._out_ready.wait()
            self._out_ready.clear()
            while self._out:
                topic, message = self._out.popleft()
                if message.get("kind") == "board":
                    self._board_queued = False
                try:
                    await self.bus.publish(topic, message)
                except BusClosedError:
                    return
                self.relayed += 1

    # -- a follower's side ----------------------------------------------------------------

    async def _listen(self, subscription: Subscription) -> None:
        async for topic, message in subscription:
            try:
                if message.get("asterisk") != self.asterisk:
                    continue
                if topic == ASK:
                    if self.term():
                        self._emit_board()
                    continue
                self._follow(message)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning(
                    "ignored a malformed agent-board relay message: %s; asking for the board",
                    exc,
                    extra={"error_id": "cluster.relay_malformed"},
                )
                self._lose_track()

    def _follow(self, message: Mapping[str, Any]) -> None:
        """Apply one relayed item, if this process follows and the item is due."""
        if self.term() or message["holder"] == self.holder:
            return
        term, seq, kind = int(message["term"]), int(message["seq"]), message["kind"]
        if term < self._term:
            return
        if kind == "board":
            if term == self._term and self._seq is not None and seq <= self._seq:
                return
            self.board.restore(message["board"])
            if term != self._term or self._seq is None:
                log.info(
                    "following the AMI reader's agent board",
                    extra={"term": term, "holder": message["holder"]},
                )
            self._term, self._seq = term, seq
            self.applied += 1
            return
        if term > self._term:
            self._term = term
            self._lose_track()
            return
        if self._seq is None or seq <= self._seq:
            return
        if seq > self._seq + 1:
            log.warning(
                "missed %d agent-board updates from the AMI reader; asking for the board",
                seq - self._seq - 1,
                extra={"error_id": "cluster.relay_gap", "term": term},
            )
            self._lose_track()
            return
        self.board.on_event(message["event"], float(message["now"]))
        self._seq = seq
        self.applied += 1

    def _lose_track(self) -> None:
        self._seq = None
        self._unsynced.set()

    async def _ask(self) -> None:
        """Ask for the reader's board at once when out of step, then every ``retry`` s."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.retry):
                    await self._unsynced.wait()
            self._unsynced.clear()
            if self._seq is None and not self.term():
                try:
                    ask = {"asterisk": self.asterisk, "holder": self.holder, "term": self._term}
                    await self.bus.publish(ASK, ask)
                except BusClosedError:
                    return
                self.asked += 1
