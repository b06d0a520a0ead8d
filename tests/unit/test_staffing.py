"""Erlang C: the recursion equals the closed formula, and the standard worked example."""

from __future__ import annotations

import math

import pytest

from cti.staffing import agents_needed, erlang_c, with_agents

pytestmark = pytest.mark.unit


def closed_form(agents: int, traffic: float) -> float:
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    return top / (sum(traffic**k / math.factorial(k) for k in range(agents)) + top)


@pytest.mark.parametrize(("agents", "traffic"), [(10, 6.0), (3, 2.0), (14, 10.0), (60, 52.5)])
def test_the_recursion_is_the_formula(agents: int, traffic: float) -> None:
    assert erlang_c(agents, traffic) == pytest.approx(closed_form(agents, traffic), abs=1e-12)


def test_the_textbook_value() -> None:
    assert erlang_c(10, 6.0) == pytest.approx(0.1013, abs=1e-3)


def test_the_standard_worked_example() -> None:
    """100 calls in half an hour, 3-minute calls, 80% answered within 20 seconds."""
    needed = agents_needed(200, 180, 0.8, 20)
    assert needed.agents == 14 and needed.traffic == pytest.approx(10.0)
    assert needed.wait_probability == pytest.approx(0.1741, abs=1e-3)
    assert needed.service_level == pytest.approx(0.8884, abs=1e-3)
    assert needed.asa == pytest.approx(7.84, abs=1e-2)
    assert needed.occupancy == pytest.approx(0.7143, abs=1e-3)
    short = with_agents(11, 200, 180, 20)
    assert (round(short.wait_probability, 4), round(short.service_level, 4)) == (0.6821, 0.3896)


def test_too_few_agents_always_wait_and_bad_input_is_refused() -> None:
    assert with_agents(10, 200, 180, 20).service_level == 0.0
    with pytest.raises(ValueError):
        agents_needed(200, 0, 0.8, 20)
