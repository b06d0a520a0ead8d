"""The wallboard's publisher: AMI events in, a few updates a second out on the bus.

Runs in the process that reads AMI. Every queue event changes the figures at once, but
supervisors get at most one update per ``interval``: the first change after a quiet
spell goes out on the next loop turn, later ones are gathered until the interval ends.
An update carries only the queues and agents that changed, the abandoned callers that
are new, and the alerts in force; a full picture goes out every ``FULL_EVERY`` seconds
and is kept in the shared state for screens that connect later (on any process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from cti.routing.engine import Agent
from cti.supervision.alerts import AlertRules, alerts
from cti.supervision.figures import Wallboard, agent_view, queue_view

log = logging.getLogger(__name__)

TOPIC = "wallboard.update"
VERSION = 1
FULL_EVERY = 30.0
TICK = 1.0
"""Seconds between checks of what changes with time alone (wrap-ups ending, alerts)."""
EVENTS = frozenset(
    {
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "QueueMemberStatus",
    }
)
"""The AMI events the wallboard reads."""


class Publisher(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...


class WallboardStore(Protocol):
    async def save_wallboard(self, message: dict[str, Any]) -> None: ...


class WallboardService:
    """Folds events into a ``Wallboard`` and publishes what changed."""

    def __init__(
        self,
        bus: Publisher,
        store: WallboardStore,
        username_of: Callable[[str], str | None],
        *,
        rules: AlertRules | None = None,
        default_servicelevel: int = 20,
        interval: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.store = store
        self.username_of = username_of
        self.rules = rules or AlertRules()
        self.interval = interval
        self.clock = clock
        self.board = Wallboard(default_servicelevel)
        self.published = 0
        self.seq = 0
        """Events folded so far: an update with ``seq`` n shows every event up to the n-th."""
        self._abandoned: list[dict[str, Any]] = []
        self._alerts: list[dict[str, Any]] = []
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="wallboard")
        self._ticker = asyncio.create_task(self._tick(), name="wallboard-tick")

    def on_event(self, msg: Mapping[str, str], now: float) -> None:
        """A bridge watcher: apply one AMI event."""
        kind = msg.get("Event", "")
        if kind not in EVENTS:
            return
        self.board.on_event(msg, now)
        self.seq += 1
        if kind == "QueueCallerAbandon":
            newest = self.board.queue(msg.get("Queue", "")).abandoned_calls[0]
            self._abandoned.append(newest.to_dict())
        self._dirty.set()

    def on_agent(self, agent: Agent) -> None:
        """A routing watcher: who sits behind an interface may have changed."""
        key = agent.interface.lower()
        if key in self.board.agents:
            self.board.changed_agents.add(key)
            self._dirty.set()

    def on_snapshot(
        self,
        params: Iterable[Mapping[str, str]],
        members: Iterable[Mapping[str, str]],
        entries: Iterable[Mapping[str, str]],
        now: float,
    ) -> None:
        """A ``QueueStatus`` read-back replaces the figures."""
        self.board.on_snapshot(params, members, entries, now)
        self._dirty.set()

    def full(self, now: float | None = None) -> dict[str, Any]:
        """Everything on the wallboard now."""
        now = self.clock() if now is None else now
        board = self.board
        abandoned = sorted(
            (a.to_dict() for q in board.queues.values() for a in q.abandoned_calls),
            key=lambda a: a["at"],
            reverse=True,
        )
        return {
            "type": "wallboard",
            "version": VERSION,
            "full": True,
            "at": now,
            "seq": self.seq,
            "queues": [self._queue(name, now) for name in sorted(board.queues)],
            "agents": [self._agent(key) for key in sorted(board.agents)],
            "abandoned": abandoned[:100],
            "alerts": alerts(board, self.rules, now),
            "targets": {
                "service_level": self.rules.service_level_target,
                "paused_too_long": self.rules.paused_too_long,
            },
        }

    def _queue(self, name: str, now: float) -> dict[str, Any]:
        queue = self.board.queue(name)
        return queue_view(queue, self.board.queue_summary(name, now), now)

    def _agent(self, key: str) -> dict[str, Any]:
        agent = self.board.agents[key]
        return agent_view(agent, self.username_of(agent.interface))

    def update(self, now: float) -> dict[str, Any] | None:
        """What changed since the last update; ``None`` when nothing did."""
        queues, agents = self.board.take_changes()
        current = alerts(self.board, self.rules, now)
        if not queues and not agents and not self._abandoned and current == self._alerts:
            return None
        self._alerts = current
        abandoned, self._abandoned = self._abandoned, []
        return {
            "type": "wallboard",
            "version": VERSION,
            "full": False,
            "at": now,
            "seq": self.seq,
            "queues": [self._queue(q, now) for q in sorted(queues) if q in self.board.queues],
            "agents": [self._agent(a) for a in sorted(agents) if a in self.board.agents],
            "abandoned": abandoned[::-1],
            "alerts": current,
        }

    async def _run(self) -> None:
        last_full = 0.0
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            now = self.clock()
            try:
                if now - last_full >= FULL_EVERY:
                    last_full = now
                    self.board.take_changes()
                    self._abandoned = []
                    message: dict[str, Any] | None = self.full(now)
                    self._alerts = message["alerts"] if message else []
                else:
                    message = self.update(now)
                if message is not None:
                    await self.bus.publish(TOPIC, message)
                    self.published += 1
                    if message["full"]:
                        await self.store.save_wallboard(message)
            except Exception:
                log.exception("wallboard update failed", extra={"error_id": "wallboard.publish"})
            await asyncio.sleep(self.interval)

    async def _tick(self) -> None:
        saved = 0.0
        while True:
            await asyncio.sleep(TICK)
            now = self.clock()
            self.board.tick(now)
            self._dirty.set()
            if now - saved >= 5.0:
                saved = now
                with contextlib.suppress(Exception):
                    await self.store.save_wallboard(self.full(now))

    async def aclose(self) -> None:
        for task in (self._task, self._ticker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
