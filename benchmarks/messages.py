"""Messages: inbound SMS and email stored per second, a timeline page among 10M entries.

Ingest: the server (this process: the whole application on uvicorn, SQLite) takes signed
Twilio webhooks from a load process (``benchmarks.sms_load``, 64 keep-alive
connections) for 10 seconds: each checked against its signature, its sender matched or
made a contact, stored once with its timeline entry, committed before the answer. The
figure is webhooks answered 200 per second, checked against the rows in the database
(nothing acknowledged may be missing). Baseline, same load, same server: a minimal
FastAPI handler that only reads and parses the form.

Email: the SMTP receiver (aiosmtpd on this process's loop) takes messages from a load
process (``benchmarks.mail_load``, 32 SMTP sessions, 1 KB of text, every tenth with a
20 KB attachment, every fifth a reply in a thread) for 10 seconds: each kept raw,
parsed, its attachments stored, stored once with its timeline entry and committed
before ``250``. Baseline: a receiver that only parses each message.

Timeline: ``GET``'s query (newest first, 20 a page, keyset cursor) for random contacts
of the contacts benchmark's database (1,000,000 contacts, 10,000,000 timeline entries,
``python -m benchmarks contacts`` builds it). Baseline: the same page without the
``(contact_id, at)`` index (a few samples).
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from pydantic import SecretStr
from sqlalchemy import func, select, text

from benchmarks.common import Row, p99_ms
from benchmarks.contacts import FULL, QUICK, _postgres_url
from benchmarks.screenpop import free_port
from cti.app import build_app, build_runtime
from cti.messaging.assign import ConversationAssigner
from cti.messaging.mail import AttachmentStore, parse_email
from cti.messaging.service import MessagingService, _Nowhere
from cti.messaging.sms import LogSmsProvider
from cti.messaging.smtp import SmtpReceiver
from cti.routing.engine import Agent, AgentState
from cti.runner import http_server
from cti.settings import Settings
from cti.store.contacts import ContactRepository
from cti.store.db import create_engine, create_sessionmaker
from cti.store.migrate import upgrade
from cti.store.models import MessageRecord

TOKEN = "benchmark-twilio-token"
CONNECTIONS = 64
MAIL_CONNECTIONS = 32


async def run_load(module: str, *args: object) -> tuple[int, int, float]:
    """Run a load process (``benchmarks.MODULE``); requests that succeeded, errors, seconds."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"benchmarks.{module}",
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    _, _, ok, errors, took = out.decode().split()
    return int(ok), int(errors), float(took)


async def load(port: int, seconds: float, first: int = 0) -> tuple[int, int, float]:
    """Signed Twilio webhooks against ``port``."""
    return await run_load("sms_load", port, TOKEN, seconds, CONNECTIONS, first)


async def ingest(seconds: float) -> tuple[float, int, int]:
    """Webhooks stored per second, errors, and rows missing from what was acknowledged."""
    folder = Path(tempfile.mkdtemp(prefix="cti-bench-sms-"))
    settings = Settings(secret_key=SecretStr("sms-benchmark-key-" * 2))
    settings.database.url = f"sqlite+aiosqlite:///{folder / 'cti.db'}"
    settings.ami.enabled = False
    settings.agi.port = 0
    settings.http.port = free_port()
    settings.sms.twilio_auth_token = SecretStr(TOKEN)
    runtime = build_runtime(settings)
    server = http_server(build_app(settings, runtime), settings)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        skills = {"frontdesk": 2, "sales": 2, "support": 2, "billing": 2, "complaints": 4}
        for n in range(20):  # logged in: every message is given to one of them
            runtime.routing.update_agent(
                Agent(f"agent{n}", f"PJSIP/{3000 + n}", skills, state=AgentState.AVAILABLE)
            )
        await load(settings.http.port, 1.0)  # warm up
        async with runtime.sessionmaker() as session:
            before = await session.scalar(select(func.count()).select_from(MessageRecord)) or 0
        ok, errors, took = await load(settings.http.port, seconds, first=10_000_000)
        async with runtime.sessionmaker() as session:
            after = await session.scalar(select(func.count()).select_from(MessageRecord)) or 0
        assigner = runtime.messaging.assigner
        assert isinstance(assigner, ConversationAssigner)
        while assigner.assigned < after:  # every message found its agent
            await asyncio.sleep(0.05)
        return ok / took, errors, ok - (after - before)
    finally:
        server.should_exit = True
        await serving


async def mail_load(port: int, seconds: float, first: int) -> tuple[int, int, float]:
    """Emails over SMTP against ``port``."""
    return await run_load("mail_load", port, seconds, MAIL_CONNECTIONS, first)


async def mail_ingest(seconds: float) -> tuple[float, int, int]:
    """Emails stored per second over SMTP, errors, and accepted ones missing."""
    folder = Path(tempfile.mkdtemp(prefix="cti-bench-mail-"))
    url = f"sqlite+aiosqlite:///{folder / 'cti.db'}"
    await upgrade(url)
    engine = create_engine(url)
    service = MessagingService(
        create_sessionmaker(engine),
        LogSmsProvider(),
        _Nowhere(),
        files=AttachmentStore(folder / "mail"),
    )
    receiver = SmtpReceiver(service.receive_email, port=0)
    await receiver.start()
    try:
        await mail_load(receiver.port, 1.0, 0)
        async with engine.connect() as conn:
            before = (await conn.execute(select(func.count()).select_from(MessageRecord))).scalar()
        ok, errors, took = await mail_load(receiver.port, seconds, 5_000_000)
        async with engine.connect() as conn:
            after = (await conn.execute(select(func.count()).select_from(MessageRecord))).scalar()
        return ok / took, errors, ok - ((after or 0) - (before or 0))
    finally:
        await receiver.close()
        await service.aclose()
        await engine.dispose()


async def mail_minimal(seconds: float) -> float:
    """The same load against an SMTP receiver that only parses each message."""

    async def parse_only(raw: bytes) -> None:
        parse_email(raw)

    receiver = SmtpReceiver(parse_only, port=0)
    await receiver.start()
    try:
        await mail_load(receiver.port, 1.0, 0)
        ok, _, took = await mail_load(receiver.port, seconds, 5_000_000)
        return ok / took
    finally:
        await receiver.close()


async def minimal(seconds: float) -> float:
    """The same load against a handler that only parses the form."""
    app = FastAPI()

    @app.post("/webhooks/sms/twilio")
    async def hook(request: Request) -> Response:
        parse_qsl((await request.body()).decode())
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type="text/xml")

    settings = Settings()
    settings.http.port = free_port()
    server = http_server(app, settings)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        await load(settings.http.port, 1.0)
        ok, _, took = await load(settings.http.port, seconds)
        return ok / took
    finally:
        server.should_exit = True
        await serving


async def timeline(url: str, scale: int, samples: int) -> tuple[list[float], list[float]]:
    engine = create_engine(url)
    contacts = ContactRepository(create_sessionmaker(engine))
    rnd = random.Random(5)
    try:
        for _ in range(200):
            await contacts.timeline(rnd.randrange(1, scale + 1), 20)
        ours = []
        for _ in range(samples):
            contact_id = rnd.randrange(1, scale + 1)
            started = time.perf_counter()
            await contacts.timeline(contact_id, 20)
            ours.append(time.perf_counter() - started)
        unindexed = []
        async with engine.connect() as conn:
            for _ in range(3):
                started = time.perf_counter()
                await conn.execute(
                    text(
                        "SELECT id, at FROM interactions WHERE contact_id + 0 = :id "
                        "ORDER BY at DESC, id DESC LIMIT 20"
                    ),
                    {"id": rnd.randrange(1, scale + 1)},
                )
                unindexed.append(time.perf_counter() - started)
        return ours, unindexed
    finally:
        await engine.dispose()


def run(quick: bool) -> list[Row]:
    seconds = 3.0 if quick else 10.0
    rate, errors, missing = asyncio.run(ingest(seconds))
    plain = asyncio.run(minimal(seconds))
    rows = [
        Row(
            name=f"Inbound SMS webhooks stored per second, one process, SQLite ({errors} errors, "
            f"{missing} acknowledged but missing)",
            unit="/s",
            target="≥ 1,000/s",
            measured=rate,
            baseline=plain,
            baseline_name="minimal FastAPI handler that only parses the form",
            passed=rate >= 1000 and errors == 0 and missing == 0,
        )
    ]
    mail_rate, mail_errors, mail_missing = asyncio.run(mail_ingest(seconds))
    rows.append(
        Row(
            name=f"Inbound emails stored per second over SMTP, one process, SQLite "
            f"({mail_errors} errors, {mail_missing} accepted but missing)",
            unit="/s",
            target="≥ 200/s",
            measured=mail_rate,
            baseline=asyncio.run(mail_minimal(seconds)),
            baseline_name="aiosmtpd receiver that only parses each message",
            passed=mail_rate >= 200 and mail_errors == 0 and mail_missing == 0,
        )
    )
    scale = QUICK if quick else FULL
    for label, url in (
        ("SQLite", f"sqlite+aiosqlite:///{Path('var/bench') / f'contacts-{scale}.db'}"),
        ("PostgreSQL", _postgres_url(scale)),
    ):
        if label == "SQLite" and not (Path("var/bench") / f"contacts-{scale}.db").exists():
            continue
        try:
            ours, unindexed = asyncio.run(timeline(url, scale, 500 if quick else 3000))
        except Exception as exc:  # the contacts benchmark has not built this database yet
            print(f"  timeline on {label} skipped: {exc}", file=sys.stderr)
            continue
        measured = p99_ms(ours)
        rows.append(
            Row(
                name=f"Timeline page p99 (20 entries), {scale * 10:,} entries, {label}",
                unit="ms",
                target="≤ 20 ms",
                measured=measured,
                baseline=max(unindexed) * 1000,
                baseline_name="without the (contact_id, at) index",
                passed=measured <= 20.0,
            )
        )
    return rows
