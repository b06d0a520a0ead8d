"""Load for the email benchmark: messages over SMTP as fast as a receiver takes them.

``python -m benchmarks.mail_load PORT SECONDS CONNECTIONS FIRST`` keeps CONNECTIONS SMTP
sessions open and sends one email after the other on each for SECONDS: 1 KB of text from
one of 1,000 senders, every tenth with a 20 KB attachment, every fifth a reply in a
thread. Prints ``done N OK ERRORS SECONDS``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from email.message import EmailMessage

import aiosmtplib

TEXT = ("Hello, I am writing about my order. " * 30)[:1000]
ATTACHMENT = bytes(range(256)) * 80


def message(n: int) -> EmailMessage:
    email = EmailMessage()
    email["From"] = f"Customer {n % 1000} <customer{n % 1000}@example.org>"
    email["To"] = "support@shop.example"
    email["Subject"] = f"Order {n % 9000 + 1000}"
    email["Message-ID"] = f"<bench-{n}@example.org>"
    if n % 5 == 0 and n > 5:
        email["In-Reply-To"] = f"<bench-{n - 5}@example.org>"
        email["References"] = f"<bench-{n - 5}@example.org>"
    email.set_content(TEXT)
    if n % 10 == 0:
        email.add_attachment(
            ATTACHMENT, maintype="application", subtype="pdf", filename=f"invoice-{n}.pdf"
        )
    return email


TEMPLATES = [message(n).as_bytes() for n in range(100)]
"""Rendered once: the load process must not spend its time in the email library."""


def raw(n: int) -> bytes:
    """Message ``n``: its template with its own ``Message-ID``."""
    return TEMPLATES[n % 100].replace(f"<bench-{n % 100}@".encode(), f"<bench-{n}@".encode(), 1)


async def session(port: int, ids: range, until: float, tally: list[int]) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
    await client.connect()
    try:
        for n in ids:
            if time.monotonic() >= until:
                return
            try:
                sender = f"customer{n % 1000}@example.org"
                await client.sendmail(sender, ["support@shop.example"], raw(n))
                tally[0] += 1
            except aiosmtplib.SMTPException:
                tally[1] += 1
    finally:
        await client.quit()


async def main() -> int:
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    connections, first = int(sys.argv[3]), int(sys.argv[4])
    tally = [0, 0]
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(
            session(port, range(first + c, first + 10_000_000, connections), until, tally)
            for c in range(connections)
        )
    )
    print(f"done {sum(tally)} {tally[0]} {tally[1]} {time.monotonic() - started:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
