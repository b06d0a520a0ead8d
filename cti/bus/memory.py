"""The in-process event bus: the default for a single server process."""

from __future__ import annotations

import json

from cti.bus.base import LocalFanout, Message, Subscription, check_topic
from cti.bus.exceptions import BusClosedError, MessageEncodingError


class InProcessBus:
    """Fan messages out to this process's subscribers, synchronously and in order.

    ``publish`` puts the message in each matching inbox before it returns, so subscribers
    see messages in publish order. Messages are not copied or encoded; with
    ``check_json=True`` each is JSON-encoded once, so a message that could not cross to
    another process over the Redis bus fails here too.
    """

    def __init__(self, *, check_json: bool = False) -> None:
        self.check_json = check_json
        self.published = 0
        self._fanout = LocalFanout()
        self._closed = False

    async def start(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """End every subscription; consumers still get what is queued."""
        self._closed = True
        self._fanout.close_all()

    async def publish(self, topic: str, message: Message) -> None:
        """Deliver to every matching subscriber now."""
        if self._closed:
            raise BusClosedError("publish")
        check_topic(topic)
        if self.check_json:
            try:
                json.dumps(message)
            except (TypeError, ValueError) as exc:
                raise MessageEncodingError(topic, exc) from exc
        self.published += 1
        self._fanout.deliver(topic, message)

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription:
        """A new bounded subscription to ``patterns`` (every topic when none are given)."""
        if self._closed:
            raise BusClosedError("subscribe")
        return self._fanout.subscribe(*patterns, maxsize=maxsize)
