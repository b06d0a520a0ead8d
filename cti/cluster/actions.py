"""AMI actions from every process: each keeps its own AMI session for actions, without events.

With several processes only the lease's owner reads Asterisk's events, but any of them
may be asked to pause an agent or ring a supervisor into a call. Each process logs in
once more with ``Events: off``: Asterisk sends that session no events at all (its
``send_events`` mask is 0, ``main/manager.c``), only the replies to the actions it sends,
matched by ``ActionID`` on that one connection. So an action never waits on another
process or on Redis to travel, and its reply cannot be lost on the way or delivered
twice; a connection that drops under a pending action fails it, and nothing is re-sent.

An action is refused (``NoAmiReader``, a 503 at the API) while no process reads AMI:
its effect would reach no process's state until a takeover reads it back, and the
checks the API makes first ("is this agent on a call?") rest on that state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from cti.ami.client import AmiClient
from cti.ami.protocol import AmiMessage
from cti.cluster.exceptions import LeaseUnavailable, NoAmiReader

log = logging.getLogger(__name__)


class LeaseHolder(Protocol):
    """Who holds the AMI lease now (``RedisLease.owner``)."""

    async def owner(self) -> str | None: ...


class ClusterActions:
    """This process's AMI actions, sent on its own event-less session while some process reads.

    Args:
        client: an ``AmiClient`` built with ``events=False``; run and closed by this object.
        lease: asked who holds the AMI lease before each action this process does not own.
        reading: whether this process reads AMI now (then the lease is not asked).
        timeout: longest wait for Redis's answer, seconds.
    """

    def __init__(
        self,
        client: AmiClient,
        lease: LeaseHolder,
        *,
        reading: Callable[[], bool] = lambda: False,
        timeout: float = 1.0,
    ) -> None:
        if client.events:
            raise ValueError("the action session must log in with events off (events=False)")
        self.client = client
        self.lease = lease
        self.reading = reading
        self.timeout = timeout
        self.refused = 0
        """Actions refused because no process read AMI (or Redis could not say)."""
        self._task: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """Whether the action session is logged in now."""
        return self.client.state.value == "connected"

    def start(self) -> None:
        """Connect, log in with ``Events: off`` and stay connected (idempotent)."""
        if self._task is None:
            self.client.reopen()
            self._task = asyncio.create_task(self.client.run(), name="ami-actions")

    async def aclose(self) -> None:
        """Log off and close the session."""
        task, self._task = self._task, None
        await self.client.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def action(self, name: str, **fields: str) -> AmiMessage | list[AmiMessage]:
        """Send an action to Asterisk; return its reply (``AmiClient.action``).

        Raises:
            NoAmiReader: no process reads AMI now, or Redis cannot say; nothing was sent.
            AmiConnectionError: the action session is not logged in, or dropped meanwhile.
            AmiActionError: no reply within ``action_timeout``.
        """
        if not self.reading():
            await self._check_reader(name)
        return await self.client.action(name, **fields)

    async def _check_reader(self, name: str) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                holder = await self.lease.owner()
        except (LeaseUnavailable, TimeoutError) as exc:
            self.refused += 1
            raise NoAmiReader(
                f"{name} not sent: Redis cannot say which server process reads Asterisk's "
                f"AMI ({str(exc) or 'no answer'}); try again when Redis is back"
            ) from exc
        if holder is None:
            self.refused += 1
            raise NoAmiReader(
                f"{name} not sent: no server process reads Asterisk's AMI right now (a "
                "takeover takes a few seconds); try again"
            )
