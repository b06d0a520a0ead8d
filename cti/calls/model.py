"""The call as the server sees it, and the domain events it emits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DISPOSITIONS: dict[str, str] = {
    "resolved": "Resolved",
    "follow_up": "Follow-up needed",
    "escalated": "Escalated",
    "sale": "Sale made",
    "callback": "Call back",
    "wrong_number": "Wrong number",
    "no_action": "No action needed",
}
"""How an agent closes a call in the wrap-up form, and the words shown for it."""


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "member_name": self.member_name,
            "queue": self.queue,
            "channel": self.channel,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "outcome": self.outcome,
        }


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
    ivr_path: str | None = None
    """The way through the IVR (``known>offer:order_ready>key:1>queue:sales``)."""
    reason_confidence: float | None = None
    """How sure the reason is, 0 to 1 (``cti.routing.predict``)."""
    routing: dict[str, Any] | None = None
    """Routing's decision: ``rule``, ``queue``, ``agent`` (the interface rung first),
    ``overflow_after`` and ``overflow_queue``, and ``why`` in words."""
    wrapup: dict[str, Any] | None = None
    """The agent's wrap-up (``disposition``, ``notes``, ``by``, ``at``), once saved."""
    rings: list[AgentRing] = field(default_factory=list)
    transfers: list[dict[str, str]] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)
    """Live channels: ``Uniqueid`` to channel name."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (live channels omitted).

        Written out by hand: it runs for every domain event, and ``dataclasses.asdict``'s
        recursive deep copy was a third of the AMI ingest path's time.
        """
        return {
            "linkedid": self.linkedid,
            "started_at": self.started_at,
            "direction": self.direction,
            "caller_num": self.caller_num,
            "caller_name": self.caller_name,
            "stage": self.stage.value,
            "queue": self.queue,
            "queue_position": self.queue_position,
            "queued_at": self.queued_at,
            "agent": self.agent,
            "agent_name": self.agent_name,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "wait_seconds": self.wait_seconds,
            "talk_seconds": self.talk_seconds,
            "hangup_cause": self.hangup_cause,
            "hangup_cause_txt": self.hangup_cause_txt,
            "outcome": self.outcome.value if self.outcome else None,
            "reason": self.reason,
            "contact_id": self.contact_id,
            "ivr_started_at": self.ivr_started_at,
            "ivr_path": self.ivr_path,
            "reason_confidence": self.reason_confidence,
            "routing": dict(self.routing) if self.routing is not None else None,
            "wrapup": dict(self.wrapup) if self.wrapup is not None else None,
            "rings": [ring.to_dict() for ring in self.rings],
            "transfers": [dict(transfer) for transfer in self.transfers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        """The call back from ``to_dict()`` (plus ``channels``): as another process left it.

        Raises:
            KeyError, TypeError, ValueError: ``data`` is not such a mapping.
        """
        outcome = data.get("outcome")
        routing, wrapup = data.get("routing"), data.get("wrapup")
        return cls(
            linkedid=str(data["linkedid"]),
            started_at=float(data["started_at"]),
            direction=data.get("direction") or "inbound",
            caller_num=data.get("caller_num"),
            caller_name=data.get("caller_name"),
            stage=CallStage(data.get("stage") or CallStage.NEW),
            queue=data.get("queue"),
            queue_position=data.get("queue_position"),
            queued_at=data.get("queued_at"),
            agent=data.get("agent"),
            agent_name=data.get("agent_name"),
            answered_at=data.get("answered_at"),
            ended_at=data.get("ended_at"),
            wait_seconds=data.get("wait_seconds"),
            talk_seconds=data.get("talk_seconds"),
            hangup_cause=data.get("hangup_cause"),
            hangup_cause_txt=data.get("hangup_cause_txt"),
            outcome=CallOutcome(outcome) if outcome else None,
            reason=data.get("reason"),
            contact_id=data.get("contact_id"),
            ivr_started_at=data.get("ivr_started_at"),
            ivr_path=data.get("ivr_path"),
            reason_confidence=data.get("reason_confidence"),
            routing=dict(routing) if routing is not None else None,
            wrapup=dict(wrapup) if wrapup is not None else None,
            rings=[AgentRing(**ring) for ring in data.get("rings") or ()],
            transfers=[dict(transfer) for transfer in data.get("transfers") or ()],
            channels={str(k): str(v) for k, v in (data.get("channels") or {}).items()},
        )


@dataclass(slots=True, frozen=True)
class CallEvent:
    """A domain event about one call: what happened, when, and the call as it is now."""

    type: CallEventType
    at: float
    call: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "at": self.at, "call": self.call, "data": self.data}
