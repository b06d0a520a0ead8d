"""Tallies (sums that add up across slots and groups) and the figures derived from them.

A tally holds only what can be summed, so the database can keep one per 15-minute slot
and group, and any larger group is their sum; rates and averages are derived at the end.
``tally_call`` is the definition of every sum for one call: the SQL roll-ups in
``cti.store.reports`` compute the same, and the benchmark's baseline uses it directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from cti.reports.exceptions import UnsupportedServiceLevel

SERVICE_LEVELS = (5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 180, 300)
"""Answer-within thresholds (seconds) the roll-ups count; a report asks for one of them."""
DEFAULT_SERVICE_LEVEL = 20
MAX_WRAPUP_SECONDS = 1800.0
"""A wrap-up saved later than this after the call ended is not counted as after-call work:
the agent did other things meanwhile, and counting the gap would swell handle times."""
WRAPUP_AT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
"""How a wrap-up's save time must begin to be read."""
OUTCOMES = ("answered", "abandoned", "ivr_hangup", "unanswered", "lost")
"""The outcomes a finished call is stored with (``cti.calls.model.CallOutcome``)."""
WITHIN_COLUMNS = tuple(f"answered_within_{seconds}" for seconds in SERVICE_LEVELS)


def service_level(seconds: int) -> int:
    """A requested answer-within threshold, if the roll-ups count it."""
    if seconds not in SERVICE_LEVELS:
        allowed = ", ".join(map(str, SERVICE_LEVELS))
        raise UnsupportedServiceLevel(
            f"Service level threshold {seconds} s is not kept; choose one of {allowed} seconds."
        )
    return seconds


def _ratio(part: float, whole: float, scale: float = 1.0, digits: int = 1) -> float | None:
    return round(part / whole * scale, digits) if whole else None


@dataclass(slots=True)
class CallTally:
    """Sums over a group of calls (the columns of ``report_calls``)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    ivr_hangup: int = 0
    unanswered: int = 0
    lost: int = 0
    answered_wait_sum: float = 0.0
    answered_wait_n: int = 0
    abandoned_wait_sum: float = 0.0
    abandoned_wait_n: int = 0
    wait_max: float | None = None
    talk_sum: float = 0.0
    talk_n: int = 0
    wrapup_sum: float = 0.0
    wrapup_n: int = 0
    within: list[int] = field(default_factory=lambda: [0] * len(SERVICE_LEVELS))
    """Answered within each of ``SERVICE_LEVELS`` seconds."""

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> CallTally:
        """A tally from a grouped row whose columns are named as in ``report_calls``."""
        tally = cls(within=[int(row[name] or 0) for name in WITHIN_COLUMNS])
        for name in SUMMED_CALL_COLUMNS:
            value = row[name] or 0
            setattr(tally, name, float(value) if name.endswith("_sum") else int(value))
        wait_max = row["wait_max"]
        tally.wait_max = float(wait_max) if wait_max is not None else None
        return tally

    def add(self, other: CallTally) -> CallTally:
        """Add ``other`` into this tally; returns self."""
        for name in SUMMED_CALL_COLUMNS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.wait_max is not None and (self.wait_max is None or other.wait_max > self.wait_max):
            self.wait_max = other.wait_max
        self.within = [a + b for a, b in zip(self.within, other.within, strict=True)]
        return self

    def figures(self, service_level: int = DEFAULT_SERVICE_LEVEL) -> dict[str, Any]:
        """The report's figures for this group (see docs/reports.md for each definition)."""
        known = self.answered + self.abandoned + self.ivr_hangup + self.unanswered + self.lost
        within = self.within[SERVICE_LEVELS.index(service_level)]
        handled = self.talk_sum + self.wrapup_sum
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "ivr_hangup": self.ivr_hangup,
            "unanswered": self.unanswered,
            "lost": self.lost,
            "other": self.offered - known,
            "answer_pct": _ratio(self.answered, self.offered, 100),
            "abandon_pct": _ratio(self.abandoned, self.offered, 100),
            "service_level_pct": _ratio(within, self.answered + self.abandoned, 100),
            "asa_seconds": _ratio(self.answered_wait_sum, self.answered_wait_n),
            "avg_abandon_seconds": _ratio(self.abandoned_wait_sum, self.abandoned_wait_n),
            "max_wait_seconds": round(self.wait_max, 1) if self.wait_max is not None else None,
            "avg_talk_seconds": _ratio(self.talk_sum, self.talk_n),
            "avg_wrapup_seconds": _ratio(self.wrapup_sum, self.wrapup_n),
            "aht_seconds": _ratio(handled, self.talk_n),
            "talk_seconds": round(self.talk_sum, 1),
        }


SUMMED_CALL_COLUMNS = tuple(
    f.name for f in fields(CallTally) if f.name not in {"wait_max", "within"}
)
"""``report_calls`` columns summed across slots (``wait_max`` is their maximum)."""
CALL_FIGURES = tuple(CallTally().figures())


@dataclass(slots=True)
class AgentTally:
    """Sums over one agent's calls, messages and surveys (``report_agents`` and others)."""

    answered: int = 0
    outbound: int = 0
    talk_sum: float = 0.0
    talk_n: int = 0
    wrapup_sum: float = 0.0
    wrapup_n: int = 0
    missed: int = 0
    messages_in: int = 0
    messages_out: int = 0
    csat: CsatTally = field(default_factory=lambda: CsatTally())

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AgentTally:
        tally = cls()
        for name in AGENT_CALL_COLUMNS:
            value = row[name] or 0
            setattr(tally, name, float(value) if name.endswith("_sum") else int(value))
        return tally

    def add(self, other: AgentTally) -> AgentTally:
        for name in (*AGENT_CALL_COLUMNS, "messages_in", "messages_out"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.csat.add(other.csat)
        return self

    def figures(self) -> dict[str, Any]:
        return {
            "handled": self.answered,
            "outbound": self.outbound,
            "missed": self.missed,
            "talk_seconds": round(self.talk_sum, 1),
            "avg_talk_seconds": _ratio(self.talk_sum, self.talk_n),
            "avg_wrapup_seconds": _ratio(self.wrapup_sum, self.wrapup_n),
            "aht_seconds": _ratio(self.talk_sum + self.wrapup_sum, self.talk_n),
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "csat_answered": self.csat.answered,
            "csat_average": self.csat.average(),
        }


AGENT_CALL_COLUMNS = (
    "answered",
    "outbound",
    "talk_sum",
    "talk_n",
    "wrapup_sum",
    "wrapup_n",
    "missed",
)
"""``report_agents`` columns, all summed."""


@dataclass(slots=True)
class CsatTally:
    """Surveys asked and the scores given (``report_csat``)."""

    asked: int = 0
    scores: list[int] = field(default_factory=lambda: [0] * 5)
    """How many answered 1, 2, 3, 4 and 5."""

    def count(self, score: int, surveys: int) -> None:
        """Count ``surveys`` surveys that got ``score`` (0: no answer; others out of 1-5 too)."""
        self.asked += surveys
        if 1 <= score <= 5:
            self.scores[score - 1] += surveys

    @property
    def answered(self) -> int:
        return sum(self.scores)

    def add(self, other: CsatTally) -> CsatTally:
        self.asked += other.asked
        self.scores = [a + b for a, b in zip(self.scores, other.scores, strict=True)]
        return self

    def average(self) -> float | None:
        total = sum(score * n for score, n in enumerate(self.scores, start=1))
        return _ratio(total, self.answered, digits=2)

    def figures(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "answered": self.answered,
            "response_pct": _ratio(self.answered, self.asked, 100),
            "average": self.average(),
            "satisfied_pct": _ratio(self.scores[3] + self.scores[4], self.answered, 100),
            **{f"score_{n}": self.scores[n - 1] for n in range(1, 6)},
        }


# --- one call, the definition the SQL roll-ups follow -----------------------------------------


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return None


def wrapup_seconds(ended_at: Any, wrapup: Any) -> float | None:
    """After-call work of one call: from its end to the wrap-up's save, 0 if saved during the
    call; None if there is none, or it came more than ``MAX_WRAPUP_SECONDS`` later.

    The save time counts only as ISO text with a time (``2026-11-10T10:05:00+00:00``, as the
    wrap-up endpoint writes it), the same test the SQL roll-ups apply."""
    if not isinstance(wrapup, Mapping):
        return None
    at = wrapup.get("at")
    if not isinstance(at, str) or not WRAPUP_AT.match(at):
        return None
    saved, ended = _moment(at), _moment(ended_at)
    if saved is None or ended is None:
        return None
    seconds = max((saved - ended).total_seconds(), 0.0)
    return seconds if seconds <= MAX_WRAPUP_SECONDS else None


def tally_call(call: Mapping[str, Any]) -> CallTally:
    """The sums one finished call adds to its group (a mapping like ``Call.to_dict()``)."""
    outcome = call.get("outcome")
    wait, talk = call.get("wait_seconds"), call.get("talk_seconds")
    tally = CallTally(offered=1, wait_max=float(wait) if wait is not None else None)
    if outcome in OUTCOMES:
        setattr(tally, str(outcome), 1)
    if outcome == "answered":
        if wait is not None:
            tally.answered_wait_sum, tally.answered_wait_n = float(wait), 1
        if talk is not None:
            tally.talk_sum, tally.talk_n = float(talk), 1
        wrapup = wrapup_seconds(call.get("ended_at"), call.get("wrapup"))
        if wrapup is not None:
            tally.wrapup_sum, tally.wrapup_n = wrapup, 1
        tally.within = [int((wait or 0.0) <= seconds) for seconds in SERVICE_LEVELS]
    elif outcome == "abandoned" and wait is not None:
        tally.abandoned_wait_sum, tally.abandoned_wait_n = float(wait), 1
    return tally


def tally_calls(calls: Iterable[Mapping[str, Any]]) -> CallTally:
    """The sums over many calls."""
    total = CallTally()
    for call in calls:
        total.add(tally_call(call))
    return total


def missed_rings(call: Mapping[str, Any]) -> list[str]:
    """Interfaces that rang for this call and let it ring out (``noanswer``)."""
    rings = call.get("rings")
    if not isinstance(rings, list):
        return []
    return [
        str(ring["interface"])
        for ring in rings
        if isinstance(ring, Mapping) and ring.get("outcome") == "noanswer" and ring.get("interface")
    ]
