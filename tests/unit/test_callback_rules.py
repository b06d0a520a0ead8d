"""Call-back rules: checked in full, hours in the site's time zone, retries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cti.callbacks.rules import CallbackRulesError, parse_callback_rules
from cti.callbacks.service import shipped_rules

MOSCOW = ZoneInfo("Europe/Moscow")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW).timestamp()


def test_the_shipped_rules_are_valid() -> None:
    rules = parse_callback_rules(shipped_rules())
    assert rules.offered_in("anything") and rules.announce == "cti/callback-hello"


def test_every_problem_is_named() -> None:
    with pytest.raises(CallbackRulesError) as caught:
        parse_callback_rules(
            {
                "timezone": "Mars/Olympus",
                "retry_minutes": [0],
                "max_attempts": 0,
                "hours": {"days": ["mon"], "from": "18:00", "to": "09:00"},
                "queues": ["sales", "sales"],
                "surprise": 1,
            }
        )
    text = " ".join(caught.value.problems)
    for place in ("timezone", "retry_minutes", "max_attempts", "hours", "surprise"):
        assert place in text


def test_duplicate_queues_are_refused() -> None:
    with pytest.raises(CallbackRulesError, match="twice"):
        parse_callback_rules({"queues": ["sales", "sales"]})


def test_hours_are_the_sites_local_time() -> None:
    rules = parse_callback_rules(
        {
            "timezone": "Europe/Moscow",
            "hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"},
        }
    )
    assert rules.open_at(at("2026-11-23T09:00:00"))  # a Monday
    assert not rules.open_at(at("2026-11-23T08:59:00"))
    assert not rules.open_at(at("2026-11-22T12:00:00"))  # a Sunday
    assert rules.day_start(at("2026-11-23T15:00:00")) == at("2026-11-23T00:00:00")


def test_retries_follow_the_schedule_then_give_up() -> None:
    rules = parse_callback_rules({"retry_minutes": [5, 30], "max_attempts": 3})
    assert [rules.retry_after(n) for n in (1, 2, 3)] == [300.0, 1800.0, None]
    assert parse_callback_rules({"retry_minutes": [5], "max_attempts": 9}).retry_after(4) == 300.0
