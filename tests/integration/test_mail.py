"""Email over real SMTP: received whole and once, odd mail kept, replies in the thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from cti.auth.model import Role
from cti.demo import seed_contacts
from cti.messaging.mail import AttachmentStore
from cti.messaging.service import MessagingService
from cti.messaging.smtp import SmtpReceiver, SmtpSender
from cti.store.contacts import ContactRepository
from cti.store.db import create_engine, create_sessionmaker
from tests.integration import test_api
from tests.integration.test_api import Api, assert_error

pytestmark = pytest.mark.integration

api = test_api.api
settings = test_api.settings
IVAN = "ivan.petrov@example.org"


class Quiet:
    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        return None


@dataclass
class Mail:
    service: MessagingService
    receiver: SmtpReceiver
    files: AttachmentStore
    sink: list[bytes]
    sink_port: int

    async def send(self, message: EmailMessage | bytes, sender: str = IVAN) -> Any:
        if isinstance(message, bytes):
            return await aiosmtplib.send(
                message,
                sender=sender,
                recipients=["support@shop.example"],
                hostname="127.0.0.1",
                port=self.receiver.port,
            )
        return await aiosmtplib.send(message, hostname="127.0.0.1", port=self.receiver.port)


@pytest.fixture
async def mail(api: Api, tmp_path: Path) -> AsyncIterator[Mail]:
    """Our SMTP receiver on a free port, and a sink standing in for the site's SMTP server."""
    sink: list[bytes] = []

    async def keep(raw: bytes) -> None:
        sink.append(raw)

    outbound = SmtpReceiver(keep, port=0)
    await outbound.start()
    files = AttachmentStore(tmp_path / "mail", max_file=2000)
    service = MessagingService(
        api.sessionmaker,
        _LogSms(),
        Quiet(),
        mailer=SmtpSender("127.0.0.1", outbound.port, start_tls=False),
        files=files,
        mail_from="support@shop.example",
        retries=(0.05,),
    )
    receiver = SmtpReceiver(service.receive_email, port=0, max_bytes=200_000)
    await receiver.start()
    api.app.state.context = replace(api.app.state.context, messaging=service)
    await seed_contacts(api.sessionmaker)
    yield Mail(service, receiver, files, sink, outbound.port)
    await receiver.close()
    await outbound.close()
    await service.aclose()


class _LogSms:
    name = "log"

    async def send(self, to: str, body: str) -> str:
        return "log-1"


def email(subject: str = "Order 1234", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Ivan Petrov <{IVAN}>"
    message["To"] = "support@shop.example"
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("Message_ID", "<first@example.org>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("When will order 1234 be delivered?")
    return message


async def timeline(api: Api, contact_id: int = 1) -> list[dict[str, Any]]:
    entries = await ContactRepository(api.sessionmaker).timeline(contact_id, 20)
    assert entries is not None
    return entries


async def test_an_email_lands_once_on_the_senders_timeline_with_its_attachment(
    api: Api, mail: Mail
) -> None:
    message = email()
    message.add_attachment(
        b"%PDF-1.7 invoice", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    message.add_attachment(b"x" * 5000, maintype="application", subtype="zip", filename="big.zip")
    await mail.send(message)
    await mail.send(message)  # a mail server retrying after a lost 250
    entries = [e for e in await timeline(api) if (e["ref"] or "").startswith("message:")]
    assert len(entries) == 1
    assert entries[0]["summary"] == "Order 1234: When will order 1234 be delivered?"
    stored = await mail.service.message(int(entries[0]["ref"].split(":")[1]))
    assert stored["thread"] == "<first@example.org>"
    assert mail.receiver.handler.accepted == 2


async def test_odd_mail_is_kept_and_its_sender_becomes_a_contact(api: Api, mail: Mail) -> None:
    raw = (
        "From: Незнакомец <stranger@example.net>\r\nTo: support@shop.example\r\n"
        "Subject: Вопрос\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n"
        "\r\nbody \xe9 here\r\n"
    ).encode()
    await mail.send(raw, sender="stranger@example.net")
    found = await ContactRepository(api.sessionmaker).search("stranger@example.net")
    assert found and found[0]["name"] == "Незнакомец"
    (entry,) = await timeline(api, found[0]["id"])
    assert entry["summary"].startswith("Вопрос: body")


async def test_a_message_over_the_size_limit_is_refused_by_smtp(api: Api, mail: Mail) -> None:
    message = email()
    message.set_content("x" * 300_000)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await mail.send(message)
    assert refused.value.code == 552


async def test_when_the_database_is_away_the_sender_is_told_to_retry(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'cti.db'}")
    service = MessagingService(create_sessionmaker(engine), _LogSms(), Quiet())
    receiver = SmtpReceiver(service.receive_email, port=0)
    await receiver.start()
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
            await aiosmtplib.send(email(), hostname="127.0.0.1", port=receiver.port)
        assert deferred.value.code == 451
    finally:
        await receiver.close()
        await service.aclose()
        await engine.dispose()


async def test_a_reply_goes_out_in_the_customers_thread(api: Api, mail: Mail) -> None:
    await mail.send(email(Message_ID="<m2@example.org>", References="<m1@example.org>"))
    reply = await api.client.post(
        "/api/contacts/1/email",
        json={"body": "It leaves the warehouse tomorrow."},
        headers=api.auth(Role.AGENT),
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["status"] == "sent"
    (raw,) = mail.sink
    sent = message_from_bytes(raw, policy=policy.default)
    assert (sent["To"], sent["Subject"], sent["In-Reply-To"]) == (
        IVAN,
        "Re: Order 1234",
        "<m2@example.org>",
    )
    assert sent["References"] == "<m1@example.org> <m2@example.org>"
    entries = await timeline(api)
    outbound = [e for e in entries if e["direction"] == "outbound"]
    assert outbound[0]["outcome"] == "sent" and outbound[0]["agent"] == "agent1"
    inbound = [e for e in entries if e["ref"] and e["ref"].startswith("message:")]
    assert {e["details"]["thread"] for e in inbound} == {"<m1@example.org>"}, "one thread"


async def test_a_reply_to_a_contact_without_email_is_refused(api: Api, mail: Mail) -> None:
    contact_id = await ContactRepository(api.sessionmaker).create("No Mail")
    reply = await api.client.post(
        f"/api/contacts/{contact_id}/email", json={"body": "Hi"}, headers=api.auth(Role.AGENT)
    )
    error = assert_error(reply, 422, "request.invalid")
    assert "no email address" in error["message"]


async def test_export_has_the_mail_and_erasing_removes_its_files(api: Api, mail: Mail) -> None:
    message = email(Message_ID="<private@example.net>")
    message.replace_header("From", "Nina <nina@example.net>")
    message.add_attachment(b"passport scan", maintype="image", subtype="png", filename="id.png")
    await mail.send(message, sender="nina@example.net")
    (found,) = await ContactRepository(api.sessionmaker).search("nina@example.net")
    admin = api.auth(Role.ADMIN)
    export = (await api.client.get(f"/api/contacts/{found['id']}/export", headers=admin)).json()
    (kept,) = export["messages"]
    files = [kept["details"]["raw_sha256"], kept["details"]["attachments"][0]["sha256"]]
    assert all(mail.files.path(f).exists() for f in files)
    erased = await api.client.delete(f"/api/contacts/{found['id']}", headers=admin)
    assert erased.status_code == 204
    assert not any(mail.files.path(f).exists() for f in files)


async def test_a_forwarded_mailbox_is_read_over_imap_once(api: Api, mail: Mail) -> None:
    from cti.messaging.imap import ImapPoller
    from tests.imapd import ImapServer, Mailbox

    box = Mailbox()
    box.add(email(Message_ID="<via-imap@example.org>").as_bytes())
    box.add(b"From: broken\r\n\r\n\xff\xfe not mime at all")
    server = ImapServer(box)
    await server.start()

    async def receive(raw: bytes) -> object:
        return await mail.service.receive_email(raw, via="imap")

    poller = ImapPoller(
        receive, "127.0.0.1", port=server.port, username="cti", password="secret", ssl=False
    )
    try:
        assert await poller.poll() == 2
        assert box.seen == {1, 2}, "marked seen only once stored"
        assert await poller.poll() == 0
        await mail.send(email(Message_ID="<via-imap@example.org>"))  # the same mail by SMTP
        stored = [e for e in await timeline(api) if (e["ref"] or "").startswith("message:")]
        assert len(stored) == 1, "one message, whichever way it came"
        box.password = "changed"
        with pytest.raises(Exception, match="bad credentials"):
            await poller.poll()
    finally:
        await server.close()


async def test_a_mailbox_message_that_cannot_be_stored_stays_unseen() -> None:
    from cti.messaging.imap import ImapPoller
    from tests.imapd import ImapServer, Mailbox

    box = Mailbox()
    box.add(email().as_bytes())
    server = ImapServer(box)
    await server.start()

    async def database_away(raw: bytes) -> object:
        raise OSError("database unavailable")

    poller = ImapPoller(database_away, "127.0.0.1", port=server.port, password="secret", ssl=False)
    try:
        with pytest.raises(OSError):
            await poller.poll()
        assert box.seen == set(), "the next poll takes it again"
    finally:
        await server.close()
