"""Report sections from grouped rows: JSON-ready, in chart order, with a total.

Every section has the same shape, so a page can draw any of them the same way::

    {"by": "queue", "rows": [{"key": "sales", "label": "sales", "offered": 120, ...}],
     "total": {...}, "labels": ["sales", ...], "series": {"offered": [120, ...], ...}}

``rows`` are in the order a chart shows them (hours 0-23, all present; other groups by
volume, the group of calls without one last); ``labels`` and ``series`` are the same
figures as parallel lists, ready for a chart library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from cti.reports.figures import (
    DEFAULT_SERVICE_LEVEL,
    AgentTally,
    CallTally,
    CsatTally,
)
from cti.reports.period import ReportRange, local_hour

NONE_LABELS = {"queue": "(no queue)", "reason": "(no reason)", "agent": "(nobody)"}
CHANNEL_ORDER = ("voice", "sms", "email")
CHANNEL_LABELS = {"voice": "Voice", "sms": "SMS", "email": "Email"}
CHANNEL_FIGURES = ("inbound", "outbound", "total")


@dataclass(frozen=True, slots=True)
class Agent:
    """A user who takes calls: how reports name them."""

    username: str
    display_name: str
    interface: str | None


def section(by: str, rows: list[dict[str, Any]], total: dict[str, Any]) -> dict[str, Any]:
    """The common shape: rows, total, and the rows again as chart labels and series."""
    figures = [name for name in total if name not in {"key", "label"}]
    return {
        "by": by,
        "rows": rows,
        "total": total,
        "labels": [row["label"] for row in rows],
        "series": {name: [row.get(name) for row in rows] for name in figures},
    }


def _by_volume(groups: Mapping[str | None, CallTally]) -> list[str | None]:
    return sorted(groups, key=lambda key: (key is None, -groups[key].offered, key or ""))


def calls_by(
    by: str,
    groups: Iterable[tuple[str | None, CallTally]],
    service_level: int = DEFAULT_SERVICE_LEVEL,
) -> dict[str, Any]:
    """Calls by queue or by reason: one row per group, ``None`` (no queue/reason) last."""
    merged: dict[str | None, CallTally] = {}
    for key, tally in groups:
        merged.setdefault(key or None, CallTally()).add(tally)
    rows = [
        {"key": key, "label": key or NONE_LABELS[by], **merged[key].figures(service_level)}
        for key in _by_volume(merged)
    ]
    total = CallTally()
    for tally in merged.values():
        total.add(tally)
    return section(by, rows, total.figures(service_level))


def calls_by_hour(
    slots: Iterable[tuple[int, CallTally]],
    tz: ZoneInfo,
    service_level: int = DEFAULT_SERVICE_LEVEL,
) -> dict[str, Any]:
    """Calls by hour of the day on the clocks of ``tz``: 24 rows, empty hours included.

    Each 15-minute slot goes to the local hour it falls in, so on the day clocks go back
    the repeated hour holds both, and on the day they go forward the skipped hour is empty.
    """
    hours = [CallTally() for _ in range(24)]
    total = CallTally()
    for slot, tally in slots:
        hours[local_hour(slot, tz)].add(tally)
        total.add(tally)
    rows = [
        {"key": hour, "label": f"{hour:02d}:00", **hours[hour].figures(service_level)}
        for hour in range(24)
    ]
    return section("hour", rows, total.figures(service_level))


def channels(
    calls: Iterable[tuple[str, int]], messages: Iterable[tuple[str, str, int]]
) -> dict[str, Any]:
    """Contacts by channel, both ways: voice from ``(direction, calls)``, SMS and email (and
    any other message channel) from ``(channel, direction, messages)``."""
    counts: dict[str, dict[str, int]] = {
        name: dict.fromkeys(CHANNEL_FIGURES, 0) for name in CHANNEL_ORDER
    }

    def count(channel: str, direction: str, n: int) -> None:
        row = counts.setdefault(channel, dict.fromkeys(CHANNEL_FIGURES, 0))
        if direction in {"inbound", "outbound"}:
            row[direction] += n
        row["total"] += n

    for direction, n in calls:
        count("voice", direction, n)
    for channel, direction, n in messages:
        count(channel, direction, n)
    order = [*CHANNEL_ORDER, *sorted(set(counts) - set(CHANNEL_ORDER))]
    rows = [
        {"key": name, "label": CHANNEL_LABELS.get(name, name), **counts[name]} for name in order
    ]
    total = {name: sum(counts[channel][name] for channel in order) for name in CHANNEL_FIGURES}
    return section("channel", rows, total)


class _Directory:
    """Agents by interface (any case) and by username."""

    def __init__(self, agents: Iterable[Agent]) -> None:
        self.by_username = {agent.username: agent for agent in agents}
        self.by_interface = {
            agent.interface.lower(): agent for agent in self.by_username.values() if agent.interface
        }

    def key_of_interface(self, interface: str) -> tuple[str, Agent | None]:
        agent = self.by_interface.get(interface.lower())
        return (agent.username, agent) if agent else (interface, None)


def agents(
    calls: Iterable[tuple[str, AgentTally]],
    messages: Iterable[tuple[str, str, int]],
    surveys: Iterable[tuple[str, int, int]],
    directory: Iterable[Agent],
) -> dict[str, Any]:
    """Agent performance: calls by interface, messages ``(agent, direction, n)`` and surveys
    ``(agent, score, n)`` by username, joined through the users' interfaces.

    An interface no user has keeps a row of its own; messages of senders who are not users
    (CSAT questions, notices) are nobody's.
    """
    people = _Directory(directory)
    merged: dict[str, tuple[Agent | None, str, AgentTally]] = {}

    def tally_for(key: str, agent: Agent | None, interface: str | None) -> AgentTally:
        if key not in merged:
            merged[key] = (
                agent,
                interface or (agent.interface if agent else None) or "",
                AgentTally(),
            )
        return merged[key][2]

    for interface, tally in calls:
        key, agent = people.key_of_interface(interface)
        tally_for(key, agent, interface).add(tally)
    for username, direction, n in messages:
        person = people.by_username.get(username)
        if person is None:
            continue
        tally = tally_for(username, person, None)
        if direction == "inbound":
            tally.messages_in += n
        elif direction == "outbound":
            tally.messages_out += n
    for username, score, n in surveys:
        tally_for(username, people.by_username.get(username), None).csat.count(score, n)
    order = sorted(merged, key=lambda key: (-merged[key][2].answered, key))
    rows = []
    total = AgentTally()
    for key in order:
        person, interface, tally = merged[key]
        rows.append(
            {
                "key": key,
                "label": person.display_name if person else key,
                "username": person.username if person else None,
                "interface": interface or None,
                **tally.figures(),
            }
        )
        total.add(tally)
    return section("agent", rows, total.figures())


def csat(surveys: Iterable[tuple[str, int, int]], directory: Iterable[Agent]) -> dict[str, Any]:
    """Customer satisfaction: the score distribution, and per agent asked, answered, average."""
    people = {agent.username: agent for agent in directory}
    by_agent: dict[str, CsatTally] = {}
    total = CsatTally()
    for username, score, n in surveys:
        by_agent.setdefault(username, CsatTally()).count(score, n)
        total.count(score, n)
    order = sorted(by_agent, key=lambda key: (-by_agent[key].answered, key))
    rows = [
        {
            "key": key,
            "label": people[key].display_name if key in people else key,
            **by_agent[key].figures(),
        }
        for key in order
    ]
    result = section("agent", rows, total.figures())
    result["distribution"] = {
        "labels": ["1", "2", "3", "4", "5"],
        "counts": list(total.scores),
    }
    return result


def day(
    period: ReportRange,
    service_level: int,
    *,
    queues: Sequence[tuple[str | None, CallTally]],
    reasons: Sequence[tuple[str | None, CallTally]],
    slots: Sequence[tuple[int, CallTally]],
    directions: Sequence[tuple[str, int]],
    messages: Sequence[tuple[str, str, str, int]],
    agent_calls: Sequence[tuple[str, AgentTally]],
    surveys: Sequence[tuple[str, int, int]],
    directory: Sequence[Agent],
) -> dict[str, Any]:
    """The full-day report: every section at once (inbound calls; channels both ways).

    ``messages`` are ``(channel, direction, agent, n)``.
    """
    by_queue = calls_by("queue", queues, service_level)
    return {
        "report": "day",
        "range": period.to_dict(),
        "service_level_seconds": service_level,
        "direction": "inbound",
        "summary": by_queue["total"],
        "queues": by_queue,
        "hours": calls_by_hour(slots, period.tz, service_level),
        "reasons": calls_by("reason", reasons, service_level),
        "channels": channels(directions, per_channel(messages)),
        "agents": agents(agent_calls, per_agent(messages), surveys, directory),
        "csat": csat(surveys, directory),
    }


def per_channel(messages: Iterable[tuple[str, str, str, int]]) -> list[tuple[str, str, int]]:
    """``(channel, direction, agent, n)`` message counts summed per channel and direction."""
    sums: dict[tuple[str, str], int] = {}
    for channel, direction, _, n in messages:
        sums[channel, direction] = sums.get((channel, direction), 0) + n
    return [(channel, direction, n) for (channel, direction), n in sums.items()]


def per_agent(messages: Iterable[tuple[str, str, str, int]]) -> list[tuple[str, str, int]]:
    """``(channel, direction, agent, n)`` message counts as ``(agent, direction, n)``."""
    return [(agent, direction, n) for _, direction, agent, n in messages if agent]
