"""Contacts: who is calling, their dossier, search, changes, notes, export and erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field

from cti.api.deps import AdminUser, AgentUser, Context, SupervisorUser
from cti.api.errors import error_response
from cti.contacts.records import ContactIn, ContactPatch, check_contact
from cti.store.contacts import ContactNotFound
from cti.store.merge import MergeError, merge_contacts
from cti.store.privacy import erase_contact, export_contact

router = APIRouter(prefix="/api/contacts", tags=["contacts"])

ContactId = Annotated[int, Path(ge=1, le=2**53)]
RawBody = Annotated[dict[str, Any], Body()]


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """Document a body that is checked by hand (phone numbers need the site's region)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


class ContactsPage(BaseModel):
    contacts: list[dict[str, Any]]
    next_after: int | None = Field(
        None, description="Pass as ?after= for the next page; null on the last page."
    )


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


@router.get("/lookup")
async def lookup(
    context: Context,
    _: AgentUser,
    number: Annotated[str, Query(max_length=64, description="A caller ID in any format.")],
) -> dict[str, Any]:
    """Who calls from this number (``exact``, by last digits ``suffix``, or ``none``).

    When the number names exactly one contact, their dossier comes along.
    """
    return (await context.dossiers.for_caller(number)).to_dict()


@router.get("")
async def search(
    context: Context,
    _: AgentUser,
    q: Annotated[str, Query(max_length=255, description="Name prefix, phone or email.")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    after: Annotated[
        int | None, Query(ge=0, le=2**62, description="Last id of the previous page.")
    ] = None,
) -> ContactsPage:
    """Contacts by name prefix, phone number (any format) or email, by id."""
    found = await context.dossiers.contacts.search(
        q, limit=limit + 1, after=after, rules=context.dossiers.phone_rules
    )
    more = len(found) > limit
    page = found[:limit]
    return ContactsPage(contacts=page, next_after=page[-1]["id"] if more and page else None)


@router.post("", status_code=201, openapi_extra=_schema(ContactIn))
async def create(context: Context, user: AgentUser, body: RawBody) -> dict[str, Any]:
    """Add a contact; every bad field is named in the 422 answer."""
    contact = check_contact(ContactIn, body, context.dossiers.phone_rules)
    contacts = context.dossiers.contacts
    contact_id = await contacts.save(contact, source=f"api:{user.username}")
    return await _get(context, contact_id)


@router.get("/{contact_id}")
async def get(context: Context, _: AgentUser, contact_id: ContactId) -> dict[str, Any]:
    """One contact with its phones, emails and CRM id."""
    return await _get(context, contact_id)


@router.patch("/{contact_id}", openapi_extra=_schema(ContactPatch))
async def change(
    context: Context, user: AgentUser, contact_id: ContactId, body: RawBody
) -> dict[str, Any]:
    """Change a contact: fields left out stay; a list given replaces the old one."""
    patch = check_contact(ContactPatch, body, context.dossiers.phone_rules)
    await context.dossiers.contacts.save(
        patch, contact_id=contact_id, source=f"api:{user.username}"
    )
    return await _get(context, contact_id)


@router.get("/{contact_id}/dossier")
async def dossier(context: Context, _: AgentUser, contact_id: ContactId) -> dict[str, Any]:
    """The summary an agent sees when this contact calls: facts, likely reasons, hints."""
    built = await context.dossiers.build(contact_id)
    if built is None:
        raise ContactNotFound(contact_id)
    return built.to_dict()


TIMELINE_MAX = 100


class TimelinePage(BaseModel):
    items: list[dict[str, Any]]
    next_before: str | None = Field(
        None, description="Pass as ?before= for the next (older) page; null on the last."
    )


@router.get("/{contact_id}/timeline", response_model=TimelinePage)
async def timeline(
    context: Context,
    _: AgentUser,
    contact_id: ContactId,
    limit: Annotated[int, Query(ge=1, le=TIMELINE_MAX)] = 20,
    before: Annotated[
        str | None,
        Query(max_length=40, pattern=r"^[0-9]{1,20}_[0-9]{1,20}$", description="next_before"),
    ] = None,
    channel: Annotated[
        list[Literal["voice", "sms", "email", "chat"]] | None,
        Query(description="Only these channels (repeat for several)."),
    ] = None,
) -> Any:
    """The customer's contacts on every channel, newest first, a page at a time."""
    cursor = None
    if before is not None:
        micros, row_id = before.split("_")
        try:
            cursor = (datetime.fromtimestamp(int(micros) / 1e6, UTC), int(row_id))
        except (ValueError, OverflowError, OSError):
            message = "before: not a cursor from next_before"
            return error_response(422, "request.invalid", message, problems=[message])
    items = await context.dossiers.contacts.timeline(contact_id, limit, cursor, channel or ())
    if items is None:
        raise ContactNotFound(contact_id)
    next_before = None
    if len(items) == limit:
        last = items[-1]
        moment = datetime.fromisoformat(last["at"])
        next_before = f"{round(moment.timestamp() * 1e6)}_{last['id']}"
    return TimelinePage(items=items, next_before=next_before)


@router.post("/{contact_id}/notes", status_code=201)
async def add_note(
    context: Context, user: AgentUser, contact_id: ContactId, note: NoteIn
) -> dict[str, Any]:
    """Leave a note on a contact."""
    saved = await context.dossiers.contacts.add_note(contact_id, user.username, note.body)
    return {"at": saved.at.isoformat(), "author": saved.author, "body": saved.body}


class MergeIn(BaseModel):
    duplicate: int = Field(ge=1, le=2**53, description="The contact to merge into this one.")


@router.post("/{contact_id}/merge")
async def merge(
    context: Context, user: SupervisorUser, contact_id: ContactId, body: MergeIn
) -> Any:
    """Merge a duplicate into this contact: identities become aliases, every fact, message
    and call moves over, the duplicate goes (audited)."""
    try:
        merged = await merge_contacts(
            context.sessionmaker, contact_id, body.duplicate, actor=user.username
        )
    except MergeError as exc:
        status = 404 if str(exc).startswith("no contact") else 422
        error_id = "contact.not_found" if status == 404 else "request.invalid"
        return error_response(status, error_id, str(exc), problems=[str(exc)])
    return {**merged, "contact": await _get(context, contact_id)}


@router.get("/{contact_id}/export")
async def export(context: Context, admin: AdminUser, contact_id: ContactId) -> dict[str, Any]:
    """Everything held on one contact (a subject access request); audited."""
    found = await export_contact(
        context.sessionmaker,
        contact_id,
        actor=admin.username,
        rules=context.dossiers.phone_rules,
    )
    if found is None:
        raise ContactNotFound(contact_id)
    return found


@router.delete("/{contact_id}", status_code=204)
async def erase(context: Context, admin: AdminUser, contact_id: ContactId) -> Response:
    """Erase a contact and their facts; their calls stay, anonymised, for statistics."""
    erased = await erase_contact(
        context.sessionmaker,
        contact_id,
        actor=admin.username,
        rules=context.dossiers.phone_rules,
        forget_files=context.messaging.files.forget if context.messaging.files else None,
    )
    if erased is None:
        raise ContactNotFound(contact_id)
    return Response(status_code=204)


async def _get(context: Context, contact_id: int) -> dict[str, Any]:
    found = await context.dossiers.contacts.get(contact_id)
    if found is None:
        raise ContactNotFound(contact_id)
    return found
