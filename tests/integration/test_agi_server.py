"""The FastAGI server over real sockets: bad clients, limits, many calls at once."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator

import pytest

from ivr.agi.server import AgiServer, AgiSession

pytestmark = pytest.mark.integration

HEADER = (
    "agi_network: yes\nagi_network_script: ivr\nagi_channel: PJSIP/trunk-{n:08x}\n"
    "agi_uniqueid: 1795403632.{n}\nagi_callerid: +7916100{n:04d}\nagi_calleridname: Caller {n}\n\n"
)


async def echo_caller(session: AgiSession) -> None:
    number = await session.get_variable("CALLERID(num)")
    await session.set_variable("CTI_SEEN", number or "none")


@pytest.fixture
async def server() -> AsyncIterator[AgiServer]:
    srv = AgiServer({"ivr": echo_caller}, port=0, header_timeout=0.5, session_limit=2.0)
    await srv.start()
    yield srv
    await srv.close()


async def asterisk_side(port: int, n: int) -> list[str]:
    """Play Asterisk: send the header, answer GET VARIABLE and SET VARIABLE."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADER.format(n=n).encode())
    commands = []
    while line := await reader.readline():
        command = line.decode().strip()
        commands.append(command)
        if command.startswith("GET VARIABLE"):
            writer.write(f"200 result=1 (+7916100{n:04d})\n".encode())
        else:
            writer.write(b"200 result=1\n")
    writer.close()
    return commands


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def test_two_hundred_calls_at_once(server: AgiServer) -> None:
    results = await asyncio.gather(*(asterisk_side(server.port, n) for n in range(200)))
    assert all(r[0] == "GET VARIABLE CALLERID(num)" for r in results)
    assert results[7][1] == "SET VARIABLE CTI_SEEN +79161000007"
    assert server.stats.sessions == 200 and server.stats.active == 0


@pytest.mark.parametrize(
    "junk",
    [
        b"\x00\xff\xfe\x01binary\n\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"agi_x: " + b"y" * 1_000_000,
    ],
)
async def test_garbage_is_refused_and_others_still_served(
    server: AgiServer, junk: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    with caplog.at_level(logging.WARNING, logger="ivr.agi.server"):
        writer.write(junk)
        assert await closed_by_server(reader, 2.0)
    writer.close()
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
    assert (await asterisk_side(server.port, 1))[0].startswith("GET VARIABLE")


async def test_header_without_blank_line_times_out(server: AgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_network_script: ivr\n")
    started = time.monotonic()
    assert await closed_by_server(reader, 3.0)
    assert time.monotonic() - started < 1.5
    writer.close()
    assert server.stats.rejected == 1


async def test_client_that_never_sends_is_dropped(server: AgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    assert await closed_by_server(reader, 3.0)
    writer.close()


async def test_early_disconnect_ends_the_session_without_spinning(server: AgiServer) -> None:
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: yes\n")
        writer.close()
    gc.collect()
    gc.disable()  # a full collection of the test run's heap is not the server spinning
    try:
        cpu = time.process_time()
        await asyncio.sleep(0.5)
        spent = time.process_time() - cpu
    finally:
        gc.enable()
    assert spent < 0.2
    assert server.stats.rejected == 20 and server.stats.active == 0


async def test_a_session_that_runs_too_long_is_ended(server: AgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER.format(n=1).encode())
    assert (await reader.readline()).startswith(b"GET VARIABLE")
    assert await closed_by_server(reader, 4.0)
    writer.close()
    assert server.stats.failures == 1


async def test_unknown_script_is_refused(server: AgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADER.format(n=1).replace("script: ivr", "script: nope").encode())
    assert await closed_by_server(reader, 2.0)
    writer.close()
