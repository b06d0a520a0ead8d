"""Asterisk's side of ``AudioSocket()``: a call's audio streamed in real time to a server."""

from __future__ import annotations

import asyncio
import time
import uuid

from ivr.speech.audiosocket import FrameParser, Kind, encode_audio, encode_uuid

RATE = 8000
FRAME = 320
"""20 ms of 8 kHz 16-bit audio: the frame Asterisk sends."""


async def stream_call(
    port: int, call_id: uuid.UUID, pcm: bytes, *, host: str = "127.0.0.1", wait: float = 5.0
) -> tuple[bool, float]:
    """Send ``pcm`` in 20 ms frames at real-time pace until the server hangs up.

    Returns whether a hangup frame came, and how many seconds of audio went out by then.
    """
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(encode_uuid(call_id))
    hung_up = asyncio.Event()

    async def watch() -> None:
        parser = FrameParser()
        while data := await reader.read(1024):
            if any(frame.kind is Kind.HANGUP for frame in parser.feed(data)):
                hung_up.set()
                return

    watching = asyncio.create_task(watch())
    sent = 0
    start = time.monotonic()
    for n, offset in enumerate(range(0, len(pcm), FRAME)):
        if hung_up.is_set():
            break
        await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
        try:
            writer.write(encode_audio(pcm[offset : offset + FRAME]))
            await writer.drain()
        except ConnectionError:
            break
        sent += FRAME
    await asyncio.wait_for(watching, wait)
    writer.close()
    return hung_up.is_set(), sent / (2 * RATE)
