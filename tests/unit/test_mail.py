"""Inbound email read as far as it goes: every odd message is kept, its problems noted."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from cti.messaging.mail import AttachmentStore, parse_email

pytestmark = pytest.mark.unit


def plain(**headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Ivan Petrov <Ivan.Petrov@Example.org>")
    message["To"] = "support@shop.example"
    message["Subject"] = headers.pop("Subject", "Order 1234")
    message["Message-ID"] = headers.pop("Message_ID", "<m1@example.org>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Is my order ready?\nThanks")
    return message.as_bytes()


def test_a_plain_email() -> None:
    parsed = parse_email(plain())
    assert (parsed.sender, parsed.sender_name, parsed.subject) == (
        "ivan.petrov@example.org",
        "Ivan Petrov",
        "Order 1234",
    )
    assert parsed.text == "Is my order ready?\nThanks"
    assert parsed.thread == parsed.message_id == "<m1@example.org>" and parsed.problems == []


def test_a_reply_joins_the_thread_of_its_first_message() -> None:
    parsed = parse_email(
        plain(Message_ID="<m3@x>", In_Reply_To="<m2@x>", References="<m1@x> <m2@x>")
    )
    assert (parsed.thread, parsed.in_reply_to, parsed.references) == (
        "<m1@x>",
        "<m2@x>",
        ["<m1@x>", "<m2@x>"],
    )


def test_eight_bit_headers_unknown_charsets_and_no_message_id_are_read_anyway() -> None:
    raw = (
        "From: Иван <ivan@example.org>\r\nSubject: Заказ готов?\r\n"
        "Content-Type: text/plain; charset=x-unknown-7\r\n\r\nhello \xe9"
    ).encode()
    parsed = parse_email(raw)
    assert parsed.sender == "ivan@example.org" and "Заказ" in parsed.subject
    assert parsed.text.startswith("hello")
    assert parsed.message_id.startswith("<sha256-")
    assert any("Message-ID" in p for p in parsed.problems)


def test_garbage_is_still_a_message() -> None:
    parsed = parse_email(b"\x00\xff\xfe not an email at all \r\n\r\n\r\n")
    assert parsed.sender == "unknown@callfold.invalid"
    assert parsed.problems


def test_html_only_is_read_as_text() -> None:
    message = EmailMessage()
    message["From"] = "a@b.c"
    message.set_content("<p>Hello&nbsp;<b>there</b></p><script>x()</script>", subtype="html")
    assert parse_email(message.as_bytes()).text == "Hello there"


def test_attachments_within_limits_are_stored_and_big_ones_listed(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "a@b.c"
    message.set_content("see attached")
    message.add_attachment(b"%PDF small", maintype="application", subtype="pdf", filename="a.pdf")
    message.add_attachment(b"x" * 5000, maintype="application", subtype="zip", filename="b.zip")
    inner = EmailMessage()
    inner["From"] = "c@d.e"
    inner.set_content("forwarded text")
    inner.add_attachment(b"GIF89a", maintype="image", subtype="gif", filename="c.gif")
    message.add_attachment(inner)
    store = AttachmentStore(tmp_path, max_file=1000)
    parsed = parse_email(message.as_bytes(), store)
    found = {a.filename: a for a in parsed.attachments}
    assert found["a.pdf"].stored and store.path(found["a.pdf"].sha256).read_bytes() == b"%PDF small"
    assert not found["b.zip"].stored and found["b.zip"].reason == "over 1000 bytes"
    assert found["c.gif"].stored, "attachments of a forwarded message count too"
    assert "forwarded text" in parsed.text


def test_nesting_is_bounded() -> None:
    part = EmailMessage()
    part.set_content("deep")
    for _ in range(20):
        outer = EmailMessage()
        outer.make_mixed()
        outer.attach(part)
        part = outer
    part["From"] = "a@b.c"
    parsed = parse_email(part.as_bytes())
    assert any("nested deeper" in p for p in parsed.problems)
