"""Which of two wrap-ups of one call wins: the later one, whoever applies them and when."""

from __future__ import annotations

import pytest

from cti.cluster.wrapups import newer

pytestmark = pytest.mark.unit

EARLY = {"disposition": "sale", "at": "2026-11-24T10:00:00+00:00"}
LATE = {"disposition": "resolved", "at": "2026-11-24T10:00:00.250000+00:00"}


def test_a_call_without_a_wrapup_takes_any() -> None:
    assert newer(EARLY, None) and newer(EARLY, {})


def test_the_later_wrapup_wins_whichever_arrives_first() -> None:
    assert newer(LATE, EARLY)
    assert not newer(EARLY, LATE)
    assert not newer(EARLY, EARLY), "the same one again changes nothing"


def test_times_compare_as_instants_not_as_text() -> None:
    moscow = {"disposition": "callback", "at": "2026-11-24T13:00:01+03:00"}
    assert newer(moscow, EARLY) and not newer(EARLY, moscow)


def test_an_unreadable_time_loses_to_a_readable_one() -> None:
    broken = {"disposition": "callback", "at": "yesterday"}
    assert not newer(broken, EARLY)
    assert newer(EARLY, broken)
    assert newer(broken, {"disposition": "sale"}), "neither readable: the new one"
