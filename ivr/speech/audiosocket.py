"""Asterisk's AudioSocket protocol: a sans-I/O frame parser and encoder, and an asyncio server.

What Asterisk does on the wire (``res/res_audiosocket.c``, ``apps/app_audiosocket.c``):

- Every message is a 3-byte header, kind then payload length (big-endian ``uint16``), then
  the payload. Asterisk connects, sends the call's UUID (kind ``0x01``, 16 raw bytes), then
  the caller's audio as kind ``0x10`` (signed linear 16-bit, 8 kHz, mono, for the
  ``AudioSocket()`` application), and the keys the caller presses as kind ``0x03``
  (one ASCII digit). Kinds ``0x11``-``0x18`` carry other sample rates and only come from
  the AudioSocket channel driver.
- Asterisk never sends a hangup frame: the caller hanging up closes the socket.
- The server may send audio back (a non-empty payload, else Asterisk errors out) and ends
  the application with a hangup frame (``0x00``) or by closing the socket; the dialplan
  then goes on, the channel stays up. Any other kind from the server is an error.
- ``AudioSocket()`` does not answer the channel, and gives up (hanging up) after 2 seconds
  with neither channel nor socket activity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum

from ivr.speech.exceptions import AudioSocketProtocolError, FrameTooLarge
from ivr.tcp import ConnectionServer

log = logging.getLogger(__name__)

HEADER = struct.Struct("!BH")
MAX_PAYLOAD = 0xFFFF
DEFAULT_MAX_PAYLOAD = 8192
SAMPLE_RATE = 8000
FRAME_BYTES = 320
READ_CHUNK = 8192


class Kind(IntEnum):
    """Message kinds, as Asterisk numbers them."""

    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    AUDIO_SLIN12 = 0x11
    AUDIO_SLIN16 = 0x12
    AUDIO_SLIN24 = 0x13
    AUDIO_SLIN32 = 0x14
    AUDIO_SLIN44 = 0x15
    AUDIO_SLIN48 = 0x16
    AUDIO_SLIN96 = 0x17
    AUDIO_SLIN192 = 0x18
    ERROR = 0xFF


AUDIO_KINDS = frozenset(k for k in Kind if Kind.AUDIO <= k <= Kind.AUDIO_SLIN192)
_KINDS = {int(k): k for k in Kind}


@dataclass(frozen=True, slots=True)
class Frame:
    """One AudioSocket message."""

    kind: Kind
    payload: bytes = b""

    @property
    def call_id(self) -> uuid.UUID:
        """The call's UUID carried by a ``UUID`` frame."""
        if self.kind is not Kind.UUID:
            raise ValueError(f"a {self.kind.name} frame carries no UUID")
        return uuid.UUID(bytes=self.payload)

    @property
    def digit(self) -> str:
        """The key carried by a ``DTMF`` frame."""
        if self.kind is not Kind.DTMF:
            raise ValueError(f"a {self.kind.name} frame carries no digit")
        return self.payload.decode("ascii", "replace")

    @property
    def error_code(self) -> int | None:
        """The code of an ``ERROR`` frame, if it carries one."""
        return self.payload[0] if self.kind is Kind.ERROR and self.payload else None


class FrameParser:
    """Turn a byte stream into frames, however the stream is split into reads.

    Args:
        max_payload: longest payload accepted; a longer announced length raises
            ``FrameTooLarge`` as soon as its header arrives, before any payload is buffered.

    Bytes that complete some frames and then turn bad return those frames and set
    ``error``; from then on the parser is broken and every ``feed`` raises that error.
    """

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        if not 0 < max_payload <= MAX_PAYLOAD:
            raise ValueError(f"max_payload must be within 1..{MAX_PAYLOAD}")
        self.max_payload = max_payload
        self._buffer = bytearray()
        self._error: AudioSocketProtocolError | None = None

    @property
    def error(self) -> AudioSocketProtocolError | None:
        """Why the stream stopped being AudioSocket, once it has."""
        return self._error

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back; non-zero means the stream stopped mid-frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return the frames they complete.

        Raises:
            FrameTooLarge: a header announced a payload over ``max_payload``.
            AudioSocketProtocolError: an unknown kind, or a length that kind cannot have.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        frames: list[Frame] = []
        start = 0
        end = len(self._buffer)
        try:
            while end - start >= HEADER.size:
                code, length = HEADER.unpack_from(self._buffer, start)
                kind = self._check(code, length)
                stop = start + HEADER.size + length
                if stop > end:
                    break
                frames.append(Frame(kind, bytes(self._buffer[start + HEADER.size : stop])))
                start = stop
        except AudioSocketProtocolError as exc:
            self._error = exc
            self._buffer.clear()
            if not frames:
                raise
            return frames
        del self._buffer[:start]
        return frames

    def _check(self, code: int, length: int) -> Kind:
        kind = _KINDS.get(code)
        if kind is None:
            raise AudioSocketProtocolError(
                f"unknown AudioSocket kind 0x{code:02x}: not an AudioSocket peer", kind=code
            )
        if length > self.max_payload:
            raise FrameTooLarge(length, self.max_payload)
        if kind is Kind.UUID and length != 16:
            raise AudioSocketProtocolError(f"UUID frame of {length} bytes, not 16", length=length)
        if kind is Kind.DTMF and length != 1:
            raise AudioSocketProtocolError(f"DTMF frame of {length} bytes, not 1", length=length)
        if kind in AUDIO_KINDS and (length == 0 or length % 2):
            raise AudioSocketProtocolError(
                f"audio frame of {length} bytes is not whole 16-bit samples", length=length
            )
        return kind


def encode_frame(kind: Kind, payload: bytes = b"") -> bytes:
    """One frame on the wire."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"an AudioSocket payload holds at most {MAX_PAYLOAD} bytes")
    return HEADER.pack(kind, len(payload)) + payload


def encode_uuid(call_id: uuid.UUID) -> bytes:
    """The first frame Asterisk sends."""
    return encode_frame(Kind.UUID, call_id.bytes)


def encode_audio(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> bytes:
    """Signed-linear 8 kHz audio as frames of at most ``frame_bytes`` (20 ms by default)."""
    if not pcm or len(pcm) % 2:
        raise ValueError("audio must be a non-empty run of 16-bit samples")
    if frame_bytes <= 0 or frame_bytes % 2 or frame_bytes > MAX_PAYLOAD:
        raise ValueError("frame_bytes must be an even number of bytes within a payload")
    return b"".join(
        encode_frame(Kind.AUDIO, pcm[i : i + frame_bytes]) for i in range(0, len(pcm), frame_bytes)
    )


def encode_dtmf(digit: str) -> bytes:
    """A key press, as Asterisk forwards it."""
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return encode_frame(Kind.DTMF, digit.encode("ascii"))


def encode_hangup() -> bytes:
    """Ask Asterisk to end the ``AudioSocket()`` application."""
    return encode_frame(Kind.HANGUP)


def encode_error(code: int) -> bytes:
    """An error frame carrying one code byte."""
    return encode_frame(Kind.ERROR, bytes([code]))


SessionHandler = Callable[["AudioSocketSession"], Awaitable[None]]


class AudioSocketSession:
    """One call's AudioSocket connection: its UUID, the caller's audio, and a way back.

    Iterate it (once) for the caller's audio chunks. The iteration ends, without raising,
    when the caller hangs up, Asterisk disconnects, the peer sends something invalid, or no
    data comes for ``read_timeout`` seconds; ``end_reason`` and ``error_id`` then say why.
    """

    def __init__(
        self,
        call_id: uuid.UUID,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: FrameParser,
        *,
        peer: str = "",
        read_timeout: float = 5.0,
        leftover: list[Frame] | None = None,
    ) -> None:
        self.call_id = call_id
        self.peer = peer
        self.digits = ""
        self.end_reason: str | None = None
        self.error_id: str | None = None
        self.started_at = time.monotonic()
        self._reader = reader
        self._writer = writer
        self._parser = parser
        self._read_timeout = read_timeout
        self._frames: deque[Frame] = deque(leftover or ())
        self._iterated = False
        self._hung_up = False

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._iterated:
            raise RuntimeError("an AudioSocket session's audio can be read only once")
        self._iterated = True
        return self._audio()

    async def _audio(self) -> AsyncIterator[bytes]:
        while True:
            frame = await self._next_frame()
            if frame is None:
                return
            if frame.kind is Kind.AUDIO:
                yield frame.payload
            elif frame.kind is Kind.DTMF:
                self.digits += frame.digit
            elif frame.kind is Kind.HANGUP:
                self._end("the peer sent a hangup frame")
            elif frame.kind is Kind.ERROR:
                code = frame.error_code
                shown = "none" if code is None else f"0x{code:02x}"
                self._end(f"Asterisk reported an error (code {shown})", "audiosocket.peer_error")
            elif frame.kind is Kind.UUID:
                self._end("a second UUID frame arrived", "audiosocket.protocol")
            else:
                self._end(
                    f"{frame.kind.name} audio is not 8 kHz; use the AudioSocket() application",
                    "audiosocket.format",
                )

    async def _next_frame(self) -> Frame | None:
        while not self._frames:
            if self.end_reason is not None:
                return None
            if self._parser.error is not None:
                self._end(str(self._parser.error), self._parser.error.error_id)
                return None
            try:
                # Not wait_for: on Python 3.11 it drops a cancellation that races with a
                # completed read, and the consumer could never stop this iterator.
                async with asyncio.timeout(self._read_timeout):
                    data = await self._reader.read(READ_CHUNK)
            except TimeoutError:
                self._end(f"no data within {self._read_timeout:g}s", "audiosocket.timeout")
                return None
            except ConnectionError as exc:
                self._end(f"connection lost: {exc}", "audiosocket.connection")
                return None
            if not data:
                if self._parser.buffered:
                    self._end(
                        f"disconnected in the middle of a frame ({self._parser.buffered} "
                        "bytes of it arrived)",
                        "audiosocket.truncated",
                    )
                else:
                    self._end("Asterisk closed the connection")
                return None
            try:
                self._frames.extend(self._parser.feed(data))
            except AudioSocketProtocolError as exc:
                self._end(str(exc), exc.error_id)
                return None
        if self.end_reason is not None:
            return None
        return self._frames.popleft()

    def _end(self, reason: str, error_id: str | None = None) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            self.error_id = error_id

    async def send_audio(self, pcm: bytes) -> None:
        """Play signed-linear 8 kHz audio to the caller."""
        if self.ended:
            return
        try:
            self._writer.write(encode_audio(pcm))
            await self._writer.drain()
        except ConnectionError as exc:
            self._end(f"connection lost: {exc}", "audiosocket.connection")

    async def hangup(
        self, reason: str = "the server ended the session", error_id: str | None = None
    ) -> None:
        """End the ``AudioSocket()`` application; the dialplan (or AGI ``EXEC``) goes on."""
        if self._hung_up:
            return
        self._hung_up = True
        if self.end_reason is None:
            self._end(reason, error_id)
            with contextlib.suppress(ConnectionError):
                self._writer.write(encode_hangup())
                await self._writer.drain()


class AudioSocketServer(ConnectionServer):
    """Accept Asterisk's AudioSocket connections and hand each one to ``on_session``.

    Args:
        host: listen address.
        port: listen port; 0 picks a free one, then ``port`` holds it after ``start``.
        on_session: awaited once per connection after its UUID arrived; when it returns,
            the server ends the ``AudioSocket()`` application and closes the connection.
        read_timeout: seconds without data after which a connection is given up.
        max_payload: longest frame payload accepted.
    """

    kind = "AudioSocket"

    def __init__(
        self,
        host: str,
        port: int,
        on_session: SessionHandler,
        *,
        read_timeout: float = 5.0,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        super().__init__(host, port)
        self.on_session = on_session
        self.read_timeout = read_timeout
        self.max_payload = max_payload
        self.sessions = 0
        self.rejected = 0

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        session = await self._open(reader, writer, peer)
        if session is not None:
            await self._run(session)

    async def _open(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> AudioSocketSession | None:
        parser = FrameParser(self.max_payload)
        frames: list[Frame] = []
        deadline = time.monotonic() + self.read_timeout
        problem: tuple[str, str] | None = None
        while not frames:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    data = await reader.read(READ_CHUNK)
            except TimeoutError:
                problem = (f"sent no UUID within {self.read_timeout:g}s", "audiosocket.timeout")
                break
            except ConnectionError as exc:
                problem = (f"dropped before its UUID: {exc}", "audiosocket.connection")
                break
            if not data:
                problem = ("closed before sending its UUID", "audiosocket.truncated")
                break
            try:
                frames = parser.feed(data)
            except AudioSocketProtocolError as exc:
                problem = (str(exc), exc.error_id)
                break
        if problem is None and frames[0].kind is not Kind.UUID:
            problem = (f"sent {frames[0].kind.name} before its UUID", "audiosocket.protocol")
        if problem is not None:
            self.rejected += 1
            log.warning(
                "AudioSocket connection refused: %s",
                problem[0],
                extra={"peer": peer, "error_id": problem[1]},
            )
            return None
        return AudioSocketSession(
            frames[0].call_id,
            reader,
            writer,
            parser,
            peer=peer,
            read_timeout=self.read_timeout,
            leftover=frames[1:],
        )

    async def _run(self, session: AudioSocketSession) -> None:
        self.sessions += 1
        context = {"call_id": str(session.call_id), "peer": session.peer}
        try:
            await self.on_session(session)
        except Exception:
            session._end("the session handler failed", "audiosocket.handler")
            log.exception("AudioSocket session handler failed", extra=context)
            return
        finally:
            await session.hangup()
        seconds = round(time.monotonic() - session.started_at, 3)
        if session.error_id is None:
            log.info(
                "AudioSocket session ended: %s",
                session.end_reason,
                extra={**context, "seconds": seconds},
            )
        else:
            log.warning(
                "AudioSocket session ended: %s",
                session.end_reason,
                extra={**context, "seconds": seconds, "error_id": session.error_id},
            )
