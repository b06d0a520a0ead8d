"""From call events to pops: who to show what, as soon as their phone rings.

Runs in the process that reads AMI, fed directly by the call service (no bus hop
before the pop is built). The caller's dossier is looked up as soon as the call's
number is known, so it is ready by the time an agent's phone rings. Every pop is saved
in the shared state (for reconnecting screens) and then published on the bus
(``screenpop.pop``, ``screenpop.close``, ``screenpop.agent``), where the hub of every
process delivers it to the sockets it holds.

Per call, events are handled in order; calls do not wait for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.exceptions import RedisError

from cti.calls.model import CallEvent, CallEventType
from cti.calls.tracker import interface_of
from cti.contacts.dossier import CallerView, DossierService
from cti.routing.engine import Agent
from screenpop import messages
from screenpop.state import PopState

log = logging.getLogger(__name__)

POP_TOPIC = "screenpop.pop"
CLOSE_TOPIC = "screenpop.close"
AGENT_TOPIC = "screenpop.agent"
DOSSIER_WAIT = 1.0
"""Seconds a pop waits for a dossier still being built; then it goes without one."""

HANDLED = frozenset(
    {
        CallEventType.AGENT_RINGING,
        CallEventType.AGENT_RING_ENDED,
        CallEventType.ANSWERED,
        CallEventType.TRANSFERRED,
        CallEventType.ENDED,
    }
)


class Publisher(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...


class PopService:
    """Builds, saves and publishes pops; closes them after the wrap-up."""

    def __init__(
        self,
        bus: Publisher,
        state: PopState,
        dossiers: DossierService | None,
        username_of: Callable[[str], str | None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.state = state
        self.dossiers = dossiers
        self.username_of = username_of
        self.clock = clock
        self.shown = 0
        self._views: dict[str, asyncio.Task[CallerView | None]] = {}
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._showing: dict[str, set[str]] = {}
        """Per call, the agents whose screens show it."""
        self._talked: dict[str, set[str]] = {}
        """Per call, the agents who talked to the caller: each gets the wrap-up."""
        self._agents: dict[str, tuple[object, ...]] = {}
        self._wrap_timers: dict[str, asyncio.TimerHandle] = {}
        self._agent_views: dict[str, dict[str, Any]] = {}
        """Agents' states not yet published, the newest per agent."""
        self._agent_news = asyncio.Event()
        self._agent_task: asyncio.Task[None] | None = None
        self.leads: Callable[[], bool] = lambda: True
        """Whether this process tells screens of agents' states: with several processes,
        only the one reading AMI does (the others' boards follow it, ``cti.cluster``)."""

    # -- calls ------------------------------------------------------------------------

    def on_call_event(self, event: CallEvent) -> None:
        """Take one domain event (called by the call service, in order)."""
        call = event.call
        linkedid = call["linkedid"]
        number = call.get("caller_num")
        if linkedid not in self._views and number and self.dossiers is not None:
            self._views[linkedid] = asyncio.create_task(self._look_up(number))
        if event.type not in HANDLED:
            return
        previous = self._chains.get(linkedid)
        task = asyncio.create_task(self._handle(event, previous))
        self._chains[linkedid] = task
        task.add_done_callback(lambda done: self._finished(linkedid, done))

    def _finished(self, linkedid: str, task: asyncio.Task[None]) -> None:
        if self._chains.get(linkedid) is task:
            del self._chains[linkedid]
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "a screen-pop step failed",
                exc_info=task.exception(),
                extra={"error_id": "screenpop.failed", "linkedid": linkedid},
            )

    async def _look_up(self, number: str) -> CallerView | None:
        assert self.dossiers is not None
        try:
            return await self.dossiers.for_caller(number)
        except Exception as exc:  # the pop goes out without a dossier
            log.warning("no dossier for a pop: %s", exc, extra={"error_id": "screenpop.dossier"})
            return None

    async def _handle(self, event: CallEvent, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        call, data, kind = event.call, event.data, event.type
        linkedid = call["linkedid"]
        user = self.username_of(str(data.get("agent") or ""))
        if kind is CallEventType.AGENT_RINGING and user:
            await self._show(user, call, "ringing")
        elif kind is CallEventType.AGENT_RING_ENDED and user:
            if user not in self._talked.get(linkedid, ()):
                await self._close(user, linkedid)
        elif kind is CallEventType.ANSWERED:
            talked = self._talked.setdefault(linkedid, set())
            for other in sorted(self._showing.get(linkedid, set()) - talked - {user}):
                await self._close(other, linkedid)
            if user:
                talked.add(user)
                await self._show(user, call, "talking")
        elif kind is CallEventType.TRANSFERRED:
            await self._transferred(call, data)
        elif kind is CallEventType.ENDED:
            await self._ended(call)

    async def _transferred(self, call: dict[str, Any], data: dict[str, Any]) -> None:
        """The card says where the call went; an attended transfer's target takes it over.

        A blind transfer's target is dialled next, and that ring pops up on its own.
        """
        linkedid, target = call["linkedid"], str(data.get("to") or "")
        talked = self._talked.setdefault(linkedid, set())
        for user in sorted(talked):
            await self._show(user, call, "talking", transferred_to=target or None)
        if data.get("kind") != "attended":
            return
        receiver = self.username_of(interface_of(target))
        if receiver is not None and receiver not in talked:
            talked.add(receiver)
            await self._show(receiver, call, "talking")

    async def _ended(self, call: dict[str, Any]) -> None:
        linkedid = call["linkedid"]
        talked = self._talked.pop(linkedid, set())
        showing = self._showing.pop(linkedid, None)
        if showing is None:  # adopted from a process that read AMI before this one
            showing, talked = self._seen_by(call)
        for user in sorted(showing):
            if user in talked:
                await self._show(user, call, "ended", remember=False)
            else:
                await self._close(user, linkedid, forget=False)
        view = self._views.pop(linkedid, None)
        if view is not None and not view.done():
            view.cancel()

    def _seen_by(self, call: dict[str, Any]) -> tuple[set[str], set[str]]:
        """Whose screens a call adopted at a takeover is on, and who talked: from the call
        itself (the agents it rang, the one who answered), as another process showed it."""
        agent = self.username_of(str(call.get("agent") or ""))
        talked = {agent} if agent and call.get("answered_at") else set()
        rung = {self.username_of(str(r.get("interface") or "")) for r in call.get("rings") or []}
        return {user for user in rung | talked if user}, talked

    async def _show(
        self,
        user: str,
        call: dict[str, Any],
        stage: str,
        *,
        transferred_to: str | None = None,
        remember: bool = True,
    ) -> None:
        view = await self._view(call["linkedid"])
        now = datetime.fromtimestamp(self.clock(), UTC)
        message = messages.pop(call, stage, view, now, transferred_to=transferred_to)
        if remember:
            self._showing.setdefault(call["linkedid"], set()).add(user)
        await _keep(self.state.save_pop(user, message), call["linkedid"])
        await self.bus.publish(POP_TOPIC, {"agent": user, "message": message})
        self.shown += 1

    async def _view(self, linkedid: str) -> CallerView | None:
        task = self._views.get(linkedid)
        if task is None:
            return None
        try:
            async with asyncio.timeout(DOSSIER_WAIT):
                return await asyncio.shield(task)
        except TimeoutError:
            log.warning(
                "a pop went out before the dossier was ready",
                extra={"error_id": "screenpop.dossier_slow", "linkedid": linkedid},
            )
            return None

    async def _close(self, user: str, linkedid: str, *, forget: bool = True) -> None:
        if forget:
            self._showing.get(linkedid, set()).discard(user)
        await self.close(user, linkedid)

    async def close(self, user: str, call_id: str) -> None:
        """Take a call off ``user``'s screen (after the wrap-up, or when it rang elsewhere)."""
        await _keep(self.state.drop_pop(user, call_id), call_id)
        await self.bus.publish(CLOSE_TOPIC, {"agent": user, "message": messages.closed(call_id)})

    # -- agents -----------------------------------------------------------------------

    def on_agent(self, agent: Agent) -> None:
        """An agent's state as routing knows it; screens hear of real changes only."""
        if not self.leads():
            self._agents.pop(agent.username, None)  # told afresh once this process leads
            timer = self._wrap_timers.pop(agent.username, None)
            if timer is not None:
                timer.cancel()
            return
        now = self.clock()
        view = agent.view(now)
        signature = (view["state"], view["pause_reason"], view["wrap_until"])
        if self._agents.get(agent.username) == signature:
            return
        self._agents[agent.username] = signature
        self._agent_views.pop(agent.username, None)
        self._agent_views[agent.username] = view
        self._agent_news.set()
        if self._agent_task is None:
            self._agent_task = asyncio.create_task(self._publish_agents(), name="screenpop-agents")
        timer = self._wrap_timers.pop(agent.username, None)
        if timer is not None:
            timer.cancel()
        if agent.wrap_until > now:
            delay = agent.wrap_until - now + 0.05
            self._wrap_timers[agent.username] = asyncio.get_running_loop().call_later(
                delay, self.on_agent, agent
            )

    async def _publish_agents(self) -> None:
        """One writer, oldest change first: an agent's states reach screens in order."""
        while True:
            await self._agent_news.wait()
            self._agent_news.clear()
            while self._agent_views:
                username = next(iter(self._agent_views))
                view = self._agent_views.pop(username)
                try:
                    await self.state.save_agent(username, view)
                    message = messages.agent_state(view)
                    await self.bus.publish(AGENT_TOPIC, {"agent": username, "message": message})
                except Exception as exc:  # the next change will tell the screen
                    log.warning("could not publish %s's state: %s", username, exc)

    async def aclose(self) -> None:
        for timer in self._wrap_timers.values():
            timer.cancel()
        tasks = [*self._chains.values(), *self._views.values()]
        if self._agent_task is not None:
            tasks.append(self._agent_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _keep(change: Awaitable[None], linkedid: str) -> None:
    """Change the shared state; if Redis is away, say so and let the pop go out anyway.

    The bus keeps it for the screens until Redis is back; only a screen that (re)connects
    meanwhile starts without it.
    """
    try:
        await change
    except (RedisError, OSError) as exc:
        log.warning(
            "could not keep a pop in the shared state: %s",
            exc,
            extra={"error_id": "screenpop.state", "linkedid": linkedid},
        )
