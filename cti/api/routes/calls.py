"""Live and finished calls."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cti.api.context import ApiContext
from cti.api.deps import AgentUser, Context
from cti.api.errors import error_response
from cti.api.schemas import CallsPage
from cti.auth.model import Role, User
from cti.calls.model import DISPOSITIONS
from cti.contacts.facts import Channel, InteractionFact
from cti.contacts.phone import normalize_phone
from cti.store.repositories import AuditRepository, CallRepository

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/calls", tags=["calls"])

RECENT_DEFAULT = 50
RECENT_MAX = 200
RETRY_AFTER = {"Retry-After": "5"}


def _calls_away() -> JSONResponse:
    """The live calls cannot be read now (Redis away, on a process that does not read AMI);
    the cause is logged once by the tracker."""
    return error_response(
        503,
        "calls.live_unavailable",
        "The live calls cannot be read right now; try again shortly.",
        RETRY_AFTER,
    )


@router.get("/active", response_model=CallsPage)
async def active(context: Context, _: AgentUser) -> CallsPage | JSONResponse:
    """Calls in progress now, oldest first."""
    try:
        calls = await context.live_calls.active()
    except ConnectionError:
        return _calls_away()
    return CallsPage(calls=calls)


@router.get("/recent")
async def recent(
    context: Context,
    _: AgentUser,
    limit: Annotated[int, Query(ge=1, description=f"At most {RECENT_MAX}.")] = RECENT_DEFAULT,
    before: Annotated[
        datetime | None,
        Query(description="Only calls that ended before this (ISO 8601 or epoch seconds)."),
    ] = None,
) -> CallsPage:
    """Finished calls from the database, newest first, a page at a time."""
    limit = min(limit, RECENT_MAX)
    calls = await CallRepository(context.sessionmaker).recent(limit, before)
    next_before = calls[-1]["ended_at"] if len(calls) == limit else None
    return CallsPage(calls=calls, next_before=next_before)


CallId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._-]+$")]
Disposition = Literal[tuple(DISPOSITIONS)]  # type: ignore[valid-type]


class WrapUpIn(BaseModel):
    disposition: Disposition  # type: ignore[valid-type]
    notes: str = Field("", max_length=2000)


@router.post("/{call_id}/wrapup", status_code=201)
async def wrapup(context: Context, user: AgentUser, call_id: CallId, body: WrapUpIn) -> Any:
    """Close a call: its disposition and notes go on the customer's timeline and on the
    call record; the call leaves the agent's screen once it has ended."""
    try:
        live = await context.live_calls.call(call_id)
    except ConnectionError:
        return _calls_away()
    calls = CallRepository(context.sessionmaker)
    call = live if live is not None else await calls.get(call_id)
    if call is None:
        return error_response(404, "call.not_found", f"No call {call_id}.")
    if not _handled_by(call, user):
        return error_response(
            403, "auth.forbidden", "Only the agent who took the call, or a supervisor."
        )
    contact_id = await _contact_of(context, call, user)
    at = datetime.fromtimestamp(float(call.get("started_at") or 0), UTC)
    label = DISPOSITIONS[body.disposition]
    if contact_id is not None:
        entry = InteractionFact(
            at=at,
            channel=Channel.VOICE,
            direction=str(call.get("direction") or "inbound"),
            reason=call.get("reason"),
            agent=user.username,
            summary=(body.notes or label)[:500],
            outcome=body.disposition,
        )
        await context.dossiers.contacts.record_outcome(contact_id, entry, ref=f"wrapup:{call_id}")
    done = {
        "disposition": body.disposition,
        "notes": body.notes,
        "by": user.username,
        "at": datetime.now(UTC).isoformat(),
    }
    kept = live is not None and await context.live_calls.annotate_wrapup(call_id, done)
    if not kept and not await calls.annotate(call_id, "wrapup", done):
        log.warning(
            "wrap-up of call %s not kept: the call has ended, its record is not stored yet, "
            "and it could not be kept meanwhile",
            call_id,
            extra={"error_id": "calls.wrapup_unavailable", "linkedid": call_id},
        )
        return error_response(
            503,
            "calls.wrapup_unavailable",
            "The wrap-up cannot be saved right now; try again shortly.",
            RETRY_AFTER,
        )
    async with context.sessionmaker.begin() as session:
        await AuditRepository(session).record(
            actor=user.username,
            action="call.wrapup",
            target=call_id,
            details={"disposition": body.disposition, "contact_id": contact_id},
        )
    if context.screens is not None and not _still_talking(live, user):
        await context.screens.close(user.username, call_id)
    survey = None
    if context.settings.csat.enabled and contact_id is not None:
        survey = await context.csat.ask(
            contact_id, agent=user.username, agent_name=user.display_name, about=f"call:{call_id}"
        )
    return {"call_id": call_id, "contact_id": contact_id, **done, "survey": survey}


def _still_talking(live: dict[str, Any] | None, user: User) -> bool:
    """Whether ``user`` is on the call right now (then the card stays until it ends)."""
    if live is None or live.get("stage") != "talking":
        return False
    return str(live.get("agent") or "").lower() == (user.agent_interface or "").lower()


def _handled_by(call: dict[str, Any], user: User) -> bool:
    if user.role >= Role.SUPERVISOR:
        return True
    mine = (user.agent_interface or "").lower()
    rung = {str(r.get("interface", "")).lower() for r in call.get("rings") or []}
    return bool(mine) and (str(call.get("agent") or "").lower() == mine or mine in rung)


async def _contact_of(context: ApiContext, call: dict[str, Any], user: User) -> int | None:
    """The call's contact; a caller nobody knew becomes a new contact."""
    known = str(call.get("contact_id") or "")
    if known.isdigit():
        return int(known)
    number = call.get("caller_num")
    if not number:
        return None
    view = await context.dossiers.for_caller(number)
    candidates = view.identification.candidates
    if len(candidates) == 1:
        return candidates[0].contact_id
    if candidates:
        return None
    e164 = normalize_phone(number).e164
    if e164 is None:
        return None
    name = str(call.get("caller_name") or e164)[:255]
    created = await context.dossiers.contacts.create(name, phones=[e164], source="call")
    log.info("%s made a new contact from a call's wrap-up", user.username)
    return created
