"""A TCP server that runs one task per connection and ends them all when it closes.

Shared by the FastAGI server and the AudioSocket server: both take connections from
Asterisk, each one a call, and must stop cleanly with calls in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from abc import ABC, abstractmethod
from typing import Self

log = logging.getLogger(__name__)


class ConnectionServer(ABC):
    """Listen on ``host:port``; ``handle`` each connection in its own task."""

    kind = "TCP"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @abstractmethod
    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        """Serve one connection; the writer is closed afterwards."""

    async def start(self) -> None:
        """Listen; ``port`` then holds the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s listening", self.kind, extra={"host": self.host, "port": self.port})

    async def close(self) -> None:
        """Stop listening and end every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = str(writer.get_extra_info("peername"))
        try:
            await self.handle(reader, writer, peer)
        except asyncio.CancelledError:
            # The server is closing. Ending quietly matters on Python 3.11, whose
            # start_server callback calls task.exception() on a cancelled task.
            log.debug("%s connection cancelled by shutdown", self.kind, extra={"peer": peer})
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
