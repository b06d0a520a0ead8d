"""The WebSocket hub of one process: the screens connected here, and what reaches them.

Every process subscribes to the pops on the bus and hands each one to the connections
of its agent (and of supervisors watching that agent) here. A message is encoded once,
whatever the number of screens. Each connection has a bounded outbox: a screen that
reads too slowly is closed (1013) and reconnects to the current state, rather than
holding up anyone else or growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from cti.bus.base import Subscription
from screenpop.state import PopState

log = logging.getLogger(__name__)

OUTBOX = 256
"""Messages a connection may have waiting before it counts as too slow."""
MAX_WATCHED = 20
"""Contacts one screen may watch at once; watching another forgets the lowest id."""
TIMELINE = "timeline.entry"
WALLBOARD = "wallboard.update"
ABANDONED_KEPT = 100
SLOW = 1013
GOING_AWAY = 1001


class Subscriber(Protocol):
    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription: ...


class Connection:
    """One screen: what it watches, and its outbox."""

    def __init__(
        self, agent: str, send: Callable[[str], Awaitable[None]], outbox: int = OUTBOX
    ) -> None:
        self.agent = agent
        self._send = send
        self._outbox: deque[str] = deque()
        self._limit = outbox
        self._ready = asyncio.Event()
        self.closing: tuple[int, str] | None = None
        self.watching: set[int] = set()
        """Contacts whose new timeline entries this screen wants (``watch``)."""
        self.doomed = asyncio.Event()
        """Set when the connection must close: too slow, or the server going away."""

    def put(self, text: str) -> bool:
        """Queue a message; never waits. ``True`` when this fills the outbox: too slow."""
        if self.closing is not None:
            return False
        self._ready.set()
        if len(self._outbox) < self._limit:
            self._outbox.append(text)
            return False
        self.closing = (SLOW, "too slow: reconnect for the current state")
        self._outbox.clear()
        self.doomed.set()
        return True

    def shut(self, code: int, reason: str) -> None:
        """Close after what is queued is sent (the server going away)."""
        if self.closing is None:
            self.closing = (code, reason)
        self._ready.set()
        self.doomed.set()

    async def pump(self) -> tuple[int, str]:
        """Send queued messages in order until the connection must close; why it closes.

        A send that never completes (a client that stopped reading) keeps this waiting:
        whoever runs it also watches ``doomed`` and gives up on it.
        """
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._outbox:
                await self._send(self._outbox.popleft())
            if self.closing is not None:
                return self.closing


class Hub:
    """Screens connected to this process, by the agent whose pops they show."""

    def __init__(self, bus: Subscriber, state: PopState, *, outbox: int = OUTBOX) -> None:
        self.bus = bus
        self.state = state
        self.outbox = outbox
        self.delivered = 0
        self.slow_closed = 0
        self._screens: dict[str, set[Connection]] = {}
        self._watchers: dict[int, set[Connection]] = {}
        self._boards: set[Connection] = set()
        self._picture: dict[str, Any] | None = None
        """The wallboard as the updates so far draw it, for screens connecting now."""
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        return sum(len(c) for c in self._screens.values()) + len(self._boards)

    async def start(self) -> None:
        self._subscription = self.bus.subscribe("screenpop.*", TIMELINE, WALLBOARD, maxsize=100_000)
        self._task = asyncio.create_task(self._run(self._subscription), name="screenpop-hub")

    async def _run(self, subscription: Subscription) -> None:
        async for topic, envelope in subscription:
            try:
                if topic == TIMELINE:
                    self.new_entry(int(envelope["contact_id"]), envelope)
                elif topic == WALLBOARD:
                    self.wallboard_update(envelope)
                else:
                    self.deliver(str(envelope["agent"]), envelope["message"])
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("ignored a malformed screen-pop message: %s", exc)

    def watch(self, connection: Connection, contact_id: int) -> None:
        """Send ``connection`` the new timeline entries of ``contact_id`` (a few at most)."""
        if contact_id in connection.watching:
            return
        if len(connection.watching) >= MAX_WATCHED:
            oldest = min(connection.watching)
            connection.watching.discard(oldest)
            self._watchers.get(oldest, set()).discard(connection)
        connection.watching.add(contact_id)
        self._watchers.setdefault(contact_id, set()).add(connection)

    def new_entry(self, contact_id: int, entry: dict[str, Any]) -> None:
        screens = self._watchers.get(contact_id)
        if not screens:
            return
        message = {
            "type": "timeline",
            "version": 1,
            "contact_id": contact_id,
            "message_id": entry.get("message_id"),
            "at": entry.get("at"),
        }
        text = json.dumps(message, separators=(",", ":"))
        for screen in screens:
            if screen.put(text):
                self.slow_closed += 1

    def deliver(self, agent: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for every screen showing ``agent``."""
        screens = self._screens.get(agent)
        if not screens:
            return
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        for screen in screens:
            if screen.put(text):
                self.slow_closed += 1
                log.info("closing a screen of %s that reads too slowly", agent)
        self.delivered += len(screens)

    def wallboard_update(self, message: dict[str, Any]) -> None:
        """Fold an update into the picture and queue it for every wallboard screen."""
        self._picture = _merge(self._picture, message)
        if not self._boards:
            return
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        for screen in self._boards:
            if screen.put(text):
                self.slow_closed += 1
                log.info("closing a wallboard that reads too slowly")
        self.delivered += len(self._boards)

    async def wallboard(self) -> dict[str, Any] | None:
        """The whole wallboard now (from the shared state before any update arrived)."""
        if self._picture is None:
            self._picture = await self.state.wallboard()
        return self._picture

    def connect_wallboard(self, send: Callable[[str], Awaitable[None]]) -> Connection:
        """Register a wallboard screen; updates queue up from now on."""
        connection = Connection("", send, self.outbox)
        self._boards.add(connection)
        return connection

    def connect(self, agent: str, send: Callable[[str], Awaitable[None]]) -> Connection:
        """Register a screen; messages for ``agent`` queue up from now on."""
        connection = Connection(agent, send, self.outbox)
        self._screens.setdefault(agent, set()).add(connection)
        return connection

    def disconnect(self, connection: Connection) -> None:
        if connection in self._boards:
            self._boards.discard(connection)
            return
        for contact_id in connection.watching:
            watchers = self._watchers.get(contact_id)
            if watchers is not None:
                watchers.discard(connection)
                if not watchers:
                    del self._watchers[contact_id]
        screens = self._screens.get(connection.agent)
        if screens is not None:
            screens.discard(connection)
            if not screens:
                del self._screens[connection.agent]

    async def close(self) -> None:
        """Tell every screen the server is going away (they reconnect elsewhere)."""
        for screens in [*self._screens.values(), self._boards]:
            for screen in screens:
                screen.shut(GOING_AWAY, "server going away")
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _merge(picture: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any] | None:
    """The wallboard after ``update``: a full one replaces, a partial one is laid over."""
    if update.get("full"):
        return update
    if picture is None:
        return None
    queues = {q["name"]: q for q in picture["queues"]}
    queues.update((q["name"], q) for q in update["queues"])
    agents = {a["interface"]: a for a in picture["agents"]}
    agents.update((a["interface"], a) for a in update["agents"])
    return {
        **picture,
        "at": update["at"],
        "seq": update.get("seq", 0),
        "queues": [queues[name] for name in sorted(queues)],
        "agents": [agents[key] for key in sorted(agents, key=str.lower)],
        "abandoned": (update["abandoned"] + picture["abandoned"])[:ABANDONED_KEPT],
        "alerts": update["alerts"],
    }
