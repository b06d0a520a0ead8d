"""Erlang C staffing: how many agents a queue needs for a service level.

Calls arrive at random (Poisson) and are answered in order by ``agents`` agents, each
call taking ``aht`` seconds on average; callers wait, they do not give up (Erlang C's
model, the contact-center industry's standard first estimate). With traffic
``A = calls per second × aht`` (erlangs):

- probability a caller waits: ``C(N, A)``, computed through the Erlang B recursion
  (stable for hundreds of agents, no factorials): ``B(0) = 1``,
  ``B(k) = A·B(k−1) / (k + A·B(k−1))``, ``C = N·B / (N − A·(1 − B))``;
- service level (answered within ``t`` seconds): ``1 − C · e^(−(N − A)·t / aht)``;
- average speed of answer: ``C · aht / (N − A)``; occupancy: ``A / N``.

Pure code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AGENTS = 10_000


@dataclass(frozen=True, slots=True)
class Staffing:
    agents: int
    traffic: float
    """Offered load in erlangs."""
    wait_probability: float
    service_level: float
    asa: float
    """Average speed of answer, seconds."""
    occupancy: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "agents": self.agents,
            "traffic_erlangs": round(self.traffic, 4),
            "wait_probability": round(self.wait_probability, 4),
            "service_level": round(self.service_level, 4),
            "asa_seconds": round(self.asa, 2),
            "occupancy": round(self.occupancy, 4),
        }


def erlang_c(agents: int, traffic: float) -> float:
    """The probability that a caller waits, with ``agents`` agents and ``traffic`` erlangs."""
    if agents <= traffic:
        return 1.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return agents * blocking / (agents - traffic * (1 - blocking))


def with_agents(agents: int, calls_per_hour: float, aht: float, answer_within: float) -> Staffing:
    """The figures of a queue staffed with ``agents`` agents."""
    traffic = calls_per_hour / 3600 * aht
    waits = erlang_c(agents, traffic)
    if agents <= traffic:
        return Staffing(agents, traffic, 1.0, 0.0, math.inf, 1.0)
    level = 1 - waits * math.exp(-(agents - traffic) * answer_within / aht)
    return Staffing(
        agents, traffic, waits, level, waits * aht / (agents - traffic), traffic / agents
    )


def agents_needed(
    calls_per_hour: float, aht: float, target: float, answer_within: float
) -> Staffing:
    """The fewest agents whose service level reaches ``target`` (0 to 1)."""
    if calls_per_hour < 0 or aht <= 0 or not 0 < target < 1 or answer_within < 0:
        raise ValueError("calls ≥ 0, handle time > 0, 0 < target < 1, answer time ≥ 0")
    traffic = calls_per_hour / 3600 * aht
    agents = max(1, math.floor(traffic) + 1)
    while agents <= MAX_AGENTS:
        figures = with_agents(agents, calls_per_hour, aht, answer_within)
        if figures.service_level >= target:
            return figures
        agents += 1
    raise ValueError(f"more than {MAX_AGENTS} agents would be needed")
