"""Pick the bus: Redis when a URL is configured, in-process otherwise."""

from __future__ import annotations

from cti.bus.base import EventBus
from cti.bus.memory import InProcessBus
from cti.bus.redis import RedisBus


def create_bus(redis_url: str | None) -> EventBus:
    """The event bus for this configuration: ``RedisBus`` if ``redis_url``, else in-process."""
    return RedisBus(redis_url) if redis_url else InProcessBus()
