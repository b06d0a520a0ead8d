"""Call-back rules: when a caller may ask to be called back, and how attempts are retried.

A document an admin edits, checked in full before it is saved, versioned and audited
like the routing rules::

    {"offer_after_wait": 90,
     "timezone": "Europe/Moscow",
     "hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "20:00"},
     "queues": ["sales", "support"],
     "daily_attempts_per_number": 3,
     "retry_minutes": [5, 15, 60],
     "max_attempts": 4,
     "agent_ring_seconds": 20,
     "agent_rest_seconds": 10,
     "customer_ring_seconds": 30,
     "announce": "callfold/callback-hello"}

- ``offer_after_wait``: a caller is offered (and may take) a call-back only when the
  queue's expected wait is at least this many seconds.
- ``hours``: call-backs are offered, and dialled, only then (``timezone``'s local time).
- ``queues``: queues that offer call-backs (empty: every queue).
- ``daily_attempts_per_number``: at most this many outbound attempts a day to one number,
  whatever asked for them.
- ``retry_minutes``: after the n-th failed attempt the next waits this long (the last
  value repeats); ``max_attempts`` failed attempts give the call-back up.
- ``agent_rest_seconds``: an agent chosen for a call-back right after a call is held
  (paused, so that the queue does not ring them either) until this long after that call
  ended before their phone rings: their wrap-up (``wrapuptime`` in queues.conf).
- ``announce``: what the customer hears on answering a call-back, before the agent.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cti.checks import Problems, check_document
from cti.routing.rules import Hours

RULES_NAME = "callbacks"
QUEUE = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class CallbackRulesError(Problems):
    """Call-back rules that cannot be saved; ``problems`` names every faulty place."""


class CallbackRules(BaseModel):
    """The checked call-back rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_after_wait: int = Field(60, ge=0, le=86400)
    timezone: str = "UTC"
    hours: Hours = Field(default_factory=lambda: Hours.model_validate({}))
    queues: list[QUEUE] = Field(default_factory=list)
    daily_attempts_per_number: int = Field(3, ge=1, le=50)
    retry_minutes: list[int] = Field(default_factory=lambda: [5, 15, 60], min_length=1)
    max_attempts: int = Field(4, ge=1, le=20)
    agent_ring_seconds: int = Field(20, ge=5, le=120)
    agent_rest_seconds: int = Field(10, ge=0, le=600)
    customer_ring_seconds: int = Field(30, ge=5, le=120)
    announce: str = Field("", max_length=128, pattern=r"^[A-Za-z0-9_/.-]*$")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name)") from None
        return value

    @field_validator("retry_minutes")
    @classmethod
    def _retries(cls, value: list[int]) -> list[int]:
        if any(m < 1 or m > 7 * 24 * 60 for m in value):
            raise ValueError("each retry is 1 to 10080 minutes")
        return value

    def offered_in(self, queue: str) -> bool:
        """Whether callers waiting in ``queue`` may ask to be called back."""
        return not self.queues or queue in self.queues

    def open_at(self, when: float) -> bool:
        """Whether ``when`` (epoch seconds) falls within the hours."""
        local = dt.datetime.fromtimestamp(when, ZoneInfo(self.timezone))
        days, start, end = self.hours.window()
        return local.weekday() in days and start <= local.time().replace(tzinfo=None) <= end

    def day_start(self, when: float) -> float:
        """Epoch seconds of local midnight of ``when``'s day (for the daily limit)."""
        local = dt.datetime.fromtimestamp(when, ZoneInfo(self.timezone))
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def retry_after(self, failures: int) -> float | None:
        """Seconds before the next attempt after ``failures`` failed ones; None: give up."""
        if failures >= self.max_attempts:
            return None
        index = min(max(failures, 1), len(self.retry_minutes)) - 1
        return self.retry_minutes[index] * 60.0


def parse_callback_rules(document: Any) -> CallbackRules:
    """The checked rules; ``CallbackRulesError`` names every problem."""
    return check_document(CallbackRules, document, CallbackRulesError, _references)


def _references(rules: CallbackRules) -> list[str]:
    problems = []
    if len(set(rules.queues)) != len(rules.queues):
        problems.append("queues: a queue is named twice")
    return problems
