"""Which owed call-back an agent serves now: the decision, kept apart from all I/O.

A caller who asked to be called back keeps their place in line: the moment they joined
the queue (``place``). A call-back is served when an agent of its queue is free and
nobody is ahead of it: no earlier call-back of that queue still owed, and no caller
still waiting in the queue who joined before it (Asterisk serves those itself, to the
same agents). A call-back waiting for a retry (``due`` in the future) does not hold
the line up; it takes its place again once due.

An agent in several queues serves the earliest place among them: candidates are taken
across queues in place order. Each tick costs O((Q + D) log Q) for Q queues with
call-backs owed and D decisions, plus the not-yet-due call-backs skipped at the front
of a queue; ``benchmarks/callbacks.py`` measures it with 500 owed across 20 queues.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Owed:
    """What the scheduler needs of one owed call-back."""

    id: int
    queue: str
    place: float
    """Epoch seconds the caller joined the queue: their place in line."""
    due: float = 0.0
    """Epoch seconds before which it is not to be dialled (a retry's wait)."""

    @property
    def key(self) -> tuple[float, int]:
        return (self.place, self.id)


@dataclass(frozen=True, slots=True)
class Decision:
    """Ring ``agent`` (an interface) for call-back ``owed`` now."""

    owed: Owed
    agent: str


class Scheduler:
    """Owed call-backs per queue in place order; ``tick`` decides who is served now."""

    def __init__(self, owed: Iterable[Owed] = ()) -> None:
        self._lines: dict[str, list[tuple[float, int]]] = {}
        self._owed: dict[int, Owed] = {}
        for item in owed:
            self.add(item)

    def __len__(self) -> int:
        return len(self._owed)

    def __contains__(self, callback_id: object) -> bool:
        return callback_id in self._owed

    def add(self, owed: Owed) -> None:
        """Owe ``owed`` (again, replacing what was owed under its id)."""
        self.remove(owed.id)
        self._owed[owed.id] = owed
        bisect.insort(self._lines.setdefault(owed.queue, []), owed.key)

    def remove(self, callback_id: int) -> Owed | None:
        """No longer owed (being dialled, done or given up)."""
        owed = self._owed.pop(callback_id, None)
        if owed is None:
            return None
        line = self._lines[owed.queue]
        index = bisect.bisect_left(line, owed.key)
        del line[index]
        if not line:
            del self._lines[owed.queue]
        return owed

    def line(self, queue: str) -> list[Owed]:
        """A queue's owed call-backs in place order."""
        return [self._owed[i] for _, i in self._lines.get(queue, ())]

    def tick(
        self,
        now: float,
        free: Mapping[str, Sequence[str]],
        oldest_waiting: Mapping[str, float],
    ) -> list[Decision]:
        """Who serves which call-back now; the chosen ones leave the lines.

        Args:
            now: epoch seconds.
            free: per queue, the agents Asterisk could ring now, best first.
            oldest_waiting: per queue, when its longest-waiting live caller joined.
        """
        taken: set[str] = set()
        fronts: list[tuple[float, int, str, int]] = []
        for queue in self._lines.keys() & free.keys():
            start = self._next_due(queue, 0, now)
            if start is not None:
                place, callback_id = self._lines[queue][start]
                fronts.append((place, callback_id, queue, start))
        heapq.heapify(fronts)
        decisions: list[Decision] = []
        while fronts:
            place, callback_id, queue, index = heapq.heappop(fronts)
            if oldest_waiting.get(queue, place) < place:
                continue  # a live caller is ahead: Asterisk serves them first
            agent = next((a for a in free[queue] if a not in taken), None)
            if agent is None:
                continue
            taken.add(agent)
            decisions.append(Decision(self._owed[callback_id], agent))
            following = self._next_due(queue, index + 1, now)
            if following is not None:
                place, callback_id = self._lines[queue][following]
                heapq.heappush(fronts, (place, callback_id, queue, following))
        for decision in decisions:
            self.remove(decision.owed.id)
        return decisions

    def _next_due(self, queue: str, start: int, now: float) -> int | None:
        line = self._lines[queue]
        for index in range(start, len(line)):
            if self._owed[line[index][1]].due <= now:
                return index
        return None
