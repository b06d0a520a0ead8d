"""Routing rules as data: which reason, customer and hour goes to which skill and queue.

A document an admin edits, checked in full before it is saved::

    {"skills": {"sales": "sales", "billing": "billing", "complaints": "complaints"},
     "senior_level": 4,
     "rules": [
       {"id": "vip_complaints", "priority": 10,
        "when": {"reason": ["complaint"], "tier": ["gold", "platinum"]},
        "target": {"skill": "complaints", "min_level": 4},
        "overflow": {"after_seconds": 60, "to": "complaints_any"}},
       {"id": "complaints_any", "priority": 20, "when": {"reason": ["complaint"]},
        "target": {"skill": "complaints"}}],
     "default": {"skill": "frontdesk"}}

``skills`` maps each skill to the Asterisk queue that holds its agents. A rule matches
when every condition it names holds (a list means "one of"); the lowest ``priority``
number wins. Refused on save: a skill or overflow target nobody declared, two rules of
one priority that can match the same call, an overflow that comes back to itself.

``holidays`` lists the site's days off (``2026-12-31``, or ``01-01`` for every year); a
rule with ``"when": {"holiday": true}`` applies on those days only, ``false`` on the
others (with ``hours`` for the time of day).
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cti.checks import Problems, check_document

NAME = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
QUEUE = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class RoutingError(Problems):
    """Rules that cannot be saved; ``problems`` names every faulty place."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Strict):
    """Days of the week and a time window (``from`` before ``to``; local time of the site)."""

    days: list[str] = Field(default_factory=lambda: list(DAYS), min_length=1)
    start: str = Field("00:00", alias="from")
    end: str = Field("23:59", alias="to")

    @model_validator(mode="after")
    def _check(self) -> Hours:
        bad = [d for d in self.days if d not in DAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}; use {list(DAYS)}")
        if not _CLOCK.match(self.start) or not _CLOCK.match(self.end):
            raise ValueError("times are HH:MM")
        if self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self

    def window(self) -> tuple[frozenset[int], time, time]:
        return (
            frozenset(DAYS.index(d) for d in self.days),
            time.fromisoformat(self.start),
            time.fromisoformat(self.end),
        )


class When(_Strict):
    """Conditions; one left out matches everything."""

    reason: list[NAME] | None = Field(None, min_length=1)
    tier: list[NAME] | None = Field(None, min_length=1)
    language: list[str] | None = Field(None, min_length=1)
    rescue: bool | None = None
    hours: Hours | None = None
    holiday: bool | None = None
    """``true``: only on the site's holidays (``holidays``); ``false``: only on other days."""
    queue_wait_over: int | None = Field(None, ge=0, le=86400)
    """Seconds the skill's queue has been keeping its oldest caller waiting."""


class Holiday(_Strict):
    """A day the site keeps as a holiday: one date, or the same day every year."""

    date: str = Field(pattern=r"^(\d{4}-)?\d{2}-\d{2}$")
    """``2026-12-31`` (that day) or ``01-01`` (every year)."""
    name: str = Field("", max_length=64)

    @model_validator(mode="after")
    def _check(self) -> Holiday:
        try:
            self.day()
        except ValueError as exc:
            raise ValueError(f"{self.date!r} is not a date") from exc
        return self

    def day(self) -> dt.date | tuple[int, int]:
        """The date, or (month, day) for a holiday kept every year."""
        if len(self.date) == 10:
            return dt.date.fromisoformat(self.date)
        month, day = int(self.date[:2]), int(self.date[3:])
        dt.date(2000, month, day)  # a leap year: 02-29 is a day some years have
        return month, day


class Target(_Strict):
    skill: NAME
    min_level: int = Field(1, ge=1, le=5)
    team: str | None = Field(None, max_length=64)
    queue: QUEUE | None = None
    """Another queue than the skill's own."""


class Overflow(_Strict):
    after_seconds: int = Field(ge=5, le=3600)
    to: NAME
    """The id of another rule whose target takes over."""


class Rule(_Strict):
    id: NAME
    priority: int = Field(ge=0, le=10000)
    when: When = Field(default_factory=When)
    target: Target
    overflow: Overflow | None = None


class RoutingRules(_Strict):
    skills: dict[NAME, QUEUE] = Field(min_length=1)
    senior_level: int = Field(4, ge=1, le=5)
    """Valuable customers and rescues go to agents of at least this level when one is free."""
    affinity_days: int = Field(30, ge=0, le=365)
    """Prefer the agent who last served the contact on any channel within this many days."""
    timezone: str = "UTC"
    """The site's time zone for ``hours`` (an IANA name such as ``Europe/Moscow``)."""
    holidays: list[Holiday] = Field(default_factory=list, max_length=1000)
    """The site's calendar of days off, for ``when.holiday``."""
    rules: list[Rule] = Field(default_factory=list, max_length=2000)
    default: Target

    @model_validator(mode="after")
    def _zone(self) -> RoutingRules:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from exc
        return self


def parse_routing(document: Any) -> RoutingRules:
    """The checked rules; ``RoutingError`` names every problem."""
    return check_document(RoutingRules, document, RoutingError, _references)


def _references(doc: RoutingRules) -> list[str]:
    problems: list[str] = []
    ids = [r.id for r in doc.rules]
    problems += [f"rules: id {i!r} is used twice" for i in sorted(set(ids)) if ids.count(i) > 1]
    by_id = {r.id: r for r in doc.rules}
    targets = [("default", doc.default)] + [(f"rules.{r.id}", r.target) for r in doc.rules]
    for where, target in targets:
        if target.skill not in doc.skills:
            problems.append(
                f"{where}: unknown skill {target.skill!r} (one of {sorted(doc.skills)})"
            )
    for rule in doc.rules:
        if rule.overflow is not None and rule.overflow.to not in by_id:
            problems.append(f"rules.{rule.id}.overflow: no rule {rule.overflow.to!r}")
    problems += _cycles(by_id)
    problems += _overlaps(doc.rules)
    return problems


def _cycles(by_id: dict[str, Rule]) -> list[str]:
    problems = []
    for start in by_id:
        seen = [start]
        rule = by_id[start]
        while rule.overflow is not None and rule.overflow.to in by_id:
            nxt = rule.overflow.to
            if nxt == start:
                problems.append(
                    f"rules.{start}.overflow: comes back to itself ({' > '.join([*seen, nxt])})"
                )
                break
            if nxt in seen:
                break
            seen.append(nxt)
            rule = by_id[nxt]
    return problems


def _overlaps(rules: list[Rule]) -> list[str]:
    """Two rules of one priority that can both match one call: which wins is undefined."""
    problems = []
    by_priority: dict[int, list[Rule]] = {}
    for rule in rules:
        by_priority.setdefault(rule.priority, []).append(rule)
    for priority, same in sorted(by_priority.items()):
        for i, first in enumerate(same):
            for second in same[i + 1 :]:
                if _can_both_match(first.when, second.when):
                    problems.append(
                        f"rules.{second.id}: overlaps rules.{first.id} at priority {priority}; "
                        "give one a different priority or disjoint conditions"
                    )
    return problems


def _can_both_match(a: When, b: When) -> bool:
    for field in ("reason", "tier", "language"):
        left, right = getattr(a, field), getattr(b, field)
        if left is not None and right is not None and not set(left) & set(right):
            return False
    if a.rescue is not None and b.rescue is not None and a.rescue != b.rescue:
        return False
    if a.holiday is not None and b.holiday is not None and a.holiday != b.holiday:
        return False
    if a.hours is not None and b.hours is not None:
        days_a, from_a, to_a = a.hours.window()
        days_b, from_b, to_b = b.hours.window()
        if not days_a & days_b or to_a <= from_b or to_b <= from_a:
            return False
    return True
