"""Messages in and out of the customer timeline.

Inbound: the sender is normalised with the caller-identification code and matched to a
contact (an unknown sender becomes one); the message and its timeline entry are
committed before the provider hears "OK"; the same provider id twice is one message.

Outbound: an agent's reply is stored first (``queued``, on the timeline at once), then
handed to the provider. A refusal that retrying cannot cure fails it at once; anything
else is retried with a growing delay (``RETRIES``), each attempt and the final status
visible on the timeline entry. Replies still owed when the server stops are taken up
again when it starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

from sqlalchemy import func, select, update

from cti.contacts.phone import DEFAULT_RULES, PhoneRules, normalize_phone
from cti.messaging.assign import Waiting
from cti.messaging.mail import AttachmentStore, parse_email
from cti.messaging.sms import (
    InboundSms,
    LogSmsProvider,
    SendError,
    SmsProvider,
    TwilioSmsProvider,
)
from cti.messaging.smtp import LogMailSender
from cti.settings import Settings
from cti.store.contacts import ContactRepository
from cti.store.db import Sessionmaker
from cti.store.messages import Incoming, MessageStore, Received
from cti.store.models import InteractionRecord, MessageRecord, utcnow

log = logging.getLogger(__name__)

RETRIES = (2.0, 10.0, 60.0, 300.0)
"""Seconds before each new attempt of an SMS the provider did not take."""
TIMELINE_TOPIC = "timeline.entry"


class Publisher(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...


class Assigner(Protocol):
    def submit(self, item: Waiting) -> None: ...

    async def aclose(self) -> None: ...


class MailSender(Protocol):
    name: str

    async def send(self, message: EmailMessage) -> str: ...


class InvalidMessage(ValueError):
    """An outbound message that cannot be sent as asked; ``problems`` names each fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class MessagingService:
    def __init__(
        self,
        sessionmaker: Sessionmaker,
        provider: SmsProvider,
        bus: Publisher,
        *,
        from_number: str = "",
        phone_rules: PhoneRules = DEFAULT_RULES,
        retries: tuple[float, ...] = RETRIES,
        mailer: MailSender | None = None,
        files: AttachmentStore | None = None,
        mail_from: str = "support@example.org",
    ) -> None:
        self.sessionmaker = sessionmaker
        self.store = MessageStore(sessionmaker)
        self.provider = provider
        self.mailer: MailSender = mailer or LogMailSender()
        self.files = files
        self.mail_from = mail_from
        self.bus = bus
        self.from_number = from_number
        self.phone_rules = phone_rules
        self.retries = retries
        self._sending: set[asyncio.Task[None]] = set()
        self._numbers: dict[str, str] = {}
        self.ratings: Callable[[int, str], Awaitable[int | None]] | None = None
        """Takes a customer's reply as their rating, if it is one (``cti.messaging.csat``)."""
        self.assigner: Assigner | None = None
        """Gives each new inbound message to an agent (``cti.messaging.assign``)."""

    # -- inbound ----------------------------------------------------------------------

    async def receive_sms(self, sms: InboundSms) -> Received:
        """Store an inbound SMS on its sender's timeline (once, however often it comes)."""
        number = self._sender_number(sms.sender)
        incoming = Incoming(
            channel="sms",
            provider=sms.provider,
            provider_id=sms.provider_id,
            sender=number,
            recipient=sms.recipient,
            body=sms.body,
            details={"media": list(sms.media)} if sms.media else None,
        )
        received = await self.store.receive(incoming)
        if not received.duplicate:
            await self._announce(received.contact_id, received.message_id, received.at)
            await self._rating(received, sms.body)
            self._assign_later(received, "sms", sms.body)
        return received

    async def _rating(self, received: Received, text: str) -> None:
        """A short reply may be the answer to a satisfaction survey."""
        if self.ratings is not None and received.contact_id is not None and len(text) < 8:
            await self.ratings(received.contact_id, text)

    def _assign_later(self, received: Received, channel: str, text: str) -> None:
        """Find the message its agent after the provider has its answer."""
        if self.assigner is not None and received.contact_id is not None:
            self.assigner.submit(
                Waiting(
                    received.contact_id, received.message_id, channel, text, received.new_contact
                )
            )

    def _sender_number(self, raw: str) -> str:
        """A sender's E.164 number (or what they sent, for short codes and names); the
        same few senders write again and again, so the answers are remembered."""
        number = self._numbers.get(raw)
        if number is None:
            number = normalize_phone(raw, self.phone_rules).e164 or raw
            if len(self._numbers) >= 50_000:
                self._numbers.clear()
            self._numbers[raw] = number
        return number

    async def _announce(self, contact_id: int | None, message_id: int, at: datetime | None) -> None:
        """Tell screens showing this contact that the timeline has a new entry."""
        if contact_id is None:
            return
        await self.bus.publish(
            TIMELINE_TOPIC,
            {
                "contact_id": contact_id,
                "message_id": message_id,
                "at": at.isoformat() if at else None,
            },
        )

    async def receive_email(self, raw: bytes, *, via: str = "smtp") -> Received:
        """Store an inbound email whole (raw bytes first), on its sender's timeline, once
        (its ``Message-ID`` is the key, whether it came by SMTP or from a mailbox)."""
        raw_sha = self.files.put(raw) if self.files is not None else None
        parsed = parse_email(raw, self.files)
        incoming = Incoming(
            channel="email",
            provider="email",
            provider_id=parsed.message_id[:255],
            sender=parsed.sender,
            recipient=(parsed.to[0] if parsed.to else "")[:320],
            body=parsed.text,
            subject=parsed.subject or None,
            thread=parsed.thread,
            sender_name=parsed.sender_name,
            details={
                "via": via,
                "raw_sha256": raw_sha,
                "in_reply_to": parsed.in_reply_to,
                "references": parsed.references[-20:],
                "attachments": [a.to_dict() for a in parsed.attachments],
                "problems": parsed.problems,
            },
        )
        received = await self.store.receive(incoming)
        if not received.duplicate:
            await self._announce(received.contact_id, received.message_id, received.at)
            first_line = parsed.text.strip().split("\n", 1)[0] if parsed.text.strip() else ""
            await self._rating(received, first_line)
            text = f"{parsed.subject} {parsed.text}"
            self._assign_later(received, "email", text)
        return received

    async def close_conversation(self, contact_id: int) -> int | None:
        """Close the customer's open conversation (their messages received so far); the
        id of its last message, or None when nothing was open."""
        async with self.sessionmaker.begin() as session:
            last = await session.scalar(
                select(func.max(MessageRecord.id)).where(
                    MessageRecord.contact_id == contact_id,
                    MessageRecord.direction == "inbound",
                    MessageRecord.status == "received",
                )
            )
            if last is None:
                return None
            await session.execute(
                update(MessageRecord)
                .where(
                    MessageRecord.contact_id == contact_id,
                    MessageRecord.direction == "inbound",
                    MessageRecord.status == "received",
                )
                .values(status="closed")
            )
        return int(last)

    # -- outbound ---------------------------------------------------------------------

    async def send_sms(
        self,
        contact_id: int,
        body: str,
        *,
        agent: str,
        to: str | None = None,
        fallback: Sequence[str] = (),
        subject: str | None = None,
    ) -> dict[str, Any]:
        """Queue an agent's SMS to a contact and hand it to the provider; ``fallback``
        names the channels to try, in order, if it fails for good (``subject`` is theirs)."""
        problems = []
        text = body.strip()
        if not text:
            problems.append("body: an SMS needs text")
        number = await self._number_for(contact_id, to, problems)
        if problems:
            raise InvalidMessage(problems)
        assert number is not None
        details = {"fallback": list(fallback), "subject": subject} if fallback else None
        return await self._queue(contact_id, "sms", number, text, agent=agent, details=details)

    async def _queue(
        self,
        contact_id: int,
        channel: str,
        to: str,
        text: str,
        *,
        agent: str,
        subject: str | None = None,
        thread: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store an outbound message (``queued``, on the timeline at once), then send it."""
        email = channel == "email"
        async with self.sessionmaker.begin() as session:
            record = MessageRecord(
                contact_id=contact_id,
                channel=channel,
                direction="outbound",
                provider=self.mailer.name if email else self.provider.name,
                sender=self.mail_from if email else self.from_number,
                recipient=to,
                subject=subject,
                thread=thread,
                body=text,
                status="queued",
                attempts=0,
                agent=agent,
                details=details or {},
                created_at=utcnow(),
            )
            session.add(record)
            await session.flush()
            line = " ".join(text.split())
            session.add(
                InteractionRecord(
                    contact_id=contact_id,
                    at=record.created_at,
                    channel=channel,
                    direction="outbound",
                    agent=agent,
                    summary=(f"{subject}: {line}" if subject else line)[:500],
                    outcome="queued",
                    ref=f"message:{record.id}",
                    details={"thread": thread} if thread else {},
                )
            )
            message_id = record.id
        await self._announce(contact_id, message_id, record.created_at)
        await self._attempt(message_id)
        self._retry_later(message_id)
        return await self.message(message_id)

    async def send_email(
        self,
        contact_id: int,
        body: str,
        *,
        agent: str,
        subject: str | None = None,
        fallback: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Reply by email: to the contact's last email, in its thread, else a new one;
        ``fallback`` as for SMS."""
        text = body.strip()
        if not text:
            raise InvalidMessage(["body: an email needs text"])
        contact = await ContactRepository(self.sessionmaker).get(contact_id)
        if contact is None:
            raise InvalidMessage([f"contact {contact_id}: no such contact"])
        async with self.sessionmaker() as session:
            last = await session.scalar(
                select(MessageRecord)
                .where(
                    MessageRecord.contact_id == contact_id,
                    MessageRecord.channel == "email",
                    MessageRecord.direction == "inbound",
                )
                .order_by(MessageRecord.created_at.desc(), MessageRecord.id.desc())
                .limit(1)
            )
        if last is None and not contact["emails"]:
            raise InvalidMessage(["to: the contact has no email address"])
        to = last.sender if last is not None else contact["emails"][0]
        threading: dict[str, Any] = {"message_id": make_msgid(domain=_domain(self.mail_from))}
        if fallback:
            threading["fallback"] = list(fallback)
        if last is not None:
            refs = [*(last.details or {}).get("references", []), last.provider_id]
            threading.update(in_reply_to=last.provider_id, references=refs[-20:])
            topic = last.subject or ""
            subject = subject or (topic if topic.lower().startswith("re:") else f"Re: {topic}")
        return await self._queue(
            contact_id,
            "email",
            to,
            text,
            agent=agent,
            subject=(subject or "Your request")[:998],
            thread=last.thread if last is not None else threading["message_id"],
            details=threading,
        )

    async def _number_for(self, contact_id: int, to: str | None, problems: list[str]) -> str | None:
        """The number to write to: ``to`` if the contact holds it, else their first one."""
        contact = await ContactRepository(self.sessionmaker).get(contact_id)
        if contact is None:
            problems.append(f"contact {contact_id}: no such contact")
            return None
        phones: list[str] = contact["phones"]
        if to is None:
            if not phones:
                problems.append("to: the contact has no phone number")
                return None
            return phones[0]
        number = normalize_phone(to, self.phone_rules)
        if number.e164 is None:
            problems.append(f"to: {to!r} is not a valid phone number")
            return None
        if number.e164 not in phones:
            problems.append(f"to: {number.e164} is not one of the contact's numbers")
            return None
        return number.e164

    async def _attempt(self, message_id: int) -> str:
        """One attempt to hand a queued SMS over; its status after."""
        async with self.sessionmaker() as session:
            record = await session.get(MessageRecord, message_id)
            if record is None or record.status not in ("queued", "retrying"):
                return record.status if record is not None else "gone"
            attempts = record.attempts
            email = _email_of(record) if record.channel == "email" else None
            to, body = record.recipient, record.body
        values: dict[str, Any] = {"attempts": attempts + 1}
        try:
            if email is not None:
                values["provider_id"] = await self.mailer.send(email)
            else:
                values["provider_id"] = await self.provider.send(to, body)
            values.update(status="sent", sent_at=utcnow(), error=None)
        except SendError as exc:
            last = exc.permanent or attempts + 1 > len(self.retries)
            values.update(status="failed" if last else "retrying", error=str(exc)[:500])
            log.warning(
                "message %d not sent (attempt %d): %s",
                message_id,
                attempts + 1,
                exc,
                extra={"error_id": "sms.send"},
            )
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(MessageRecord).where(MessageRecord.id == message_id).values(**values)
            )
            await session.execute(
                update(InteractionRecord)
                .where(InteractionRecord.ref == f"message:{message_id}")
                .values(outcome=values["status"])
            )
        status: str = values["status"]
        if status == "failed" and (record.details or {}).get("fallback"):
            self._cascade_later(message_id)
        return status

    def _cascade_later(self, message_id: int) -> None:
        task = asyncio.create_task(self._cascade(message_id))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _cascade(self, failed_id: int) -> None:
        """A notice that failed for good goes out on the next channel of its list."""
        async with self.sessionmaker() as session:
            failed = await session.get(MessageRecord, failed_id)
            if failed is None or failed.contact_id is None:
                return
            contact_id, text, agent = failed.contact_id, failed.body, failed.agent or "notice"
            details = failed.details or {}
        channels = list(details.get("fallback") or [])
        subject = details.get("subject") or failed.subject
        await self._send_first(contact_id, text, channels, agent=agent, subject=subject)

    async def notify(
        self,
        contact_id: int,
        text: str,
        *,
        agent: str,
        subject: str | None = None,
        channels: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """A notice on the customer's preferred channel, cascading to the next ones when
        a channel fails for good. Preferred: the channel they last wrote on, else SMS."""
        order = list(channels) if channels else await self._preferred(contact_id)
        sent = await self._send_first(contact_id, text, order, agent=agent, subject=subject)
        if sent is None:
            raise InvalidMessage(["to: the contact can be reached on none of " + ", ".join(order)])
        return sent

    async def _preferred(self, contact_id: int) -> list[str]:
        async with self.sessionmaker() as session:
            last = await session.scalar(
                select(MessageRecord.channel)
                .where(
                    MessageRecord.contact_id == contact_id,
                    MessageRecord.direction == "inbound",
                    MessageRecord.channel.in_(("sms", "email")),
                )
                .order_by(MessageRecord.created_at.desc())
                .limit(1)
            )
        first = last or "sms"
        return [first, "email" if first == "sms" else "sms"]

    async def _send_first(
        self,
        contact_id: int,
        text: str,
        channels: list[str],
        *,
        agent: str,
        subject: str | None,
    ) -> dict[str, Any] | None:
        """Send on the first channel the contact can be reached on; the rest are its
        fallback. None when none can be used."""
        for index, channel in enumerate(channels):
            rest = channels[index + 1 :]
            try:
                if channel == "sms":
                    return await self.send_sms(
                        contact_id, text, agent=agent, fallback=rest, subject=subject
                    )
                if channel == "email":
                    return await self.send_email(
                        contact_id, text, agent=agent, subject=subject, fallback=rest
                    )
            except InvalidMessage as exc:  # no number or address for it: the next channel
                log.info("notice to contact %d skips %s: %s", contact_id, channel, exc)
        return None

    def _retry_later(self, message_id: int) -> None:
        task = asyncio.create_task(self._retry(message_id))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _retry(self, message_id: int) -> None:
        async with self.sessionmaker() as session:
            record = await session.get(MessageRecord, message_id)
            status = record.status if record is not None else "gone"
        if status == "queued":
            status = await self._attempt(message_id)
        for delay in self.retries:
            if status != "retrying":
                return
            await asyncio.sleep(delay)
            status = await self._attempt(message_id)

    async def resume(self) -> int:
        """Take up the replies still owed (after a restart); how many."""
        async with self.sessionmaker() as session:
            owed = (
                await session.scalars(
                    select(MessageRecord.id).where(
                        MessageRecord.direction == "outbound",
                        MessageRecord.status.in_(("queued", "retrying")),
                    )
                )
            ).all()
        for message_id in owed:
            self._retry_later(message_id)
        return len(owed)

    async def message(self, message_id: int) -> dict[str, Any]:
        async with self.sessionmaker() as session:
            record = await session.get(MessageRecord, message_id)
            assert record is not None
            return _view(record)

    async def aclose(self) -> None:
        if self.assigner is not None:
            await self.assigner.aclose()
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self.store.aclose()


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "callfold.invalid"


def _email_of(record: MessageRecord) -> EmailMessage:
    """The email of an outbound record, with its threading headers."""
    details = record.details or {}
    message = EmailMessage()
    message["From"] = record.sender
    message["To"] = record.recipient
    message["Subject"] = record.subject or ""
    message["Message-ID"] = details.get("message_id") or make_msgid(domain=_domain(record.sender))
    if details.get("in_reply_to"):
        message["In-Reply-To"] = details["in_reply_to"]
        message["References"] = " ".join(details.get("references", []))
    message["Date"] = formatdate(localtime=False)
    message.set_content(record.body)
    return message


def _view(record: MessageRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "contact_id": record.contact_id,
        "channel": record.channel,
        "direction": record.direction,
        "sender": record.sender,
        "recipient": record.recipient,
        "subject": record.subject,
        "thread": record.thread,
        "body": record.body,
        "status": record.status,
        "attempts": record.attempts,
        "error": record.error,
        "agent": record.agent,
        "provider_id": record.provider_id,
        "created_at": record.created_at.isoformat(),
        "sent_at": record.sent_at.isoformat() if record.sent_at else None,
    }


class _Nowhere:
    """A bus for an API without one (tests): announcements go nowhere."""

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        return None


def messaging_service(
    settings: Settings, sessionmaker: Sessionmaker, bus: Publisher | None
) -> MessagingService:
    """The messaging service with the SMS provider the settings name."""
    sms = settings.sms
    provider: SmsProvider
    if sms.provider == "twilio":
        provider = TwilioSmsProvider(
            sms.twilio_account_sid,
            sms.twilio_auth_token.get_secret_value(),
            sms.from_number,
            api_url=sms.twilio_api_url,
        )
    else:
        provider = LogSmsProvider()
    return MessagingService(sessionmaker, provider, bus or _Nowhere(), from_number=sms.from_number)
