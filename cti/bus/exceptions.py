"""Errors of the event bus; each carries its data and a stable ``error_id``."""

from __future__ import annotations


class BusError(Exception):
    """Base of every event-bus error."""

    error_id = "bus.error"


class BusClosedError(BusError):
    """The bus was used after ``close()``."""

    error_id = "bus.closed"

    def __init__(self, operation: str) -> None:
        super().__init__(f"cannot {operation}: the event bus is closed")
        self.operation = operation


class InvalidTopicError(BusError, ValueError):
    """A topic or topic pattern the bus does not accept."""

    error_id = "bus.invalid_topic"

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"invalid topic {topic!r}: {reason}")
        self.topic = topic
        self.reason = reason


class MessageEncodingError(BusError, TypeError):
    """A message that JSON cannot carry, so it could not cross processes."""

    error_id = "bus.message_not_json"

    def __init__(self, topic: str, cause: Exception) -> None:
        super().__init__(f"message on {topic!r} is not JSON-serialisable: {cause}")
        self.topic = topic
        self.cause = cause
