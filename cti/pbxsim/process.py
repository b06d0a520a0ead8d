"""Processes for the simulated PBX: generators that sleep in virtual time or wait for signals.

A process yields a number of seconds to sleep, or a ``Wait`` for the first of some
``Signal``s (with an optional timeout); ``cti.pbxsim.engine.Pbx`` resumes it. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass


class Signal:
    """A one-shot condition that processes wait for; ``fire`` wakes them all."""

    __slots__ = ("_callbacks", "fired", "value")

    def __init__(self) -> None:
        self.fired = False
        self.value = ""
        self._callbacks: list[Callable[[Signal], None]] = []

    def fire(self, value: str = "") -> None:
        """Mark the condition true (once) and wake whoever waits for it."""
        if self.fired:
            return
        self.fired = True
        self.value = value
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def subscribe(self, callback: Callable[[Signal], None]) -> None:
        """Call ``callback`` when the signal fires (now, if it already has)."""
        if self.fired:
            callback(self)
        else:
            self._callbacks.append(callback)

    def unsubscribe(self, callback: Callable[[Signal], None]) -> None:
        """Stop calling ``callback``."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)


@dataclass(frozen=True, slots=True)
class Wait:
    """What a process yields to sleep until one of ``signals`` fires or ``timeout`` passes."""

    signals: tuple[Signal, ...] = ()
    timeout: float | None = None


Step = float | Wait
Proc = Generator[Step, Signal | None, None]
