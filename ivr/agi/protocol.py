"""FastAGI as pure code: the ``agi_*`` header block, commands out, replies in.

Asterisk opens the connection, sends ``agi_name: value`` lines ended by an empty line,
then answers each command with one line (``200 result=1 (value)``), or several for a
``520-`` usage error. When the caller hangs up it writes a bare ``HANGUP`` line *before*
the next reply; that line is a notice, not a reply, and replies after it still belong
to the commands in order (see the ``hangup-in-ivr`` recording).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ivr.agi.exceptions import AgiProtocolError

MAX_HEADER_BYTES = 16 * 1024
MAX_LINE_BYTES = 8 * 1024
MAX_USAGE_LINES = 200
_REPLY = re.compile(r"^(\d{3})(?: result=(-?\d+))?(?: \((.*?)\))?(.*)$")
_EXTRA = re.compile(r"(\w+)=(\S*)")
_NEEDS_QUOTES = re.compile(r'[\s"\\]')


class HeaderReader:
    """Collect the ``agi_*`` block that starts a FastAGI session.

    Raises ``AgiProtocolError`` on a line that is not ``agi_name: value`` or on a block
    over ``max_bytes``; the caller closes the session.
    """

    __slots__ = ("_buffer", "_max", "done", "env")

    def __init__(self, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_bytes
        self.env: dict[str, str] = {}
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """Add bytes; return whatever followed the block once it is complete."""
        self._buffer += data
        while not self.done:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE_BYTES:
                    raise AgiProtocolError("AGI header line too long")
                break
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if not line:
                self.done = True
                break
            self._add(line)
        if not self.done and sum(len(k) + len(v) for k, v in self.env.items()) > self._max:
            raise AgiProtocolError(f"AGI header block over {self._max} bytes")
        rest = bytes(self._buffer) if self.done else b""
        if self.done:
            self._buffer.clear()
        return rest

    def _add(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        name, sep, value = text.partition(":")
        if not sep or not name.startswith("agi_") or not name[4:].replace("_", "").isalnum():
            raise AgiProtocolError(f"not an AGI header line: {text[:60]!r}")
        self.env[name] = value.strip()


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One reply from Asterisk."""

    code: int
    result: int | None = None
    data: str | None = None
    """The text in parentheses: a variable's value, ``timeout``, ``dtmf``."""
    extra: dict[str, str] = field(default_factory=dict)
    """``key=value`` pairs after the result, e.g. ``endpos``."""
    text: str = ""
    """The whole reply as received (all lines of a ``520`` usage)."""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def digit(self) -> str | None:
        """The DTMF digit in ``result`` of WAIT FOR DIGIT / STREAM FILE, if any."""
        if self.result is None or self.result <= 0:
            return None
        return chr(self.result)


def parse_reply(line: str) -> AgiReply:
    """Parse a one-line reply (``200 result=1 (x) endpos=0``, ``510 ...``).

    Raises:
        AgiProtocolError: the line does not start with a three-digit code.
    """
    match = _REPLY.match(line)
    if match is None:
        raise AgiProtocolError(f"not an AGI reply: {line[:60]!r}")
    code, result, data, rest = match.groups()
    return AgiReply(
        code=int(code),
        result=int(result) if result is not None else None,
        data=data,
        extra=dict(_EXTRA.findall(rest)),
        text=line,
    )


class ReplyReader:
    """Turn Asterisk's lines into replies; notice ``HANGUP`` without taking it as one."""

    __slots__ = ("_buffer", "_usage", "hung_up")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._usage: list[str] | None = None
        self.hung_up = False

    def feed(self, data: bytes) -> list[AgiReply]:
        """Add bytes; return the replies they completed."""
        if not self._buffer and self._usage is None and data.find(b"\n") == len(data) - 1:
            reply = self._line(data.rstrip(b"\r\n").decode("utf-8", "replace"))
            return [] if reply is None else [reply]
        self._buffer += data
        replies: list[AgiReply] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE_BYTES:
                    raise AgiProtocolError("AGI reply line too long")
                return replies
            line = bytes(self._buffer[:end]).rstrip(b"\r").decode("utf-8", "replace")
            del self._buffer[: end + 1]
            reply = self._line(line)
            if reply is not None:
                replies.append(reply)

    def _line(self, line: str) -> AgiReply | None:
        if self._usage is not None:
            self._usage.append(line)
            if line.startswith("520 "):
                text = "\n".join(self._usage)
                self._usage = None
                return AgiReply(code=520, text=text)
            if len(self._usage) > MAX_USAGE_LINES:
                raise AgiProtocolError("520 usage reply without an end")
            return None
        if line == "HANGUP":
            self.hung_up = True
            return None
        if line.startswith("520-"):
            self._usage = [line]
            return None
        if not line:
            return None
        return parse_reply(line)


def format_command(*words: str) -> bytes:
    """One command line; words with spaces or quotes are quoted as Asterisk expects.

    Raises:
        ValueError: a word holds a line break (it would smuggle in a second command).
    """
    parts = []
    for word in words:
        if word and not _NEEDS_QUOTES.search(word):
            parts.append(word)
            continue
        if "\n" in word or "\r" in word:
            raise ValueError("AGI command words cannot hold line breaks")
        escaped = word.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'"{escaped}"')
    return (" ".join(parts) + "\n").encode("utf-8")
