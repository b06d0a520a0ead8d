"""Our FastAGI server against Asterisk's recorded side of each IVR session."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ivr.agi.protocol import AgiReply
from ivr.agi.server import AgiServer, AgiSession
from tests.conftest import CAPTURES

pytestmark = pytest.mark.protocol

SINGLE_SESSION = ("answered", "abandoned", "ringnoanswer", "hangup-in-ivr")


def load(scenario: str) -> tuple[bytes, list[str], list[bytes]]:
    """Header, the probe's commands, and Asterisk's reply bytes per command.

    The probe read Asterisk's ``HANGUP`` notice as if it were a reply, so in the file
    every later reply sits one command late. On the wire the notice came just before the
    reply to the command then running; this puts it back there.
    """
    text = Path(CAPTURES / scenario / "agi.jsonl").read_text()
    steps = [json.loads(line) for line in text.splitlines()]
    header = steps[0]["data"].encode()
    commands = [s["data"] for s in steps if s["dir"] == "out"]
    lines = [s["data"] for s in steps[1:] if s["dir"] == "in"]
    replies: list[bytes] = []
    notice = ""
    for line in lines:
        if line == "HANGUP\n":
            notice = line
            continue
        replies.append((notice + line).encode())
        notice = ""
    return header, commands[: len(replies)], replies


async def fake_asterisk(port: int, header: bytes, replies: list[bytes]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header)
    seen = []
    for reply in replies:
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line:
            break
        seen.append(line.decode().rstrip("\n"))
        writer.write(reply)
    writer.close()
    return seen


@pytest.mark.parametrize("scenario", SINGLE_SESSION)
async def test_replay(scenario: str) -> None:
    header, commands, replies = load(scenario)
    got: list[AgiReply] = []
    hung_up_at: list[int] = []

    finished = asyncio.Event()

    async def probe(session: AgiSession) -> None:
        for n, command in enumerate(commands):
            got.append(await session.command(*split(command), allow_dead=True))
            if session.hung_up and not hung_up_at:
                hung_up_at.append(n)
        finished.set()

    server = AgiServer({"ivr": probe}, port=0)
    await server.start()
    sent = await fake_asterisk(server.port, header, replies)
    await asyncio.wait_for(finished.wait(), 5)
    await server.close()
    assert [c.replace('"', "") for c in sent] == [c.replace('"', "") for c in commands]
    assert got[0].data == "+79161234567"
    assert got[1].data == "sales"
    assert (got[2].result, got[2].extra) == (-1, {"endpos": "0"})
    assert got[3].digit in {"1", "2", "3"}
    if scenario == "hangup-in-ivr":
        assert got[4].result == -1
        assert hung_up_at == [5]
        assert got[5].data == "+79161234567", "the reply after HANGUP is GET VARIABLE's own"
    else:
        assert got[-1].code == 510
        assert not hung_up_at


def split(command: str) -> list[str]:
    words: list[str] = []
    for n, part in enumerate(command.split('"')):
        words.extend(part.split() if n % 2 == 0 else [part])
    return words
