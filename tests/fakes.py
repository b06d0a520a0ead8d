"""A scripted AMI peer on 127.0.0.1:0 for byte-level fault tests of the AMI client.

It answers like Asterisk 22 (the replies are the recorded ones) but lets a test decide
exactly which bytes go out and when: split writes, garbage, silence, dropped sockets.
Realistic call flows come from ``cti.pbxsim`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from cti.ami.protocol import AmiFramer, format_message, parse_headers

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


class ScriptedAmi:
    """An AMI server whose replies and events are chosen by the test."""

    def __init__(self, secret: str = "s3cret", username: str = "cti") -> None:
        self.secret = secret
        self.username = username
        self.answer_pings = True
        self.channels: list[dict[str, str]] = []
        self.queue_entries: list[dict[str, str]] = []
        self.logins = 0
        self.failed_logins = 0
        self.actions: list[dict[str, str]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> ScriptedAmi:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.drop_clients()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    def drop_clients(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def send(self, data: bytes) -> None:
        """Write raw bytes to every logged-in client and let them go out."""
        for writer in list(self.writers):
            writer.write(data)
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    async def event(self, fields: Mapping[str, str]) -> None:
        await self.send(format_message(fields))

    async def wait_for_logins(self, count: int, timeout: float = 5.0) -> None:
        async def _wait() -> None:
            while self.logins < count:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(_wait(), timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)
        writer.write(BANNER)
        framer = AmiFramer(expect_banner=False)
        try:
            while data := await reader.read(65536):
                for frame in framer.feed(data):
                    self._answer(parse_headers(frame), writer)
        except ConnectionError:
            pass
        finally:
            if writer in self.writers:
                self.writers.remove(writer)
            writer.close()

    def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        self.actions.append(action)
        name = action.get("Action", "").lower()
        action_id = action.get("ActionID", "")
        if name == "login":
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                self.logins += 1
                writer.write(
                    format_message(
                        [
                            ("Response", "Success"),
                            ("ActionID", action_id),
                            ("Message", "Authentication accepted"),
                        ]
                    )
                )
                writer.write(
                    format_message(
                        [
                            ("Event", "FullyBooted"),
                            ("Privilege", "system,all"),
                            ("Uptime", "30"),
                            ("LastReload", "30"),
                            ("Status", "Fully Booted"),
                        ]
                    )
                )
                self.writers.append(writer)
            else:
                self.failed_logins += 1
                writer.write(
                    format_message(
                        [
                            ("Response", "Error"),
                            ("ActionID", action_id),
                            ("Message", "Authentication failed"),
                        ]
                    )
                )
        elif name == "ping":
            if self.answer_pings:
                writer.write(
                    format_message(
                        [("Response", "Success"), ("ActionID", action_id), ("Ping", "Pong")]
                    )
                )
        elif name in ("coreshowchannels", "queuestatus"):
            items = self.channels if name == "coreshowchannels" else self.queue_entries
            complete = (
                "CoreShowChannelsComplete" if items is self.channels else "QueueStatusComplete"
            )
            writer.write(
                format_message(
                    [
                        ("Response", "Success"),
                        ("ActionID", action_id),
                        ("EventList", "start"),
                        ("Message", "Channels will follow"),
                    ]
                )
            )
            for item in items:
                writer.write(format_message({**item, "ActionID": action_id}))
            writer.write(
                format_message(
                    [
                        ("Event", complete),
                        ("ActionID", action_id),
                        ("EventList", "Complete"),
                        ("ListItems", str(len(items))),
                    ]
                )
            )
        elif name == "logoff":
            writer.write(
                format_message(
                    [
                        ("Response", "Goodbye"),
                        ("ActionID", action_id),
                        ("Message", "Thanks for all the fish."),
                    ]
                )
            )
        else:
            writer.write(
                format_message(
                    [
                        ("Response", "Error"),
                        ("ActionID", action_id),
                        ("Message", "Invalid/unknown command"),
                    ]
                )
            )
