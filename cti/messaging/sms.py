"""SMS in and out: the providers' webhook formats, their signatures, and sending.

Inbound, two formats:

- **Twilio** (``application/x-www-form-urlencoded``: ``MessageSid``, ``From``, ``To``,
  ``Body``, ``NumMedia``, ``MediaUrl0``…), signed in ``X-Twilio-Signature``: the
  base64 HMAC-SHA1, keyed with the account's auth token, of the webhook's full URL
  followed by every posted parameter's name and value, sorted by name.
- **Generic JSON** (``{"id", "from", "to", "body", "media": [urls]}``), signed in
  ``X-Callfold-Signature: sha256=<hex>``: the HMAC-SHA256 of the raw body, keyed with
  ``CTI_SMS_WEBHOOK_SECRET``.

Outbound through a provider: Twilio's REST API (httpx), or the log-only provider of the
demo. Pure code apart from the providers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

log = logging.getLogger(__name__)

MAX_BODY = 1600
"""Characters of one SMS kept (Twilio's own limit for a concatenated message)."""
MAX_MEDIA = 10


class SmsError(ValueError):
    """An inbound SMS that cannot be taken: a bad signature or a malformed request."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SendError(Exception):
    """The provider did not take an outbound SMS; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class InboundSms:
    provider: str
    provider_id: str
    sender: str
    recipient: str
    body: str
    media: tuple[str, ...] = field(default=())


def twilio_signature(url: str, params: Iterable[tuple[str, str]], token: str) -> str:
    """What Twilio puts in ``X-Twilio-Signature`` for a form POST to ``url``."""
    payload = url + "".join(k + v for k, v in sorted(params, key=lambda item: item[0]))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def parse_twilio(
    url: str, params: list[tuple[str, str]], signature: str | None, token: str
) -> InboundSms:
    """A verified Twilio webhook; ``SmsError`` (403) for a bad signature, else 400."""
    if not token:
        raise SmsError(
            "the Twilio webhook is not configured (CTI_SMS_TWILIO_AUTH_TOKEN)", status=403
        )
    expected = twilio_signature(url, params, token)
    if not signature or not hmac.compare_digest(expected, signature):
        raise SmsError("bad X-Twilio-Signature", status=403)
    fields = dict(params)
    media = [fields[f"MediaUrl{n}"] for n in range(MAX_MEDIA) if f"MediaUrl{n}" in fields]
    return _inbound(
        "twilio",
        fields.get("MessageSid"),
        fields.get("From"),
        fields.get("To"),
        fields.get("Body", ""),
        media,
    )


def hmac_signature(body: bytes, secret: str) -> str:
    """What a sender of the generic format puts in ``X-Callfold-Signature``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_generic(body: bytes, document: Any, signature: str | None, secret: str) -> InboundSms:
    """A verified generic JSON webhook."""
    if not secret:
        raise SmsError("the SMS webhook is not configured (CTI_SMS_WEBHOOK_SECRET)", status=403)
    if not signature or not hmac.compare_digest(hmac_signature(body, secret), signature):
        raise SmsError("bad X-Callfold-Signature", status=403)
    if not isinstance(document, Mapping):
        raise SmsError("the body is a JSON object")
    media = document.get("media") or []
    if not isinstance(media, list) or not all(isinstance(m, str) for m in media):
        raise SmsError("media: a list of URLs")
    return _inbound(
        "generic",
        document.get("id"),
        document.get("from"),
        document.get("to"),
        document.get("body", ""),
        media,
    )


def _inbound(
    provider: str, sid: Any, sender: Any, recipient: Any, body: Any, media: list[str]
) -> InboundSms:
    problems = [
        f"{name}: required text up to {limit} characters"
        for name, value, limit in (("id", sid, 255), ("from", sender, 64), ("to", recipient, 64))
        if not isinstance(value, str) or not value.strip() or len(value) > limit
    ]
    if not isinstance(body, str):
        problems.append("body: text")
    if problems:
        raise SmsError("; ".join(problems))
    return InboundSms(
        provider=provider,
        provider_id=str(sid).strip(),
        sender=str(sender).strip(),
        recipient=str(recipient).strip(),
        body=str(body)[:MAX_BODY],
        media=tuple(m[:2048] for m in media[:MAX_MEDIA]),
    )


class SmsProvider(Protocol):
    name: str

    async def send(self, to: str, body: str) -> str:
        """Hand the SMS over; the provider's id for it. ``SendError`` when refused."""
        ...


class LogSmsProvider:
    """Sends nothing: logs the SMS (the demo, and sites without a provider yet)."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, body: str) -> str:
        self.sent.append((to, body))
        log.info("SMS to %s (not sent: log-only provider): %d characters", to, len(body))
        return f"log-{uuid.uuid4().hex}"


class TwilioSmsProvider:
    """Twilio's Messages API (or a compatible one at ``api_url``)."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        api_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self.from_number = from_number
        self.client = httpx.AsyncClient(
            base_url=api_url, auth=(account_sid, auth_token), timeout=timeout
        )

    async def send(self, to: str, body: str) -> str:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        try:
            reply = await self.client.post(
                path, data={"To": to, "From": self.from_number, "Body": body}
            )
        except httpx.HTTPError as exc:
            raise SendError(f"Twilio unreachable: {type(exc).__name__}") from exc
        if reply.status_code >= 500 or reply.status_code == 429:
            raise SendError(f"Twilio answered {reply.status_code}")
        try:
            answer: dict[str, Any] = reply.json()
        except ValueError:
            answer = {}
        if reply.status_code >= 400:
            message = str(answer.get("message") or reply.reason_phrase)[:200]
            raise SendError(f"Twilio refused: {message}", permanent=True)
        sid = answer.get("sid")
        if not isinstance(sid, str):
            raise SendError("Twilio's answer has no sid")
        return sid

    async def aclose(self) -> None:
        await self.client.aclose()
