"""What a supervisor must look at now: pure rules over the wallboard's figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cti.supervision.figures import AgentState, Wallboard

MIN_CALLS_FOR_SL = 5
"""A service level over fewer finished calls than this raises no alert (too noisy)."""


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Thresholds, from the wallboard settings."""

    service_level_target: float = 80.0
    paused_too_long: float = 900.0


def alerts(board: Wallboard, rules: AlertRules, now: float) -> list[dict[str, Any]]:
    """Every alert in force: queues under their service level target, callers waiting
    with nobody logged in, agents paused too long. Most urgent first."""
    found: list[tuple[int, dict[str, Any]]] = []
    for name in sorted(board.queues):
        queue = board.queues[name]
        summary = board.queue_summary(name, now)
        if queue.waiting and summary["LoggedIn"] == "0":
            found.append(
                (
                    0,
                    {
                        "kind": "no_agents",
                        "queue": name,
                        "waiting": len(queue.waiting),
                        "message": f"{name}: {len(queue.waiting)} waiting and nobody logged in",
                    },
                )
            )
        if queue.completed + queue.abandoned >= MIN_CALLS_FOR_SL and (
            queue.sl < rules.service_level_target
        ):
            found.append(
                (
                    1,
                    {
                        "kind": "service_level",
                        "queue": name,
                        "value": round(queue.sl, 1),
                        "target": rules.service_level_target,
                        "message": (
                            f"{name}: service level {queue.sl:.1f}% under "
                            f"{rules.service_level_target:g}% (answered within "
                            f"{queue.servicelevel} s)"
                        ),
                    },
                )
            )
    for key in sorted(board.agents):
        agent = board.agents[key]
        paused_for = now - agent.since
        if agent.state is AgentState.PAUSED and paused_for > rules.paused_too_long:
            who = agent.name or agent.interface
            reason = f" ({agent.pause_reason})" if agent.pause_reason else ""
            found.append(
                (
                    2,
                    {
                        "kind": "paused_too_long",
                        "agent": agent.interface,
                        "since": agent.since,
                        "message": f"{who} paused for {int(paused_for // 60)} min{reason}",
                    },
                )
            )
    return [alert for _, alert in sorted(found, key=lambda pair: pair[0])]
