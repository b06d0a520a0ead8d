"""What the ``serve``, ``demo`` and ``check-asterisk`` commands do, apart from parsing flags."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from cti.ami.client import AmiClient
from cti.ami.exceptions import AmiError
from cti.app import build_app
from cti.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class AsteriskReport:
    """What ``check-asterisk`` found."""

    version: str | None = None
    ami_version: str | None = None
    queues: list[dict[str, str]] = field(default_factory=list)
    channels: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


async def check_asterisk(settings: Settings) -> AsteriskReport:
    """Log in to AMI once and read the version, queues and live channels."""
    report = AsteriskReport()
    client = AmiClient(settings.ami, resync=False)
    try:
        report.ami_version = await client.connect()
        core = await client.ok("CoreSettings")
        report.version = core.get("AsteriskVersion")
        summary = await client.action("QueueSummary")
        channels = await client.action("CoreShowChannels")
    except AmiError as exc:
        report.error = str(exc)
        return report
    finally:
        await client.close()
    report.queues = [m for m in _items(summary) if m.get("Event") == "QueueSummary"]
    report.channels = [m for m in _items(channels) if m.get("Event") == "CoreShowChannel"]
    return report


def _items(reply: dict[str, str] | list[dict[str, str]]) -> list[dict[str, str]]:
    return reply if isinstance(reply, list) else [reply]


async def serve(settings: Settings) -> None:
    """Run the server until interrupted."""
    await serve_app(build_app(settings), settings)


def http_server(app: FastAPI, settings: Settings) -> uvicorn.Server:
    """The HTTP and WebSocket server for ``app`` on the configured address."""
    config = uvicorn.Config(
        app,
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws_max_size=64 * 1024,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    return uvicorn.Server(config)


async def serve_app(app: FastAPI, settings: Settings) -> None:
    """Serve an application with uvicorn on the configured address."""
    await http_server(app, settings).serve()


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion; Ctrl-C stops it cleanly."""
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        log.info("stopped")
