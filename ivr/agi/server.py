"""The FastAGI server: one asyncio task per call, bounded in bytes and in time.

Unlike panoramisk 1.4's loop, the header block is read with a size limit and a timeout,
and a client that disconnects early ends its session instead of spinning.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ivr.agi.exceptions import AgiCommandError, AgiHangup, AgiProtocolError, AgiTimeout
from ivr.agi.protocol import MAX_HEADER_BYTES, AgiReply, HeaderReader, ReplyReader, format_command
from ivr.tcp import ConnectionServer

log = logging.getLogger(__name__)

Handler = Callable[["AgiSession"], Awaitable[None]]
READ_CHUNK = 4096


class AgiSession:
    """One call's FastAGI conversation: send a command, get its reply, in order."""

    def __init__(
        self,
        env: Mapping[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout: float = 60.0,
        leftover: bytes = b"",
    ) -> None:
        self.env = dict(env)
        self._reader = reader
        self._writer = writer
        self._replies = ReplyReader()
        self._pending: deque[AgiReply] = deque()
        self._command_timeout = command_timeout
        self.commands = 0
        if leftover:
            self._pending.extend(self._replies.feed(leftover))

    @property
    def script(self) -> str:
        """The path of ``agi://host:port/<script>``, e.g. ``ivr``."""
        return self.env.get("agi_network_script", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def callerid(self) -> str:
        return self.env.get("agi_callerid", "")

    @property
    def calleridname(self) -> str:
        return self.env.get("agi_calleridname", "")

    @property
    def language(self) -> str:
        return self.env.get("agi_language", "en")

    @property
    def hung_up(self) -> bool:
        """Asterisk said ``HANGUP``: the caller is gone."""
        return self._replies.hung_up

    async def command(
        self, *words: str, timeout: float | None = None, allow_dead: bool = False
    ) -> AgiReply:
        """Send one command and return its reply.

        Raises:
            AgiHangup: the caller had already hung up (unless ``allow_dead``).
            AgiTimeout: no reply within ``timeout``.
            AgiProtocolError: the reply is not FastAGI, or the connection closed.
        """
        if self.hung_up and not allow_dead:
            raise AgiHangup(f"caller hung up before {words[0] if words else 'command'}")
        self._writer.write(format_command(*words))
        self.commands += 1
        if self._pending:
            return self._pending.popleft()
        limit = self._command_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                while not self._pending:
                    data = await self._reader.read(READ_CHUNK)
                    if not data:
                        raise AgiProtocolError("Asterisk closed the AGI connection")
                    self._pending.extend(self._replies.feed(data))
        except TimeoutError as exc:
            raise AgiTimeout(f"no reply to {' '.join(words)[:60]} within {limit}s") from exc
        return self._pending.popleft()

    async def checked(self, *words: str, timeout: float | None = None) -> AgiReply:
        """Send a command that must succeed with code 200.

        Raises:
            AgiHangup: the channel is dead (``511``, or a ``HANGUP`` notice came first).
            AgiCommandError: Asterisk answered 510 (unknown command) or 520 (bad usage).
        """
        reply = await self.command(*words, timeout=timeout)
        if reply.ok:
            return reply
        if reply.code == 511 or self.hung_up:
            raise AgiHangup(f"caller hung up before {words[0]}")
        raise AgiCommandError(f"{words[0]}: {reply.text.splitlines()[0]}", reply.code)

    # -- the commands an IVR uses -------------------------------------------------------

    async def answer(self) -> None:
        await self.checked("ANSWER")

    async def get_variable(self, name: str) -> str | None:
        """A channel variable's value, or ``None`` when it is not set."""
        reply = await self.checked("GET", "VARIABLE", name)
        return reply.data if reply.result == 1 else None

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable; allowed after hangup, so a flow can still hand over."""
        reply = await self.command("SET", "VARIABLE", name, value, allow_dead=True)
        if not reply.ok:
            raise AgiCommandError(f"SET VARIABLE {name}: {reply.text}", reply.code)

    async def stream_file(self, prompt: str, escape_digits: str = "") -> tuple[str | None, bool]:
        """Play a prompt; return the digit that interrupted it and whether it played.

        A missing prompt (``result=-1 endpos=0``) is reported as not played, never raised.
        """
        reply = await self.checked("STREAM", "FILE", prompt, escape_digits)
        if reply.result is not None and reply.result < 0:
            if self.hung_up:
                raise AgiHangup("caller hung up during a prompt")
            return None, False
        return reply.digit, True

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait for one key press; ``None`` on silence."""
        reply = await self.checked(
            "WAIT", "FOR", "DIGIT", str(timeout_ms), timeout=timeout_ms / 1000 + 10
        )
        if reply.result is not None and reply.result < 0:
            raise AgiHangup("caller hung up while the IVR waited for a key")
        return reply.digit

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        reply = await self.checked("SAY", "DIGITS", digits, escape_digits)
        return reply.digit

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        reply = await self.checked("SAY", "NUMBER", str(number), escape_digits)
        return reply.digit

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, str(level), allow_dead=True)

    async def exec(self, application: str, options: str = "") -> AgiReply:
        """Run a dialplan application (``EXEC AudioSocket uuid,host:port``)."""
        return await self.checked("EXEC", application, options)


@dataclass(slots=True)
class AgiStats:
    """Counters for health and metrics."""

    sessions: int = 0
    active: int = 0
    rejected: int = 0
    hangups: int = 0
    failures: int = 0


class AgiServer(ConnectionServer):
    """Accept FastAGI connections and run the handler registered for the script path.

    Args:
        handlers: script path (``ivr`` in ``agi://host:4573/ivr``) to handler.
        header_timeout: seconds a client may take to send its header block.
        session_limit: seconds one session may run in total.
    """

    kind = "FastAGI"

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        header_timeout: float = 5.0,
        max_header_bytes: int = MAX_HEADER_BYTES,
        session_limit: float = 300.0,
        command_timeout: float = 60.0,
    ) -> None:
        super().__init__(host, port)
        self.handlers = dict(handlers)
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.session_limit = session_limit
        self.command_timeout = command_timeout
        self.stats = AgiStats()

    async def _read_header(self, reader: asyncio.StreamReader) -> tuple[dict[str, str], bytes]:
        header = HeaderReader(self.max_header_bytes)
        try:
            async with asyncio.timeout(self.header_timeout):
                while True:
                    data = await reader.read(READ_CHUNK)
                    if not data:
                        raise AgiProtocolError("client closed before the end of the AGI header")
                    rest = header.feed(data)
                    if header.done:
                        return header.env, rest
        except TimeoutError as exc:
            raise AgiTimeout(f"no complete AGI header within {self.header_timeout}s") from exc

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        try:
            env, rest = await self._read_header(reader)
        except (AgiProtocolError, AgiTimeout) as exc:
            self.stats.rejected += 1
            log.warning(
                "FastAGI connection refused: %s",
                exc,
                extra={"error_id": exc.error_id, "peer": peer},
            )
            return
        except ConnectionError as exc:
            self.stats.rejected += 1
            log.warning("FastAGI client dropped during the header: %s", exc)
            return
        script = env.get("agi_network_script", "").strip("/")
        handler = self.handlers.get(script)
        context = {"uniqueid": env.get("agi_uniqueid"), "script": script}
        if handler is None:
            self.stats.rejected += 1
            log.warning(
                "no FastAGI handler for %r", script, extra={**context, "error_id": "agi.route"}
            )
            return
        session = AgiSession(
            env, reader, writer, command_timeout=self.command_timeout, leftover=rest
        )
        self.stats.sessions += 1
        self.stats.active += 1
        try:
            await asyncio.wait_for(handler(session), self.session_limit)
        except AgiHangup as exc:
            self.stats.hangups += 1
            log.info("caller hung up during the IVR: %s", exc, extra=context)
        except TimeoutError:
            self.stats.failures += 1
            log.warning(
                "IVR session ran past %ss; ended",
                self.session_limit,
                extra={**context, "error_id": "agi.limit"},
            )
        except (AgiProtocolError, AgiTimeout, AgiCommandError, ConnectionError) as exc:
            self.stats.failures += 1
            log.warning(
                "IVR session ended: %s",
                exc,
                extra={**context, "error_id": getattr(exc, "error_id", "agi.io")},
            )
        finally:
            self.stats.active -= 1
