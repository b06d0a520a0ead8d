"""Email from a mailbox: poll IMAP for unseen messages, store each, then mark it seen.

For sites that forward customer mail to a mailbox rather than to our SMTP receiver. A
message is marked ``\\Seen`` only after it is committed, so a crash or a database outage
between the two leaves it unseen and the next poll takes it again (stored once: the
``Message-ID`` is the key, whichever way the mail came). The standard library's
``imaplib`` runs in a worker thread; each message is handed back to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Receive = Callable[[bytes], Coroutine[Any, Any, Any]]


class ImapPoller:
    def __init__(
        self,
        receive: Receive,
        host: str,
        *,
        port: int = 993,
        username: str = "",
        password: str = "",
        folder: str = "INBOX",
        ssl: bool = True,
        every: float = 30.0,
        batch: int = 200,
    ) -> None:
        self.receive = receive
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.folder = folder
        self.ssl = ssl
        self.every = every
        self.batch = batch
        self.taken = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="imap-poller")

    async def _run(self) -> None:
        while True:
            try:
                taken = await self.poll()
                if self.failures:
                    log.info("IMAP mailbox reachable again")
                self.failures = 0
                if taken:
                    log.info("took %d emails from the IMAP mailbox", taken)
            except Exception as exc:  # the mailbox or the database is away: next time
                self.failures += 1
                if self.failures == 1:
                    log.warning(
                        "cannot read the IMAP mailbox (%s): retrying every %.0f s",
                        type(exc).__name__,
                        self.every,
                        extra={"error_id": "mail.imap"},
                    )
            await asyncio.sleep(self.every)

    async def poll(self) -> int:
        """Take every unseen message once; how many were stored."""
        loop = asyncio.get_running_loop()
        return await asyncio.to_thread(self._poll, loop)

    def _poll(self, loop: asyncio.AbstractEventLoop) -> int:
        client: imaplib.IMAP4 = (
            imaplib.IMAP4_SSL(self.host, self.port, timeout=30)
            if self.ssl
            else imaplib.IMAP4(self.host, self.port, timeout=30)
        )
        taken = 0
        try:
            client.login(self.username, self.password)
            client.select(self.folder)
            _, found = client.uid("SEARCH", "UNSEEN")
            uids = found[0].split()[: self.batch] if found and found[0] else []
            for uid in uids:
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next(
                    (p[1] for p in parts if isinstance(p, tuple) and isinstance(p[1], bytes)),
                    None,
                )
                if raw is None:
                    continue
                asyncio.run_coroutine_threadsafe(self.receive(raw), loop).result(timeout=60)
                client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
                taken += 1
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()
        self.taken += taken
        return taken

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
