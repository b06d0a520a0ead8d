"""Inbound email as the timeline needs it: sender, subject, text, thread, attachments.

Parsed with the standard library's modern policy (``email.policy.default``), and never
trusting it: a message that is malformed, has 8-bit headers, an unknown charset, no
text, nested parts or huge attachments is read as far as it can be, each problem noted,
and kept whole anyway (the raw bytes are stored before anything is parsed: nothing is
lost). Attachments are stored by their SHA-256 within size limits; one over the limit is
listed, not stored. Pure code apart from writing files.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any

MAX_TEXT = 20_000
"""Characters of body text kept on the message (the raw message keeps the rest)."""
MAX_PARTS = 200
MAX_DEPTH = 8
_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.S | re.I)
_IDS = re.compile(r"<[^<>\s]+>")


@dataclass
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    stored: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "stored": self.stored,
            "reason": self.reason,
        }


@dataclass
class ParsedEmail:
    message_id: str
    sender: str
    sender_name: str | None
    to: list[str]
    subject: str
    text: str
    thread: str
    in_reply_to: str | None
    references: list[str]
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class AttachmentStore:
    """Files by SHA-256 under a folder, with limits per file and per message."""

    def __init__(
        self, folder: Path, *, max_file: int = 10 * 2**20, max_message: int = 25 * 2**20
    ) -> None:
        self.folder = folder
        self.max_file = max_file
        self.max_message = max_message

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256

    def forget(self, digests: set[str]) -> None:
        """Delete stored files (an erased contact's mail)."""
        for digest in digests:
            if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
                self.path(digest).unlink(missing_ok=True)

    def put(self, data: bytes) -> str:
        """Store ``data`` once; its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(target)
        return digest


def parse_email(raw: bytes, store: AttachmentStore | None = None) -> ParsedEmail:
    """Read ``raw`` as far as it goes; problems are noted, never raised."""
    problems: list[str] = []
    message: Message
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the raw bytes are kept; read what the headers say
        problems.append(f"unparseable: {type(exc).__name__}")
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    defects = [type(d).__name__ for d in getattr(message, "defects", [])]
    if defects:
        problems.append("defects: " + ", ".join(sorted(set(defects))[:5]))
    sender_name, sender = _sender(message, problems)
    message_id = _first_id(_raw(message, "Message-ID"))
    if message_id is None:
        message_id = "<sha256-" + hashlib.sha256(raw).hexdigest() + "@callfold.invalid>"
        problems.append("no Message-ID: made one from the content")
    references = _IDS.findall(_raw(message, "References") or "")
    in_reply_to = _first_id(_raw(message, "In-Reply-To"))
    thread = references[0] if references else in_reply_to or message_id
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    budget = [store.max_message if store else 0]
    _walk(message, 0, text_parts, html_parts, attachments, problems, store, budget)
    text = "\n\n".join(t for t in text_parts if t.strip())
    if not text and html_parts:
        text = _strip_html("\n".join(html_parts))
    return ParsedEmail(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        to=[
            addr.lower()
            for _, addr in getaddresses([_header(message, "To", problems) or ""])
            if addr
        ],
        subject=" ".join((_header(message, "Subject", problems) or "").split())[:998],
        text=text.strip()[:MAX_TEXT],
        thread=thread[:255],
        in_reply_to=in_reply_to,
        references=references,
        attachments=attachments,
        problems=problems,
    )


def _raw(message: Message, name: str) -> str | None:
    """A header as sent, unparsed: ids need no decoding, and parsing each header with
    the modern policy is most of the cost of reading a message."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def _header(message: Message, name: str, problems: list[str]) -> str | None:
    try:
        value = message.get(name)
    except Exception as exc:  # a header the policy cannot parse: its raw text
        problems.append(f"{name}: {type(exc).__name__}")
        return _raw(message, name)  # reading it again through the policy fails again
    return str(value) if value is not None else None


def _sender(message: Message, problems: list[str]) -> tuple[str | None, str]:
    header = _header(message, "From", problems) or ""
    name, address = parseaddr(header)
    address = address.strip().lower()
    if "@" not in address:
        problems.append("From: no address")
        address = address or "unknown@callfold.invalid"
    return (name.strip() or None), address[:320]


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    found = _IDS.findall(value)
    return found[0] if found else None


def _walk(
    part: Message,
    depth: int,
    texts: list[str],
    htmls: list[str],
    attachments: list[Attachment],
    problems: list[str],
    store: AttachmentStore | None,
    budget: list[int],
) -> None:
    if depth > MAX_DEPTH:
        problems.append(f"nested deeper than {MAX_DEPTH}: the rest is in the raw message")
        return
    if part.is_multipart():
        children = part.get_payload()
        if not isinstance(children, list):
            return
        for child in children[:MAX_PARTS]:
            if isinstance(child, Message):
                _walk(child, depth + 1, texts, htmls, attachments, problems, store, budget)
        if len(children) > MAX_PARTS:
            problems.append(f"more than {MAX_PARTS} parts: the rest is in the raw message")
        return
    kind = part.get_content_type()
    disposition = (part.get_content_disposition() or "").lower()
    if kind == "message/rfc822":
        inner = part.get_payload()
        for child in inner if isinstance(inner, list) else []:
            if isinstance(child, Message):
                _walk(child, depth + 1, texts, htmls, attachments, problems, store, budget)
        return
    if disposition != "attachment" and kind in ("text/plain", "text/html"):
        text = _text_of(part, problems)
        (texts if kind == "text/plain" else htmls).append(text)
        return
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = b""
    filename = (part.get_filename() or f"part-{len(attachments) + 1}")[:255]
    digest = hashlib.sha256(data).hexdigest()
    item = Attachment(filename, kind, len(data), digest, stored=False)
    if store is None:
        item.reason = "not kept"
    elif len(data) > store.max_file:
        item.reason = f"over {store.max_file} bytes"
    elif len(data) > budget[0]:
        item.reason = f"the message's attachments are over {store.max_message} bytes"
    else:
        store.put(data)
        budget[0] -= len(data)
        item.stored = True
    attachments.append(item)


def _text_of(part: Message, problems: list[str]) -> str:
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, str):
                return content
    except (LookupError, UnicodeError, ValueError, AssertionError) as exc:
        problems.append(f"text: {type(exc).__name__}, read as UTF-8 with replacements")
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def _strip_html(markup: str) -> str:
    text = _TAGS.sub(" ", markup)
    return " ".join(html.unescape(text).split())


def reply_address(name: str | None, address: str) -> str:
    """``Name <address>`` for a reply's headers."""
    return str(Address(display_name=name or "", addr_spec=address))
