"""The menu by voice: a FastAGI call whose caller speaks Korean, recognised by real Vosk.

The test plays Asterisk on both sockets: it answers the IVR's FastAGI commands and, when
the IVR runs ``EXEC AudioSocket``, streams espeak-ng speech (or a key) to the server's
AudioSocket port in real time, as ``AudioSocket()`` does.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from cti.pbxsim.audiosocket import FRAME, stream_call
from ivr.agi.server import AgiServer
from ivr.caller import CallerIvr
from ivr.flow import load_flow
from ivr.speech.audiosocket import encode_audio, encode_dtmf, encode_uuid
from ivr.speech.recognizer import SpeechModel
from ivr.speech.service import AudioSocketSpeech
from tests.integration.test_speech import Voice, model, utterance, voice

pytestmark = pytest.mark.integration
__all__ = ["model", "voice"]

HEADER = (
    "agi_network: yes\nagi_network_script: ivr\nagi_request: agi://127.0.0.1/ivr\n"
    "agi_channel: PJSIP/trunk-00000001\nagi_language: {language}\nagi_type: PJSIP\n"
    "agi_uniqueid: 1795403632.1\nagi_version: 22.10.1\nagi_callerid: {caller}\n"
    "agi_calleridname: \nagi_context: cti-inbound\nagi_extension: s\nagi_priority: 5\n"
    "agi_enhanced: 0.0\nagi_accountcode: \n\n"
)


async def press(port: int, call_id: uuid.UUID, digit: str) -> None:
    """Asterisk's AudioSocket(): half a second of line, then the caller presses a key."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode_uuid(call_id))
    start = time.monotonic()
    try:
        for n in range(100):
            if n == 25:
                writer.write(encode_dtmf(digit))
            writer.write(encode_audio(bytes(FRAME)))
            await writer.drain()
            await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
    except ConnectionError:
        pass  # the server hung up, as it should once it has the key
    finally:
        writer.close()


async def asterisk(
    agi_port: int, speech_port: int, *, caller: str, answer: bytes | str
) -> list[str]:
    """One FastAGI call; the caller answers the menu with speech (PCM) or a key (str)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", agi_port)
    writer.write(HEADER.format(language="ko", caller=caller).encode())
    commands: list[str] = []
    streaming: list[asyncio.Task[object]] = []
    while line := (await reader.readline()).decode().strip():
        commands.append(line)
        if line.startswith("EXEC AudioSocket"):
            call_id = uuid.UUID(re.split(r"[ ,]", line)[2])
            if isinstance(answer, bytes):
                streaming.append(asyncio.create_task(stream_call(speech_port, call_id, answer)))
            else:
                streaming.append(asyncio.create_task(press(speech_port, call_id, answer)))
            await asyncio.gather(*streaming)
            writer.write(b"200 result=0\n")
        elif line.startswith("STREAM FILE"):
            writer.write(b"200 result=0 endpos=8000\n")
        else:
            writer.write(b"200 result=1\n")
        await writer.drain()
    writer.close()
    return commands


@pytest.fixture
async def servers(model: SpeechModel) -> AsyncIterator[tuple[AgiServer, AudioSocketSpeech]]:
    speech = AudioSocketSpeech(model, port=0, silence_ms=600, connect_timeout=2.0)
    await speech.start()
    ivr = CallerIvr(load_flow(), None, speech=speech, listen_timeout=4.0)
    agi = AgiServer({"ivr": ivr}, port=0)
    await agi.start()
    yield agi, speech
    await agi.close()
    await speech.close()


def variables(commands: list[str]) -> dict[str, str]:
    return dict(
        (m.group(1), m.group(2))
        for c in commands
        if (m := re.match(r"SET VARIABLE (CTI_[A-Z_]+) (.*)$", c))
    )


async def test_a_caller_says_what_they_call_about(
    servers: tuple[AgiServer, AudioSocketSpeech], voice: Voice
) -> None:
    agi, speech = servers
    commands = await asyncio.wait_for(
        asterisk(agi.port, speech.port, caller="+79645550108", answer=utterance(voice.say("배달"))),
        30,
    )
    got = variables(commands)
    assert got["CTI_IVR_PATH"] == "unknown>menu>said:배달>key:2>queue:sales"
    assert (got["CTI_QUEUE"], got["CTI_REASON"]) == ("sales", "delivery")
    assert any(c.startswith("STREAM FILE cti/menu") for c in commands)


async def test_a_key_pressed_while_listening_wins(
    servers: tuple[AgiServer, AudioSocketSpeech],
) -> None:
    agi, speech = servers
    commands = await asyncio.wait_for(
        asterisk(agi.port, speech.port, caller="anonymous", answer="3"), 30
    )
    got = variables(commands)
    assert got["CTI_IVR_PATH"] == "unknown>menu>key:3>queue:support"
