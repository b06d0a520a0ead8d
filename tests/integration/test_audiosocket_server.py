"""The AudioSocket server over real sockets: a good call, bad peers, and the two together."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from ivr.speech.audiosocket import (
    AudioSocketServer,
    AudioSocketSession,
    Kind,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_frame,
    encode_uuid,
)

pytestmark = pytest.mark.integration

LOGGER = "ivr.speech.audiosocket"
PCM = bytes(range(256)) * 10


class Recorder:
    """A session handler that keeps what each call sent."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.audio: dict[uuid.UUID, bytes] = {}
        self.sessions: list[AudioSocketSession] = []
        self.stop_after = stop_after

    async def __call__(self, session: AudioSocketSession) -> None:
        self.sessions.append(session)
        received = b""
        chunks = 0
        async for chunk in session:
            received += chunk
            chunks += 1
            if self.stop_after is not None and chunks >= self.stop_after:
                break
        self.audio[session.call_id] = received


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def server(recorder: Recorder) -> AsyncIterator[AudioSocketServer]:
    async with AudioSocketServer("127.0.0.1", 0, recorder, read_timeout=0.3) as srv:
        yield srv


async def asterisk(port: int, wire: bytes, *, close: bool = True) -> bytes:
    """Play Asterisk: send bytes, then return what the server sent until it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(wire)
    await writer.drain()
    if close:
        writer.write_eof()
    try:
        return await asyncio.wait_for(reader.read(), 3)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 30]


async def test_a_call_streams_its_audio_and_keys(
    server: AudioSocketServer, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    call = uuid.uuid4()
    wire = (
        encode_uuid(call) + encode_audio(PCM[:1000]) + encode_dtmf("5") + encode_audio(PCM[1000:])
    )
    await asterisk(server.port, wire)
    assert recorder.audio[call] == PCM
    assert recorder.sessions[0].digits == "5"
    assert problems(caplog) == []
    assert any("ended: Asterisk closed the connection" in m for m in caplog.messages)


async def test_the_server_hangs_up_when_the_handler_is_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    recorder = Recorder(stop_after=2)
    async with AudioSocketServer("127.0.0.1", 0, recorder, read_timeout=1) as srv:
        sent_back = await asterisk(
            srv.port, encode_uuid(uuid.uuid4()) + encode_audio(PCM), close=False
        )
    assert sent_back == b"\x00\x00\x00"
    assert any("the server ended the session" in m for m in caplog.messages)


async def test_audio_sent_back_reaches_asterisk() -> None:
    async def speak(session: AudioSocketSession) -> None:
        await session.send_audio(b"\x01\x00" * 200)

    async with AudioSocketServer("127.0.0.1", 0, speak) as srv:
        sent_back = await asterisk(srv.port, encode_uuid(uuid.uuid4()), close=False)
    assert sent_back == encode_audio(b"\x01\x00" * 200) + b"\x00\x00\x00"


@pytest.mark.parametrize(
    ("wire", "close", "logged"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, "refused: unknown AudioSocket kind 0x47"),
        (b"", False, "refused: sent no UUID within 0.3s"),
        (b"\x01\x00\x10abc", True, "refused: closed before sending its UUID"),
        (encode_audio(PCM[:320]), True, "refused: sent AUDIO before its UUID"),
        (encode_uuid(uuid.uuid4()) + b"\x10\xff\xff", True, "over the 8192-byte limit"),
        (encode_uuid(uuid.uuid4()) + encode_audio(PCM)[:500], True, "middle of a frame"),
        (encode_uuid(uuid.uuid4()) + encode_audio(PCM[:320]), False, "no data within 0.3s"),
        (encode_uuid(uuid.uuid4()) + encode_error(0x02), False, "reported an error (code 0x02)"),
        (encode_uuid(uuid.uuid4()) + encode_frame(Kind.AUDIO_SLIN16, PCM), True, "not 8 kHz"),
    ],
    ids=[
        "garbage",
        "silent-client",
        "eof-before-uuid",
        "audio-before-uuid",
        "oversize",
        "mid-frame-disconnect",
        "idle-after-uuid",
        "asterisk-error",
        "wrong-rate",
    ],
)
async def test_a_bad_peer_ends_its_session_with_one_log_line(
    server: AudioSocketServer,
    caplog: pytest.LogCaptureFixture,
    wire: bytes,
    close: bool,
    logged: str,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    await asterisk(server.port, wire, close=close)
    [line] = problems(caplog)
    assert logged in line


async def test_bad_peers_do_not_disturb_a_good_call(
    server: AudioSocketServer, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    good = uuid.uuid4()

    async def good_call() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode_uuid(good))
        for i in range(0, len(PCM), 320):
            writer.write(encode_audio(PCM[i : i + 320]))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write_eof()
        await reader.read()
        writer.close()

    await asyncio.gather(
        good_call(),
        asterisk(server.port, b"\xee" * 100),
        asterisk(server.port, encode_uuid(uuid.uuid4()) + b"\x10\xff\xff"),
        asterisk(server.port, b"", close=False),
        asterisk(server.port, encode_uuid(uuid.uuid4()) + encode_audio(PCM)[:77]),
    )
    assert recorder.audio[good] == PCM
    assert len(problems(caplog)) == 4
    assert server.sessions == 3 and server.rejected == 2


async def test_a_failing_handler_is_logged_and_the_server_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def flaky(session: AudioSocketSession) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("handler bug")
        async for _ in session:
            pass

    async with AudioSocketServer("127.0.0.1", 0, flaky) as srv:
        await asterisk(srv.port, encode_uuid(uuid.uuid4()) + encode_audio(PCM))
        await asterisk(srv.port, encode_uuid(uuid.uuid4()) + encode_audio(PCM))
    assert calls == 2
    assert [m for m in problems(caplog) if "handler failed" in m] == [
        "AudioSocket session handler failed"
    ]


async def test_close_hangs_up_open_sessions(recorder: Recorder) -> None:
    srv = AudioSocketServer("127.0.0.1", 0, recorder, read_timeout=30)
    await srv.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(encode_uuid(uuid.uuid4()))
    await writer.drain()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(srv.close(), 2)
    assert await asyncio.wait_for(reader.read(), 2) == b"\x00\x00\x00"
    writer.close()
