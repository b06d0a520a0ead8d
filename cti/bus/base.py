"""The event bus interface, its bounded subscriptions, and topic matching.

Topics are dotted names (``call.answered``). A subscription names topics exactly or by a
prefix ending in ``*`` (``call.*``; ``*`` alone is every topic). Messages are JSON-ready
dicts; every local subscriber gets the same object, so treat them as read-only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from cti.bus.exceptions import InvalidTopicError

log = logging.getLogger(__name__)

Message = dict[str, Any]
Delivery = tuple[str, Message]


def check_topic(topic: str) -> str:
    """Return ``topic`` if a message may be published on it."""
    if not topic:
        raise InvalidTopicError(topic, "empty")
    if "*" in topic:
        raise InvalidTopicError(topic, "'*' is for subscriptions, not for publishing")
    return topic


def check_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is a topic or a prefix ending in ``*``."""
    if not pattern:
        raise InvalidTopicError(pattern, "empty")
    if "*" in pattern[:-1]:
        raise InvalidTopicError(pattern, "'*' is allowed only at the end")
    return pattern


def topic_matches(pattern: str, topic: str) -> bool:
    """``call.*`` matches every topic that starts with ``call.``; otherwise exact match."""
    if pattern.endswith("*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic


class Subscription:
    """A bounded, ordered inbox of ``(topic, message)`` pairs; iterate it with ``async for``.

    When the inbox is full the oldest message is dropped and counted in ``dropped``, and
    the first drop is logged: a slow consumer loses its own backlog but never slows the
    publisher or anyone else. Iteration ends once the subscription is closed and drained.
    """

    def __init__(
        self, patterns: tuple[str, ...], maxsize: int, on_close: Callable[[Subscription], None]
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        self.patterns = tuple(check_pattern(p) for p in patterns)
        self.maxsize = maxsize
        self.dropped = 0
        self._exact = frozenset(p for p in self.patterns if not p.endswith("*"))
        self._prefixes = tuple(p[:-1] for p in self.patterns if p.endswith("*"))
        self._items: deque[Delivery] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._closed

    def wants(self, topic: str) -> bool:
        return topic in self._exact or (bool(self._prefixes) and topic.startswith(self._prefixes))

    def put(self, topic: str, message: Message) -> None:
        """Queue a message without ever waiting; drop the oldest when full."""
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "slow event subscriber: dropping its oldest messages",
                    extra={
                        "error_id": "bus.slow_subscriber",
                        "patterns": list(self.patterns),
                        "maxsize": self.maxsize,
                    },
                )
        self._items.append((topic, message))
        self._ready.set()

    def get_nowait(self) -> Delivery | None:
        """The next message if one is queued, else ``None``."""
        return self._items.popleft() if self._items else None

    async def get(self) -> Delivery:
        """The next message; raises ``StopAsyncIteration`` once closed and drained."""
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Delivery:
        return await self.get()

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Stop receiving; a waiting consumer gets what is queued, then the end."""
        if not self._closed:
            self._closed = True
            self._ready.set()
            self._on_close(self)


class EventBus(Protocol):
    """Publish JSON-ready messages by topic; subscribe by topic or ``prefix*``."""

    async def start(self) -> None:
        """Connect what needs connecting; call once before use."""

    async def close(self) -> None:
        """Deliver what can still be delivered, then end every subscription."""

    async def publish(self, topic: str, message: Message) -> None:
        """Send ``message`` to every matching subscriber; never waits for a subscriber."""

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription:
        """A new subscription to ``patterns`` (every topic when none are given)."""


class LocalFanout:
    """This process's subscriptions; both bus implementations deliver through it."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription:
        subscription = Subscription(patterns or ("*",), maxsize, self._remove)
        self.subscriptions.append(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self.subscriptions:
            self.subscriptions.remove(subscription)

    def deliver(self, topic: str, message: Message) -> None:
        for subscription in self.subscriptions:
            if subscription.wants(topic):
                subscription.put(topic, message)

    def close_all(self) -> None:
        for subscription in list(self.subscriptions):
            subscription.close()
