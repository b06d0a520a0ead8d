"""The call as the server sees it, and the domain events it emits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class CallStage(StrEnum):
    """Where a live call is now."""

    NEW = "new"
    IVR = "ivr"
    QUEUED = "queued"
    RINGING = "ringing"
    TALKING = "talking"
    ENDED = "ended"


class CallOutcome(StrEnum):
    """How a finished call ended."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    IVR_HANGUP = "ivr_hangup"
    UNANSWERED = "unanswered"
    LOST = "lost"
    """The call vanished while the server could not see Asterisk (restart, network cut)."""


class CallEventType(StrEnum):
    """Domain events published on the bus; ``type`` field of every message."""

    STARTED = "call.started"
    IVR = "call.ivr"
    QUEUED = "call.queued"
    AGENT_RINGING = "call.agent_ringing"
    AGENT_RING_ENDED = "call.agent_ring_ended"
    ANSWERED = "call.answered"
    TRANSFERRED = "call.transferred"
    ABANDONED = "call.abandoned"
    ENDED = "call.ended"


@dataclass(slots=True)
class AgentRing:
    """One attempt to ring an agent for this call."""

    interface: str
    member_name: str | None
    queue: str | None
    channel: str | None
    started_at: float
    ended_at: float | None = None
    outcome: str | None = None
    """``answered``, ``noanswer`` (ring timeout), ``cancelled`` or ``busy``."""


@dataclass(slots=True)
class Call:
    """A call, from the first channel with its ``Linkedid`` to the last hangup."""

    linkedid: str
    started_at: float
    direction: str = "inbound"
    caller_num: str | None = None
    caller_name: str | None = None
    stage: CallStage = CallStage.NEW
    queue: str | None = None
    queue_position: int | None = None
    queued_at: float | None = None
    agent: str | None = None
    agent_name: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    hangup_cause: int | None = None
    hangup_cause_txt: str | None = None
    outcome: CallOutcome | None = None
    reason: str | None = None
    contact_id: str | None = None
    ivr_started_at: float | None = None
    rings: list[AgentRing] = field(default_factory=list)
    transfers: list[dict[str, str]] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)
    """Live channels: ``Uniqueid`` to channel name."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (live channels omitted)."""
        data = asdict(self)
        del data["channels"]
        data["stage"] = self.stage.value
        data["outcome"] = self.outcome.value if self.outcome else None
        return data


@dataclass(slots=True, frozen=True)
class CallEvent:
    """A domain event about one call: what happened, when, and the call as it is now."""

    type: CallEventType
    at: float
    call: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "at": self.at, "call": self.call, "data": self.data}
