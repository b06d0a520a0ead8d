"""The AMI wire format as pure functions: bytes in, messages out, and back.

Asterisk's manager interface sends a one-line banner (``Asterisk Call Manager/11.0.0``)
and then messages made of ``Key: Value`` lines, each message ended by an empty line.
Framing happens on bytes, before any decoding, so a multi-byte UTF-8 character split
across two TCP reads (a Cyrillic caller name) is never damaged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from cti.ami.exceptions import AmiProtocolError

CRLF = b"\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024
MAX_BANNER_BYTES = 256

AmiMessage = dict[str, str]
"""One AMI event or response: header names exactly as Asterisk spells them."""


class AmiFramer:
    """Cut a byte stream from Asterisk into whole messages.

    Args:
        eol: the line ending the peer uses; Asterisk always sends ``\\r\\n``.
        max_message_bytes: a message longer than this is dropped whole (reported through
            ``on_error``) and the stream carries on with the next message.
        expect_banner: whether the stream starts with the AMI banner line.
        on_error: called with each recoverable framing error; the framer never raises
            for those, so one bad message cannot stop the stream.
    """

    __slots__ = (
        "_buffer",
        "_discarding",
        "_eol",
        "_max",
        "_on_error",
        "_terminator",
        "banner",
        "expect_banner",
    )

    def __init__(
        self,
        *,
        eol: bytes = CRLF,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        expect_banner: bool = True,
        on_error: Callable[[AmiProtocolError], None] | None = None,
    ) -> None:
        self._eol = eol
        self._terminator = eol + eol
        self._max = max_message_bytes
        self._on_error = on_error
        self._buffer = bytearray()
        self._discarding = False
        self.expect_banner = expect_banner
        self.banner: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the end of a message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes from the socket; return every message completed by them.

        Raises:
            AmiProtocolError: the stream does not start with an AMI banner (the peer is
                not an Asterisk manager interface). Nothing else raises.
        """
        buffer = self._buffer
        buffer += data
        start = 0
        if self.expect_banner and self.banner is None:
            end = buffer.find(self._eol)
            if end < 0:
                if len(buffer) > MAX_BANNER_BYTES or not BANNER_PREFIX.startswith(
                    bytes(buffer[: len(BANNER_PREFIX)])
                ):
                    raise AmiProtocolError.not_ami(bytes(buffer[:80]))
                return []
            line = bytes(buffer[:end])
            if not line.startswith(BANNER_PREFIX):
                raise AmiProtocolError.not_ami(line[:80])
            self.banner = line.decode("ascii", "replace")
            start = end + len(self._eol)

        frames: list[bytes] = []
        terminator = self._terminator
        step = len(terminator)
        while True:
            end = buffer.find(terminator, start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            elif end - start > self._max:
                self._report(AmiProtocolError.oversize(end - start, self._max))
            elif end > start:
                frames.append(bytes(buffer[start:end]))
            start = end + step
            # A run of blank lines between messages is not a message.
            while buffer.startswith(self._eol, start):
                start += len(self._eol)
        if start:
            del buffer[:start]
        if len(buffer) > self._max:
            if not self._discarding:
                self._discarding = True
                self._report(AmiProtocolError.oversize(len(buffer), self._max))
            # Keep just enough to see a terminator that straddles the next read.
            del buffer[: len(buffer) - (step - 1)]
        return frames

    def _report(self, error: AmiProtocolError) -> None:
        if self._on_error is not None:
            self._on_error(error)


def event_name(frame: bytes) -> bytes | None:
    """Return the ``Event`` header of a raw message without parsing it, or ``None``."""
    if not frame.startswith(b"Event: "):
        return None
    end = frame.find(b"\r", 7)
    if end < 0:
        end = frame.find(b"\n", 7)
    return frame[7:end] if end >= 0 else frame[7:]


def parse_headers(frame: bytes, eol: str = "\r\n") -> AmiMessage:
    """Parse one framed message (event, response or action) into its headers.

    A header repeated in one message (``Output`` of a ``Command`` reply, ``ChanVariable``)
    keeps every value, joined by ``\\n``. Lines that are not headers are skipped.
    """
    lines = frame.decode("utf-8", "replace").split(eol)
    try:
        message = dict(line.split(": ", 1) for line in lines)
    except ValueError:
        return _parse_lenient(lines)
    return message if len(message) == len(lines) else _parse_lenient(lines)


def parse_message(frame: bytes, eol: str = "\r\n") -> AmiMessage:
    """Parse one message from Asterisk: an event or a response.

    Raises:
        AmiProtocolError: the message has neither an ``Event`` nor a ``Response`` header.
    """
    message = parse_headers(frame, eol)
    if "Event" not in message and "Response" not in message:
        raise AmiProtocolError.no_kind(frame[:80])
    return message


def _parse_lenient(lines: Iterable[str]) -> AmiMessage:
    message: AmiMessage = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            if not line.endswith(":") or len(line) == 1:
                continue
            key, value = line[:-1], ""
        if key in message:
            message[key] = f"{message[key]}\n{value}"
        else:
            message[key] = value
    return message


def check_header(key: str, value: str) -> None:
    """Refuse a header that would break the message apart.

    Raises:
        ValueError: the name is not a token, or the value holds a line break (header
            injection through, say, a caller name).
    """
    if not key or ":" in key or any(c in key for c in "\r\n "):
        raise ValueError(f"invalid AMI header name {key!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI header {key} holds a line break")


def format_message(
    fields: Iterable[tuple[str, str]] | Mapping[str, str], eol: bytes = CRLF
) -> bytes:
    """Serialise headers into one message, blank line included.

    Raises:
        ValueError: as ``check_header``.
    """
    items = fields.items() if isinstance(fields, Mapping) else fields
    parts: list[str] = []
    for key, value in items:
        check_header(key, value)
        parts.append(f"{key}: {value}")
    sep = eol.decode()
    return (sep.join(parts) + sep + sep).encode("utf-8")
