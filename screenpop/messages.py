"""The messages an agent's screen receives (docs/screenpop.md): pure code, dicts out.

A pop carries what the agent needs to open the conversation well: the call, who calls
and how sure the match is, the customer's dossier in short, the likely reason with why,
the hints and the last contacts on every channel, and how routing chose this agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cti.calls.model import DISPOSITIONS
from cti.contacts.dossier import CallerView
from cti.routing.predict import predict_reason

VERSION = 1

DOSSIER_PARTS = (
    "open_orders",
    "deliveries",
    "open_tickets",
    "reasons",
    "rescue",
    "hints",
    "last_contacts",
    "last_by_channel",
    "notes",
)
CALL_FIELDS = (
    "direction",
    "queue",
    "caller_num",
    "caller_name",
    "started_at",
    "answered_at",
    "ended_at",
    "outcome",
    "wait_seconds",
    "ivr_path",
)


def pop(
    call: Mapping[str, Any],
    stage: str,
    view: CallerView | None,
    now: datetime,
    *,
    transferred_to: str | None = None,
) -> dict[str, Any]:
    """The pop of ``call`` for one agent; ``stage`` is ``ringing``, ``talking`` or ``ended``."""
    dossier = view.dossier if view is not None else None
    described = dossier.to_dict() if dossier is not None else None
    return {
        "type": "pop",
        "version": VERSION,
        "call": {
            "id": call["linkedid"],
            "stage": stage,
            **{name: call.get(name) for name in CALL_FIELDS},
            "transferred_to": transferred_to,
        },
        "caller": _caller(call, view),
        "contact": described["contact"] if described else None,
        "reason": _reason(call, view, now),
        "dossier": {part: described[part] for part in DOSSIER_PARTS} if described else None,
        "route": _route(call),
    }


def closed(call_id: str) -> dict[str, Any]:
    return {"type": "pop.closed", "version": VERSION, "call_id": call_id}


def agent_state(view: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "agent", "version": VERSION, "agent": dict(view)}


def hello(
    user: Mapping[str, Any], agent: Mapping[str, Any] | None, pops: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "hello",
        "version": VERSION,
        "user": dict(user),
        "agent": dict(agent) if agent is not None else None,
        "pops": pops,
        "dispositions": [{"id": key, "label": label} for key, label in DISPOSITIONS.items()],
    }


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "version": VERSION, "code": code, "message": message}


def _caller(call: Mapping[str, Any], view: CallerView | None) -> dict[str, Any]:
    if view is None:
        return {"number": call.get("caller_num"), "match": "unknown", "candidates": []}
    found = view.identification.to_dict()
    candidates = found["candidates"]
    if found["problem"] is not None:
        match = "invalid"
    elif len(candidates) > 1:
        match = "shared"
    elif found["match"] == "exact":
        match = "exact"
    elif found["match"] == "suffix":
        match = "partial"
    else:
        match = "unknown"
    return {"number": found["number"] or found["raw"], "match": match, "candidates": candidates}


def _reason(
    call: Mapping[str, Any], view: CallerView | None, now: datetime
) -> dict[str, Any] | None:
    """The reason the IVR or routing settled on, else the dossier's; with label and why."""
    dossier = view.dossier if view is not None else None
    chosen = call.get("reason")
    prediction = predict_reason(chosen, dossier, now)
    if prediction.reason is None:
        return None
    labels = {r.id: r.label for r in dossier.verdict.reasons} if dossier is not None else {}
    confidence = call.get("reason_confidence")
    if prediction.reason != chosen or not isinstance(confidence, float):
        confidence = prediction.confidence
    return {
        "id": prediction.reason,
        "label": labels.get(prediction.reason) or prediction.reason.replace("_", " ").capitalize(),
        "confidence": confidence,
        "why": prediction.why,
    }


def _route(call: Mapping[str, Any]) -> dict[str, Any] | None:
    routing = call.get("routing")
    if not routing:
        return None
    return {
        "rule": routing.get("rule"),
        "queue": call.get("queue"),
        "agent": routing.get("agent"),
        "why": [part for part in str(routing.get("why", "")).split("; ") if part],
    }
