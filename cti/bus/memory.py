"""The in-process event bus: the default for a single server process."""

from __future__ import annotations

from cti.bus.base import LocalFanout, Message, Subscription


class InProcessBus:
    """Fan messages out to this process's subscribers, synchronously and in order."""

    def __init__(self) -> None:
        self._fanout = LocalFanout()
        self.published = 0

    async def start(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        self._fanout.close_all()

    async def publish(self, topic: str, message: Message) -> None:
        self.published += 1
        self._fanout.deliver(topic, message)

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription:
        return self._fanout.subscribe(*patterns, maxsize=maxsize)
