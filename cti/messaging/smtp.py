"""Email in over SMTP (aiosmtpd) and out over SMTP (aiosmtplib).

The receiver answers ``250`` only once the message is committed; if it cannot be (the
database is away), ``451``: the sending server keeps it and tries again, so a message
accepted is never lost and one refused is still on its way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from cti.messaging.sms import SendError

log = logging.getLogger(__name__)


class _Handler:
    def __init__(self, receive: Callable[[bytes], Awaitable[Any]]) -> None:
        self.receive = receive
        self.accepted = 0
        self.deferred = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw or "").encode("utf-8", "replace")
        try:
            await self.receive(data)
        except Exception as exc:  # the sender keeps the message and retries
            self.deferred += 1
            log.error(
                "could not store an inbound email (%s): asked the sender to retry",
                type(exc).__name__,
                extra={"error_id": "mail.store"},
            )
            return "451 4.3.0 Temporarily unable to store the message, try again later"
        self.accepted += 1
        return "250 2.0.0 OK"


class SmtpReceiver:
    """An SMTP server on this process's event loop."""

    def __init__(
        self,
        receive: Callable[[bytes], Awaitable[Any]],
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        max_bytes: int = 30 * 2**20,
        hostname: str = "callfold",
    ) -> None:
        self.handler = _Handler(receive)
        self.host = host
        self.requested_port = port
        self.max_bytes = max_bytes
        self.hostname = hostname
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self.handler,
                data_size_limit=self.max_bytes,
                enable_SMTPUTF8=True,
                hostname=self.hostname,
            ),
            self.host,
            self.requested_port,
        )
        log.info("SMTP receiver listening", extra={"host": self.host, "port": self.port})

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class SmtpSender:
    """Sends through the site's SMTP server (STARTTLS and login when configured)."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str = "",
        password: str = "",
        start_tls: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> str:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"recipient refused: {exc}"[:200], permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            raise SendError(f"SMTP {exc.code}: {exc.message}"[:200], permanent=permanent) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP unreachable: {type(exc).__name__}") from exc
        return str(message["Message-ID"])


class LogMailSender:
    """Sends nothing: logs each email (the demo, and sites without an SMTP server yet)."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> str:
        self.sent.append(message)
        log.info("email to %s (not sent: log-only): %s", message["To"], message["Subject"])
        return str(message["Message-ID"])
