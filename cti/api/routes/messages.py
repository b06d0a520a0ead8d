"""SMS: the providers' webhooks (signed, not logged in) and agents' replies."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from cti.api.deps import AgentUser, Context
from cti.api.errors import error_response
from cti.messaging.service import InvalidMessage
from cti.messaging.sms import MAX_BODY, InboundSms, SmsError, parse_generic, parse_twilio

log = logging.getLogger(__name__)

router = APIRouter(tags=["messages"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
ContactId = Annotated[int, Path(ge=1, le=2**53)]


async def _take(context: Any, sms: InboundSms) -> dict[str, Any] | Response:
    try:
        received = await context.messaging.receive_sms(sms)
    except (SQLAlchemyError, OSError) as exc:  # the provider retries; nothing is lost
        log.error(
            "could not store an inbound SMS: %s",
            type(exc).__name__,
            extra={"error_id": "sms.store"},
        )
        return error_response(503, "storage.unavailable", "Try again later.", {"Retry-After": "5"})
    return {
        "message_id": received.message_id,
        "contact_id": received.contact_id,
        "duplicate": received.duplicate,
    }


def _refused(request: Request, exc: SmsError) -> Response:
    log.info(
        "refused an SMS webhook from %s: %s", request.client.host if request.client else "?", exc
    )
    error_id = "sms.forbidden" if exc.status == 403 else "sms.invalid"
    return error_response(exc.status, error_id, str(exc))


@router.post("/webhooks/sms/twilio", summary="Twilio's inbound SMS webhook (signed)")
async def twilio_webhook(request: Request, context: Context) -> Response:
    """Twilio's form POST, checked against ``X-Twilio-Signature``; answers empty TwiML."""
    settings = context.settings.sms
    raw = (await request.body()).decode("utf-8", "replace")
    params = parse_qsl(raw, keep_blank_values=True)
    try:
        sms = parse_twilio(
            settings.webhook_url or str(request.url),
            params,
            request.headers.get("X-Twilio-Signature"),
            settings.twilio_auth_token.get_secret_value(),
        )
    except SmsError as exc:
        return _refused(request, exc)
    taken = await _take(context, sms)
    if isinstance(taken, Response):
        return taken
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/webhooks/sms", summary="Inbound SMS in the generic JSON format (signed)")
async def generic_webhook(request: Request, context: Context) -> Any:
    """``{"id", "from", "to", "body", "media"}``, signed in ``X-Callfold-Signature``."""
    body = await request.body()
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    try:
        sms = parse_generic(
            body,
            document,
            request.headers.get("X-Callfold-Signature"),
            context.settings.sms.webhook_secret.get_secret_value(),
        )
    except SmsError as exc:
        return _refused(request, exc)
    return await _take(context, sms)


def _invalid(exc: InvalidMessage) -> Response:
    """404 for a contact that does not exist, 422 naming every other fault."""
    status = 404 if any("no such contact" in p for p in exc.problems) else 422
    error_id = "contact.not_found" if status == 404 else "request.invalid"
    return error_response(status, error_id, str(exc), problems=exc.problems)


class SmsIn(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_BODY)
    to: str | None = Field(None, max_length=64, description="One of the contact's numbers.")


@router.post("/api/contacts/{contact_id}/sms", status_code=201)
async def send_sms(context: Context, user: AgentUser, contact_id: ContactId, body: SmsIn) -> Any:
    """Reply to a customer by SMS: on their timeline at once, then handed to the provider
    (retried with backoff; the status shows on the timeline)."""
    try:
        return await context.messaging.send_sms(
            contact_id, body.body, agent=user.username, to=body.to
        )
    except InvalidMessage as exc:
        return _invalid(exc)


class EmailIn(BaseModel):
    body: str = Field(min_length=1, max_length=100_000)
    subject: str | None = Field(None, max_length=998, pattern=r"^[^\r\n]*$")


@router.post("/api/contacts/{contact_id}/email", status_code=201)
async def send_email(
    context: Context, user: AgentUser, contact_id: ContactId, body: EmailIn
) -> Any:
    """Reply by email, in the thread of the customer's last email (``In-Reply-To``,
    ``References``), or a new one to their address; retried like SMS."""
    try:
        return await context.messaging.send_email(
            contact_id, body.body, agent=user.username, subject=body.subject
        )
    except InvalidMessage as exc:
        return _invalid(exc)


class NoticeIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_BODY)
    subject: str | None = Field(None, max_length=998, pattern=r"^[^\r\n]*$")
    channels: list[Literal["sms", "email"]] | None = Field(
        None,
        min_length=1,
        max_length=2,
        description="The order to try; default: the channel the customer last wrote on, "
        "then the other.",
    )


@router.post("/api/contacts/{contact_id}/notify", status_code=201)
async def notify(context: Context, user: AgentUser, contact_id: ContactId, body: NoticeIn) -> Any:
    """A notice (an order is ready, a delivery moved) on the customer's preferred channel;
    if it fails for good there, the next channel takes it (SMS, then email, or the other
    way round)."""
    try:
        return await context.messaging.notify(
            contact_id, body.text, agent=user.username, subject=body.subject, channels=body.channels
        )
    except InvalidMessage as exc:
        return _invalid(exc)


@router.post("/api/contacts/{contact_id}/conversation/close")
async def close_conversation(context: Context, user: AgentUser, contact_id: ContactId) -> Any:
    """The customer's conversation is done: their next message starts a new one (routed
    afresh), and with CSAT on they are asked to rate it."""
    last = await context.messaging.close_conversation(contact_id)
    if last is None:
        return error_response(
            409, "conversation.none", f"Contact {contact_id} has no open conversation."
        )
    survey = None
    if context.settings.csat.enabled:
        survey = await context.csat.ask(
            contact_id,
            agent=user.username,
            agent_name=user.display_name,
            about=f"conversation:{last}",
        )
    return {"contact_id": contact_id, "last_message_id": last, "survey": survey}
