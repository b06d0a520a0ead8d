"""Outbound calls and call-backs: click-to-call, the call-back list, do-not-call numbers.

Agents call customers and work the call-back list (callers who gave up waiting, and
virtual-hold call-backs the scheduler could not complete); supervisors see everything
and read the call-back rules; admins change them (``/api/callbacks/rules``, versioned and
audited like the routing rules).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from cti.api.deps import AgentUser, Context
from cti.api.errors import error_response
from cti.auth.model import Role
from cti.callbacks.service import OutboundRefused
from cti.store.callbacks import STATES
from cti.store.repositories import audit

router = APIRouter(tags=["outbound"])

AttemptId = Annotated[int, Path(ge=1, le=2**62)]
CallbackId = Annotated[int, Path(ge=1, le=2**62)]
ContactId = Annotated[int, Path(ge=1, le=2**62)]
PAGE_MAX = 200


class DialIn(BaseModel):
    number: str = Field(min_length=1, max_length=64, description="The number to call.")
    contact_id: int | None = Field(
        None, ge=1, le=2**62, description="The contact called (for the timeline)."
    )


class CloseIn(BaseModel):
    state: Literal["done", "given_up"] = Field(
        description="``done``: dealt with; ``given_up``: no more attempts."
    )
    note: str = Field("", max_length=2000)


class DoNotCallIn(BaseModel):
    number: str = Field(min_length=1, max_length=64)
    do_not_call: bool = True


def _refused(exc: OutboundRefused) -> Any:
    return error_response(exc.status, exc.code, exc.message)


@router.post("/api/outbound/calls", status_code=202)
async def dial(context: Context, user: AgentUser, body: DialIn) -> Any:
    """Click-to-call: ring your phone, then the customer's number once you answer.

    The answer is the attempt as stored; its result follows on your screens
    (``outbound`` message) and at ``GET /api/outbound/calls/{id}``.
    """
    try:
        return await context.outbound.click_to_call(user, body.number, body.contact_id)
    except OutboundRefused as exc:
        return _refused(exc)


@router.get("/api/outbound/calls/{attempt_id}")
async def attempt(context: Context, user: AgentUser, attempt_id: AttemptId) -> Any:
    """One outbound attempt and its result (yours, or any for supervisors)."""
    found = await context.outbound.store.attempt(attempt_id)
    mine = found is not None and (
        user.role >= Role.SUPERVISOR
        or found["requested_by"] == user.username
        or found["agent"] == user.agent_interface
    )
    if found is None or not mine:
        return error_response(404, "outbound.not_found", f"No outbound call {attempt_id}.")
    return found


@router.get("/api/callbacks")
async def callbacks(
    context: Context,
    _: AgentUser,
    state: Annotated[
        Literal["open", "owed", "dialing", "done", "given_up"],
        Query(description="``open``: owed or being dialled."),
    ] = "open",
    source: Annotated[Literal["virtual_hold", "abandoned"] | None, Query()] = None,
    queue: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 100,
    after: Annotated[int | None, Query(ge=1, le=2**62, description="Last id seen.")] = None,
) -> dict[str, Any]:
    """Call-backs in place order (who waited first comes first), a page at a time."""
    states = ("owed", "dialing") if state == "open" else (state,)
    assert set(states) <= set(STATES)
    items = await context.outbound.store.page(
        states=states, source=source, queue=queue, limit=limit, after=after
    )
    return {"callbacks": items, "next_after": items[-1]["id"] if len(items) == limit else None}


@router.get("/api/callbacks/{callback_id}")
async def callback(context: Context, _: AgentUser, callback_id: CallbackId) -> Any:
    """One call-back with every attempt made."""
    found = await context.outbound.store.get(callback_id)
    if found is None:
        return error_response(404, "callback.not_found", f"No call-back {callback_id}.")
    return found


@router.post("/api/callbacks/{callback_id}/take")
async def take(context: Context, user: AgentUser, callback_id: CallbackId) -> Any:
    """Put an owed call-back on your name, so that nobody else dials it."""
    if not await context.outbound.take(callback_id, user):
        return await _conflict(context, callback_id)
    return await context.outbound.store.get(callback_id)


@router.post("/api/callbacks/{callback_id}/call", status_code=202)
async def call_back(context: Context, user: AgentUser, callback_id: CallbackId) -> Any:
    """Call the customer back now from your phone; the attempt."""
    try:
        return await context.outbound.call_back(callback_id, user)
    except OutboundRefused as exc:
        return _refused(exc)


@router.post("/api/callbacks/{callback_id}/close")
async def close(context: Context, user: AgentUser, callback_id: CallbackId, body: CloseIn) -> Any:
    """Close an owed call-back by hand (dealt with, or given up), with a note; audited."""
    found = await context.outbound.store.get(callback_id)
    if found is None:
        return error_response(404, "callback.not_found", f"No call-back {callback_id}.")
    if found["taken_by"] not in (None, user.username) and user.role < Role.SUPERVISOR:
        return error_response(409, "callback.taken", f"{found['taken_by']} has taken it.")
    if not await context.outbound.close(callback_id, user, body.state, body.note):
        return await _conflict(context, callback_id)
    await audit(
        context.sessionmaker,
        actor=user.username,
        action=f"callback.{body.state}",
        target=str(callback_id),
        before={"state": found["state"]},
        after={"state": body.state, "note": body.note},
    )
    return await context.outbound.store.get(callback_id)


async def _conflict(context: Context, callback_id: int) -> Any:
    found = await context.outbound.store.get(callback_id)
    if found is None:
        return error_response(404, "callback.not_found", f"No call-back {callback_id}.")
    if found["state"] != "owed":
        return error_response(409, "callback.not_owed", f"It is {found['state']}.")
    return error_response(409, "callback.taken", f"{found['taken_by']} has taken it.")


@router.put("/api/contacts/{contact_id}/do-not-call")
async def do_not_call(
    context: Context, user: AgentUser, contact_id: ContactId, body: DoNotCallIn
) -> Any:
    """Mark one of a contact's numbers as not to be called (any agent, as the customer
    asks), or callable again (supervisors only); audited."""
    if not body.do_not_call and user.role < Role.SUPERVISOR:
        return error_response(
            403, "auth.forbidden", "Only a supervisor may make a number callable again."
        )
    number = context.outbound.normalise(body.number)
    if number is None:
        return error_response(422, "outbound.invalid_number", "Not a phone number.")
    if not await context.outbound.store.set_do_not_call(contact_id, number, body.do_not_call):
        return error_response(
            404, "contact.phone_not_found", f"Contact {contact_id} has no number {number}."
        )
    await audit(
        context.sessionmaker,
        actor=user.username,
        action="contact.do_not_call",
        target=f"{contact_id}:{number}",
        before={"do_not_call": not body.do_not_call},
        after={"do_not_call": body.do_not_call},
    )
    return {"contact_id": contact_id, "number": number, "do_not_call": body.do_not_call}
