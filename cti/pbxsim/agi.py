"""Asterisk's side of FastAGI over TCP: connect to the IVR, send ``agi_*``, answer commands.

The replies themselves come from ``cti.pbxsim.engine.AgiSession`` (pure, in virtual
time); this module only moves its bytes. As ``res_agi`` does, it gives up connecting
after ``MAX_AGI_CONNECT`` (the dialplan then falls through with ``AGISTATUS=FAILURE``),
reads one command per line, and writes a last ``HANGUP`` line when the IVR closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from cti.pbxsim.agicmd import HANGUP_NOTICE
from cti.pbxsim.agisession import AgiSession
from cti.pbxsim.engine import IvrTarget

log = logging.getLogger(__name__)

MAX_AGI_CONNECT = 2.0
"""Seconds ``res_agi`` waits for a FastAGI connection before it gives up."""
AGI_BUF_LEN = 8192


async def run_fastagi(
    session: AgiSession,
    target: IvrTarget,
    *,
    connect_timeout: float = MAX_AGI_CONNECT,
    before: Callable[[], None] = lambda: None,
    after: Callable[[], None] = lambda: None,
) -> None:
    """Run one FastAGI session of a simulated channel against the IVR at ``target``.

    Args:
        session: the channel's AGI session in the simulated PBX.
        target: ``(host, port)`` of the FastAGI server.
        connect_timeout: real seconds to wait for the TCP connection.
        before: called before each step that touches the PBX (brings its clock to now).
        after: called after each such step (lets the PBX's driver run what became due).
    """
    host, port = target
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=AGI_BUF_LEN * 2), connect_timeout
        )
    except (OSError, TimeoutError) as exc:
        log.warning("simulated Asterisk: FastAGI %s:%s unreachable: %s", host, port, exc)
        before()
        session.fail()
        after()
        return

    def write(text: str) -> None:
        if not writer.transport.is_closing():
            writer.write(text.encode())

    before()
    session.attach(write)
    write(session.header())
    after()
    try:
        while not session.finished:
            line = await reader.readline()
            if not line:
                break
            before()
            session.receive(line.decode("utf-8", "replace").rstrip("\r\n"))
            after()
    except (ConnectionError, ValueError) as exc:
        log.warning("simulated Asterisk: FastAGI connection to %s:%s failed: %s", host, port, exc)
    finally:
        before()
        finished = session.finished
        session.close()
        after()
        if not finished:
            write(HANGUP_NOTICE)
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
