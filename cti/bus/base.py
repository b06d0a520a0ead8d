"""The event bus interface, its subscriptions, and topic matching."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Message = dict[str, Any]


def topic_matches(pattern: str, topic: str) -> bool:
    """``call.*`` matches every topic that starts with ``call.``; otherwise exact match."""
    if pattern.endswith("*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic


class Subscription:
    """A bounded, ordered inbox of ``(topic, message)`` pairs.

    When the inbox is full the oldest message is dropped, counted, and logged once: a
    slow consumer loses its own backlog but never slows the publisher or anyone else.
    """

    def __init__(
        self, patterns: tuple[str, ...], maxsize: int, on_close: Callable[[Subscription], None]
    ) -> None:
        self.patterns = patterns
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[tuple[str, Message]] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._on_close = on_close

    def wants(self, topic: str) -> bool:
        return any(topic_matches(pattern, topic) for pattern in self.patterns)

    def put(self, topic: str, message: Message) -> None:
        """Queue a message without ever waiting."""
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "slow event subscriber: dropping its oldest messages",
                    extra={"error_id": "bus.slow_subscriber", "patterns": list(self.patterns)},
                )
        self._items.append((topic, message))
        self._ready.set()

    def get_nowait(self) -> tuple[str, Message] | None:
        return self._items.popleft() if self._items else None

    async def get(self) -> tuple[str, Message]:
        """The next message; raises ``StopAsyncIteration`` once closed and drained."""
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[tuple[str, Message]]:
        return self

    async def __anext__(self) -> tuple[str, Message]:
        return await self.get()

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._ready.set()
            self._on_close(self)


class EventBus(Protocol):
    """Publish JSON-ready messages by topic; subscribe by topic pattern."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, message: Message) -> None: ...

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription: ...


class LocalFanout:
    """Deliver to this process's subscriptions; shared by both bus implementations."""

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
