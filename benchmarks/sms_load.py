"""Load for the SMS benchmark: signed Twilio webhooks as fast as a server takes them.

``python -m benchmarks.sms_load PORT TOKEN SECONDS CONNECTIONS FIRST`` opens CONNECTIONS
keep-alive HTTP/1.1 connections and, on each, posts one webhook after the other for
SECONDS, each with its own ``MessageSid`` (numbered from FIRST), from one of 2,000
senders, signed with ``TOKEN`` for ``http://127.0.0.1:PORT/webhooks/sms/twilio``.
Prints ``done N OK ERRORS SECONDS``. Plain asyncio streams: the client must not be the
bottleneck.
"""

from __future__ import annotations

import asyncio
import sys
import time
from urllib.parse import urlencode

from cti.messaging.sms import twilio_signature

SENDERS = 2000
PATH = "/webhooks/sms/twilio"


def request(port: int, token: str, n: int) -> bytes:
    params = [
        ("MessageSid", f"SM{n:032d}"),
        ("AccountSid", "AC0"),
        ("From", f"+7926{1000000 + n % SENDERS:07d}"),
        ("To", "+74950000000"),
        ("Body", f"Where is my order {n % 9000 + 1000}? Thanks"),
        ("NumMedia", "0"),
    ]
    body = urlencode(params).encode()
    signature = twilio_signature(f"http://127.0.0.1:{port}{PATH}", params, token)
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


async def worker(port: int, token: str, ids: list[int], until: float, tally: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for n in ids:
            if time.monotonic() >= until:
                return
            writer.write(request(port, token, n))
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            tally[0 if b" 200 " in status_line else 1] += 1
    finally:
        writer.close()


async def main() -> int:
    port, token = int(sys.argv[1]), sys.argv[2]
    seconds, connections, first = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    tally = [0, 0]
    started = time.monotonic()
    until = started + seconds
    ids = list(range(first, first + 2_000_000))
    await asyncio.gather(
        *(worker(port, token, ids[c::connections], until, tally) for c in range(connections))
    )
    print(f"done {sum(tally)} {tally[0]} {tally[1]} {time.monotonic() - started:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
