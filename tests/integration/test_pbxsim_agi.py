"""The simulator's FastAGI side over real sockets, against small FastAGI servers and ours."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from cti.ami.protocol import AmiFramer, parse_message
from cti.pbxsim import PbxSimulator
from cti.pbxsim.engine import CallerScript
from ivr.agi.exceptions import AgiHangup
from ivr.agi.server import AgiServer, AgiSession
from tests.integration.test_bridge import wait_until

pytestmark = pytest.mark.integration


@dataclass
class Conversation:
    """The IVR's end of one FastAGI session, as a test writes it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    header: list[tuple[str, str]]
    notices: list[int] = field(default_factory=list)
    """For each ``HANGUP`` notice, how many commands had been sent before it."""
    sent: int = 0

    async def line(self) -> str:
        data = await asyncio.wait_for(self.reader.readline(), 5.0)
        if not data:
            raise ConnectionError("Asterisk closed the session")
        return data.decode().rstrip("\n")

    async def ask(self, command: str) -> str:
        """Send one command; return its reply (every line of a ``520`` usage)."""
        self.writer.write(f"{command}\n".encode())
        self.sent += 1
        reply = await self.line()
        while reply == "HANGUP":
            self.notices.append(self.sent)
            reply = await self.line()
        lines = [reply]
        if reply.startswith("520-"):
            while not lines[-1].startswith("520 "):
                lines.append(await self.line())
        return "\n".join(lines)


Script = Callable[[Conversation], Awaitable[None]]


class FastAgi:
    """A minimal FastAGI server on 127.0.0.1:0 that runs one script per connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sessions: list[Conversation] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> FastAgi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = []
        while (line := (await reader.readline()).decode().rstrip("\n")) != "":
            key, _, value = line.partition(": ")
            header.append((key, value))
        talk = Conversation(reader, writer, header)
        self.sessions.append(talk)
        try:
            await self.script(talk)
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def events() -> AsyncIterator[list[bytes]]:
    yield []


def ami(events: list[bytes]) -> list[dict[str, str]]:
    frames = AmiFramer(expect_banner=False).feed(b"".join(events))
    return [parse_message(frame) for frame in frames]


async def simulator(port: int, events: list[bytes], speed: float = 50) -> PbxSimulator:
    sim = PbxSimulator(speed=speed, ivr=("127.0.0.1", port), auth_delay=0)
    sim.listeners.append(events.append)
    return await sim.start()


async def test_header_replies_and_the_queue_the_ivr_chose(events: list[bytes]) -> None:
    replies: dict[str, str] = {}

    async def ivr(talk: Conversation) -> None:
        for command in (
            "GET VARIABLE CALLERID(num)",
            "GET VARIABLE CALLERID(name)",
            "GET VARIABLE CTI_QUEUE",
            "GET VARIABLE NOT_SET",
            "ANSWER",
            'VERBOSE "hello from the test" 1',
            'STREAM FILE cti-welcome "0123456789#*"',
            "WAIT FOR DIGIT 5000",
            "SET VARIABLE CTI_QUEUE support",
            "SET VARIABLE CTI_REASON complaint",
            "SET VARIABLE CTI_CONTACT_ID 42",
            "BOGUS COMMAND",
            "SET VARIABLE ONLY_NAME",
        ):
            replies[command] = await talk.ask(command)

    agi = await FastAgi(ivr).start()
    sim = await simulator(agi.port, events)
    result = await sim.place_call(
        "abandoned", caller="+79161234567", name="Ivan Petrov", digits="3"
    )
    (talk,) = agi.sessions
    keys = [key for key, _ in talk.header]
    assert keys[:3] == ["agi_network", "agi_network_script", "agi_request"]
    assert keys[-2:] == ["agi_accountcode", "agi_threadid"]
    header = dict(talk.header)
    assert (
        header["agi_channel"].startswith("Local/s@inbound-") and header["agi_channel"][-2:] == ";2"
    )
    assert (header["agi_callerid"], header["agi_calleridname"], header["agi_version"]) == (
        "+79161234567",
        "Ivan Petrov",
        "22.10.1",
    )
    assert (header["agi_context"], header["agi_extension"], header["agi_priority"]) == (
        "inbound",
        "s",
        "4",
    )
    assert replies["GET VARIABLE CALLERID(num)"] == "200 result=1 (+79161234567)"
    assert replies["GET VARIABLE CALLERID(name)"] == "200 result=1 (Ivan Petrov)"
    assert replies["GET VARIABLE CTI_QUEUE"] == "200 result=1 (sales)"
    assert replies["GET VARIABLE NOT_SET"] == "200 result=0"
    assert replies["ANSWER"] == "200 result=0"
    assert replies['VERBOSE "hello from the test" 1'] == "200 result=1"
    assert replies['STREAM FILE cti-welcome "0123456789#*"'] == "200 result=-1 endpos=0"
    assert replies["WAIT FOR DIGIT 5000"] == "200 result=51", "the caller pressed 3"
    assert replies["SET VARIABLE CTI_QUEUE support"] == "200 result=1"
    assert replies["BOGUS COMMAND"] == "510 Invalid or unknown command"
    usage = replies["SET VARIABLE ONLY_NAME"].splitlines()
    assert usage[0].startswith("520-") and usage[-1] == "520 End of proper usage."
    assert result.variables == {
        "CTI_QUEUE": "support",
        "CTI_REASON": "complaint",
        "CTI_CONTACT_ID": "42",
    }
    assert (result.queue, result.outcome) == ("support", "abandoned")
    stream = ami(events)
    ends = [(m["Command"], m["ResultCode"]) for m in stream if m.get("Event") == "AGIExecEnd"]
    assert ends[-2:] == [("BOGUS COMMAND", "510"), ("SET VARIABLE ONLY_NAME", "520")]
    assert [m["Value"] for m in stream if m.get("Variable") == "AGISTATUS"] == ["FAILURE"]
    await sim.close()
    await agi.close()


@pytest.mark.parametrize("step", [1, 2, 3])
async def test_a_caller_hanging_up_mid_session(events: list[bytes], step: int) -> None:
    replies: list[str] = []

    async def ivr(talk: Conversation) -> None:
        replies.append(await talk.ask("GET VARIABLE CALLERID(num)"))
        replies.append(await talk.ask("WAIT FOR DIGIT 3000"))
        replies.append(await talk.ask("STREAM FILE hello-world 123"))
        replies.append(await talk.ask("GET VARIABLE CALLERID(num)"))
        replies.append(await talk.ask("SET VARIABLE CTI_QUEUE sales"))

    agi = await FastAgi(ivr).start()
    sim = await simulator(agi.port, events)
    plan = sim.plan("answered", digits="")
    plan.script = CallerScript(digits="", hangup_after=step)
    result = await sim.place_call(plan=plan)
    (talk,) = agi.sessions
    assert talk.notices == [step + 2], "the notice follows the reply of the interrupted command"
    dead = "511 Command Not Permitted on a dead channel or intercept routine"
    expected = {
        1: ["200 result=1 (+79161234567)", "200 result=-1", dead, "200 result=1 (+79161234567)"],
        2: ["200 result=1 (+79161234567)", "200 result=0", "200 result=-1 endpos=0"],
        3: ["200 result=1 (+79161234567)", "200 result=0", "200 result=0 endpos=16000"],
    }[step]
    assert replies[: len(expected)] == expected
    assert replies[-1] == "200 result=1", "SET VARIABLE works on a dead channel"
    assert result.outcome == "ivr_hangup"
    assert not any(m.get("Event") == "QueueCallerJoin" for m in ami(events))
    await sim.close()
    await agi.close()


async def test_unreachable_ivr_falls_through_to_the_default_queue(events: list[bytes]) -> None:
    sim = await simulator(free_port(), events)
    result = await sim.place_call("answered")
    assert (result.outcome, result.queue, result.variables) == ("answered", "sales", {})
    stream = ami(events)
    assert [m["Value"] for m in stream if m.get("Variable") == "AGISTATUS"] == ["FAILURE"]
    assert not any(m.get("Event", "").startswith("AGIExec") for m in stream)
    await sim.close()


async def test_an_ivr_that_hangs_up_at_once_still_leaves_a_working_call(
    events: list[bytes],
) -> None:
    async def rude(talk: Conversation) -> None:
        talk.writer.write(b"\x00garbage that is not a command\n")

    agi = await FastAgi(rude).start()
    sim = await simulator(agi.port, events)
    result = await sim.place_call("answered")
    assert (result.outcome, result.queue) == ("answered", "sales")
    ends = [m for m in ami(events) if m.get("Event") == "AGIExecEnd"]
    assert [m["ResultCode"] for m in ends] == ["510"]
    await sim.close()
    await agi.close()


async def test_our_fastagi_server_drives_simulated_calls(events: list[bytes]) -> None:
    heard: list[str] = []
    hangups: list[str] = []

    async def ivr(session: AgiSession) -> None:
        try:
            heard.append(await session.get_variable("CALLERID(num)") or "")
            digit, _ = await session.stream_file("cti/welcome-menu", "123")
            digit = digit or await session.wait_for_digit(5000)
            await session.set_variable("CTI_QUEUE", "support" if digit == "3" else "sales")
            await session.set_variable("CTI_REASON", "complaint" if digit == "3" else "order")
        except AgiHangup:
            hangups.append(session.channel)
            raise

    server = AgiServer({"ivr": ivr}, port=0)
    await server.start()
    sim = await simulator(server.port, events)
    gives_up = sim.plan("answered", caller="+79160000000", digits="")
    gives_up.script.hangup_after = 1
    results = await asyncio.gather(
        sim.place_call("answered", digits="1"),
        sim.place_call("abandoned", caller="+79161112233", digits="3"),
        sim.place_call(plan=gives_up),
    )
    assert [r.outcome for r in results] == ["answered", "abandoned", "ivr_hangup"]
    assert [r.variables.get("CTI_QUEUE") for r in results[:2]] == ["sales", "support"]
    assert sorted(heard) == ["+79160000000", "+79161112233", "+79161234567"]
    await wait_until(lambda: server.stats.active == 0)
    assert len(hangups) == 1 and server.stats.failures == 0
    await sim.close()
    await server.close()


async def test_trunk_calls_reach_the_ivr_with_the_trunk_channel(events: list[bytes]) -> None:
    headers: list[dict[str, str]] = []

    async def ivr(talk: Conversation) -> None:
        headers.append(dict(talk.header))
        await talk.ask("SET VARIABLE CTI_QUEUE sales")

    agi = await FastAgi(ivr).start()
    sim = PbxSimulator(speed=50, shape="trunk", ivr=("127.0.0.1", agi.port), auth_delay=0)
    sim.listeners.append(events.append)
    await sim.start()
    result = await sim.place_call("answered")
    (header,) = headers
    assert header["agi_channel"].startswith("PJSIP/trunk-") and header["agi_type"] == "PJSIP"
    assert header["agi_context"] == "cti-inbound"
    assert (result.outcome, result.agent) == ("answered", "PJSIP/1001")
    await sim.close()
    await agi.close()
