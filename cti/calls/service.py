"""The call service: runs the tracker, publishes its events, hands finished calls to storage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from cti.calls.model import CallEvent, CallEventType
from cti.calls.tracker import CallTracker

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Where domain events go (the event bus)."""

    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...


class CallSink(Protocol):
    """Where finished calls go (the call writer); ``submit`` must never block."""

    def submit(self, call: dict[str, Any]) -> None: ...


class CallService:
    """Apply AMI events to the tracker and fan the results out, in stream order."""

    def __init__(
        self,
        publisher: Publisher,
        sink: CallSink,
        *,
        tracker: CallTracker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tracker = tracker or CallTracker()
        self.publisher = publisher
        self.sink = sink
        self.clock = clock
        self.published = 0
        self.listeners: list[Callable[[CallEvent], None]] = []
        """Called in this process with every domain event, before it is published."""

    @property
    def handled_events(self) -> frozenset[str]:
        """AMI events the service needs; the AMI client may drop all others."""
        return self.tracker.handled_events

    async def on_event(self, message: Mapping[str, str]) -> None:
        """Apply one AMI event."""
        await self._emit(self.tracker.handle(message, self.clock()))

    async def on_snapshot(
        self, channels: Iterable[Mapping[str, str]], queue_entries: Iterable[Mapping[str, str]]
    ) -> None:
        """Reconcile with live state read back from Asterisk after a (re)connect."""
        events = self.tracker.reconcile(channels, queue_entries, self.clock())
        ended = sum(1 for event in events if event.type is CallEventType.ENDED)
        log.info(
            "resynchronised with Asterisk: %d live calls, %d ended while unseen",
            len(self.tracker.calls),
            ended,
        )
        await self._emit(events)

    async def _emit(self, events: list[CallEvent]) -> None:
        for event in events:
            if event.type is CallEventType.ENDED:
                vanished = event.data.get("vanished")
                self.sink.submit({**event.call, "vanished": True} if vanished else event.call)
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:  # one listener's bug never stops the call stream
                    log.exception(
                        "a call event listener failed", extra={"error_id": "calls.listener"}
                    )
            await self.publisher.publish(event.type.value, event.to_dict())
            self.published += 1

    def restart_tracking(self, states: Iterable[Mapping[str, Any]] = ()) -> int:
        """Forget every live call and carry on from ``states`` (``CallTracker.export``).

        For a process that stops or starts reading AMI: what it followed is another
        process's to finish now, and what another process followed is its own. A state
        that cannot be read is logged and skipped. Returns how many calls were adopted.
        """
        tracker = CallTracker()
        for state in states:
            try:
                tracker.adopt(state)
            except (KeyError, TypeError, ValueError) as exc:
                log.error(
                    "cannot adopt call %s: %s",
                    state.get("linkedid"),
                    exc,
                    extra={"error_id": "calls.adopt", "linkedid": state.get("linkedid")},
                )
        self.tracker = tracker
        return len(tracker.calls)

    def call(self, linkedid: str) -> dict[str, Any] | None:
        """A live call as a JSON-ready dict, if it is still going on."""
        call = self.tracker.calls.get(linkedid)
        return call.to_dict() if call is not None else None

    def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool:
        """Keep a wrap-up on a live call (stored with it when it ends); False if gone."""
        call = self.tracker.calls.get(linkedid)
        if call is None:
            return False
        call.wrapup = wrapup
        return True

    def active(self) -> list[dict[str, Any]]:
        """Live calls, oldest first, as JSON-ready dicts."""
        return [call.to_dict() for call in self.tracker.active()]
