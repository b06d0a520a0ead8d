"""A small IMAP4rev1 server for tests: one mailbox, the commands ``imaplib`` sends.

Real sockets and the real client library; only the server is small. It answers
``CAPABILITY``, ``LOGIN``, ``SELECT``, ``UID SEARCH UNSEEN``, ``UID FETCH … (BODY.PEEK[])``,
``UID STORE … +FLAGS (\\Seen)`` and ``LOGOUT`` as RFC 3501 has them.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field


@dataclass
class Mailbox:
    messages: dict[int, bytes] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    password: str = "secret"
    logins: int = 0

    def add(self, raw: bytes) -> int:
        uid = max(self.messages, default=0) + 1
        self.messages[uid] = raw
        return uid


class ImapServer:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        box = self.mailbox
        writer.write(b"* OK IMAP4rev1 test server ready\r\n")
        while line := await reader.readline():
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command = rest.upper()
            if command.startswith("CAPABILITY"):
                writer.write(b"* CAPABILITY IMAP4rev1\r\n" + f"{tag} OK done\r\n".encode())
            elif command.startswith("LOGIN"):
                ok = rest.split()[-1].strip('"') == box.password
                box.logins += 1
                reply = f"{tag} OK logged in\r\n" if ok else f"{tag} NO bad credentials\r\n"
                writer.write(reply.encode())
            elif command.startswith("SELECT"):
                writer.write(f"* {len(box.messages)} EXISTS\r\n* 0 RECENT\r\n".encode())
                writer.write(f"{tag} OK [READ-WRITE] SELECT completed\r\n".encode())
            elif command.startswith("UID SEARCH"):
                unseen = " ".join(str(u) for u in sorted(box.messages) if u not in box.seen)
                writer.write(f"* SEARCH {unseen}\r\n{tag} OK SEARCH completed\r\n".encode())
            elif command.startswith("UID FETCH"):
                uid = int(rest.split()[2])
                raw = box.messages[uid]
                writer.write(f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode())
                writer.write(raw + b")\r\n" + f"{tag} OK FETCH completed\r\n".encode())
            elif command.startswith("UID STORE"):
                uid = int(rest.split()[2])
                if re.search(r"\\SEEN", command):
                    box.seen.add(uid)
                writer.write(f"* {uid} FETCH (UID {uid} FLAGS (\\Seen))\r\n".encode())
                writer.write(f"{tag} OK STORE completed\r\n".encode())
            elif command.startswith("LOGOUT"):
                writer.write(b"* BYE logging out\r\n" + f"{tag} OK bye\r\n".encode())
                await writer.drain()
                break
            else:
                writer.write(f"{tag} BAD unknown command\r\n".encode())
            await writer.drain()
        writer.close()
