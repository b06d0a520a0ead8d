"""The agents' WebSocket (``/ws/agent``) and the desktop page (``/desktop/``).

The socket speaks the protocol of docs/screenpop.md. The token comes in the first
frame, not in the address (addresses end up in access logs). A client that sends
anything unexpected, too big or too often is told why and closed with a code that says
what to do next; the server and the other screens are unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from importlib import resources
from pathlib import Path
from typing import Any, cast

from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from cti.api.context import ApiContext
from cti.auth.exceptions import AuthError
from cti.auth.model import Role, User
from cti.auth.service import user_for_token
from screenpop import messages
from screenpop.hub import SLOW, Connection, Hub

log = logging.getLogger(__name__)

router = APIRouter()

AUTH_WAIT = 5.0
MAX_FRAME = 4096
RATE = 20.0
"""Client frames per second allowed on average (a burst of twice that is let through)."""

UNAUTHENTICATED, FORBIDDEN, AUTH_TIMEOUT = 4401, 4403, 4408
POLICY, TOO_BIG, UNAVAILABLE = 1008, 1009, 1011
OUTAGE = (RedisError, SQLAlchemyError, OSError)
"""What reading the user (database) or the shared screen state (Redis) raises while either
is unreachable: the screen is told to come back later, not dropped with a traceback."""


class Refused(Exception):
    """Why a socket is being closed: its close code, a stable code and a sentence."""

    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.code = code
        self.message = message


class _Rate:
    """A token bucket: ``RATE`` frames a second, bursts up to twice that."""

    def __init__(self) -> None:
        self.tokens = 2 * RATE
        self.at = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(2 * RATE, self.tokens + (now - self.at) * RATE)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket) -> None:
    """One agent's screen: ``hello`` with the current state, then every change."""
    hub = cast(Hub, websocket.app.state.hub)
    context = cast(ApiContext, websocket.app.state.context)
    await websocket.accept()
    try:
        user, watched, expires_at = await _authenticate(websocket, context)
    except Refused as refused:
        await _refuse(websocket, refused)
        return
    except WebSocketDisconnect:
        return
    connection = hub.connect(watched, websocket.send_text)
    try:
        try:
            pops = await hub.state.pops(watched)
            agent = await hub.state.agent(watched)
        except OUTAGE as exc:
            raise _unavailable(exc) from exc
        if agent is None and watched in context.routing.agents:
            agent = dict(context.routing.agents[watched].view(time.time()))
        hello = messages.hello(_public(user), agent, pops)
        await websocket.send_text(json.dumps(hello, separators=(",", ":")))
        await _serve(websocket, connection, hub, expires_at)
    except Refused as refused:
        await _refuse(websocket, refused)
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(connection)


@router.websocket("/ws/wallboard")
async def wallboard_socket(websocket: WebSocket) -> None:
    """A supervisor's wallboard: the whole picture, then every change (docs/supervision.md)."""
    hub = cast(Hub, websocket.app.state.hub)
    context = cast(ApiContext, websocket.app.state.context)
    await websocket.accept()
    try:
        user, _, expires_at = await _authenticate(websocket, context)
        if user.role < Role.SUPERVISOR:
            raise Refused(FORBIDDEN, "auth.forbidden", "The wallboard is for supervisors.")
    except Refused as refused:
        await _refuse(websocket, refused)
        return
    except WebSocketDisconnect:
        return
    connection = hub.connect_wallboard(websocket.send_text)
    try:
        try:
            picture = await hub.wallboard()
        except OUTAGE as exc:
            raise _unavailable(exc) from exc
        if picture is None:
            picture = {
                "type": "wallboard",
                "version": 1,
                "full": True,
                "at": time.time(),
                "queues": [],
                "agents": [],
                "abandoned": [],
                "alerts": [],
            }
        await websocket.send_text(json.dumps(picture, separators=(",", ":")))
        await _serve(websocket, connection, hub, expires_at)
    except Refused as refused:
        await _refuse(websocket, refused)
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(connection)


async def _authenticate(websocket: WebSocket, context: ApiContext) -> tuple[User, str, float]:
    try:
        async with asyncio.timeout(AUTH_WAIT):
            first = await _frame(websocket)
    except TimeoutError as exc:
        raise Refused(AUTH_TIMEOUT, "auth.timeout", "Send the auth frame first.") from exc
    if first.get("type") != "auth" or not isinstance(first.get("token"), str):
        raise Refused(POLICY, "auth.expected", 'The first frame is {"type": "auth", "token"}.')
    try:
        claims = context.signer.verify(first["token"])
        user = await user_for_token(context.sessionmaker, claims)
    except AuthError as exc:
        raise Refused(UNAUTHENTICATED, "auth.invalid", "Log in again.") from exc
    except OUTAGE as exc:
        raise _unavailable(exc) from exc
    watched = first.get("agent") or user.username
    if not isinstance(watched, str) or len(watched) > 64:
        raise Refused(POLICY, "auth.agent", "'agent' is a username.")
    if watched != user.username and user.role < Role.SUPERVISOR:
        raise Refused(FORBIDDEN, "auth.forbidden", "Only a supervisor may watch another agent.")
    return user, watched, claims.expires_at.timestamp()


def _unavailable(exc: BaseException) -> Refused:
    """The refusal of a screen whose start needs the database or Redis while it is away."""
    log.warning(
        "a screen could not start: %s: %s",
        type(exc).__name__,
        exc,
        extra={"error_id": "screen.unavailable"},
    )
    return Refused(UNAVAILABLE, "unavailable", "The server cannot reach its storage: try again.")


async def _serve(websocket: WebSocket, connection: Connection, hub: Hub, expires_at: float) -> None:
    """Read the client and write its outbox until either ends, the connection is doomed
    (too slow, server going away) or the token expires."""
    sending = asyncio.ensure_future(connection.pump())
    reading = asyncio.ensure_future(_read(websocket, connection, hub))
    doomed = asyncio.ensure_future(connection.doomed.wait())
    tasks = {sending, reading, doomed}
    try:
        done, _ = await asyncio.wait(
            tasks,
            timeout=max(0.0, expires_at - time.time()),
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not done:
            raise Refused(UNAUTHENTICATED, "auth.expired", "Your session expired: log in again.")
        if reading in done:
            reading.result()
        if connection.closing is not None:
            code, reason = connection.closing
            if code != SLOW:  # going away: what is queued still goes out, briefly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(sending), 1.0)
            raise Refused(code, "closing", reason)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _read(websocket: WebSocket, connection: Connection, hub: Hub) -> None:
    rate = _Rate()
    while True:
        frame = await _frame(websocket)
        if not rate.allow():
            raise Refused(POLICY, "flood", f"At most {RATE:.0f} messages a second.")
        kind = frame.get("type")
        if kind == "ping":
            connection.put(json.dumps({"type": "pong", "version": messages.VERSION}))
        elif kind == "watch":
            contact_id = frame.get("contact_id")
            if not isinstance(contact_id, int) or isinstance(contact_id, bool) or contact_id < 1:
                raise Refused(POLICY, "malformed", "'contact_id' is a contact's id.")
            hub.watch(connection, contact_id)
        else:
            raise Refused(POLICY, "unknown", "Only 'ping' and 'watch' are understood.")


async def _frame(websocket: WebSocket) -> dict[str, Any]:
    """The next client frame as a JSON object; ``Refused`` for anything else."""
    received = await websocket.receive()
    if received["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(received.get("code", 1000))
    text = received.get("text")
    if text is None:
        raise Refused(POLICY, "binary", "Frames are JSON text.")
    if len(text) > MAX_FRAME:
        raise Refused(TOO_BIG, "too_big", f"Frames are at most {MAX_FRAME} bytes.")
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise Refused(POLICY, "malformed", "Frames are JSON objects.") from exc
    if not isinstance(frame, dict):
        raise Refused(POLICY, "malformed", "Frames are JSON objects.")
    return frame


async def _refuse(websocket: WebSocket, refused: Refused) -> None:
    """Say why, then close with the code; a client already gone is fine."""
    if refused.close_code not in (1001, 1013):
        log.info("screen socket closed: %s (%d)", refused.code, refused.close_code)
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            if websocket.application_state is WebSocketState.CONNECTED:
                error = messages.error(refused.code, refused.message)
                await websocket.send_text(json.dumps(error))
                await websocket.close(refused.close_code, refused.message[:120])


def _public(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "agent_interface": user.agent_interface,
    }


def desktop_files() -> Path:
    return Path(str(resources.files("screenpop").joinpath("static", "desktop")))


PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
"""The desktop runs only its own files, talks only to this server, is never framed."""


class _Page(StaticFiles):
    async def get_response(self, path: str, scope: Any) -> Any:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response


def mount(app: FastAPI, hub: Hub) -> None:
    """Add the screens' sockets, the desktop page, the console page and what both pages
    load (``/shared/``: session, sign-in form, socket, elements, base styles) to ``app``."""
    app.state.hub = hub
    app.include_router(router)
    static = desktop_files().parent
    app.mount("/desktop", _Page(directory=desktop_files(), html=True), name="desktop")
    app.mount("/console", _Page(directory=static / "console", html=True))
    app.mount("/shared", _Page(directory=static / "shared"))

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/desktop/")
