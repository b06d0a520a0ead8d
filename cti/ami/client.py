"""The AMI client: panoramisk behind one adapter, with our framing, ordering and resync.

panoramisk 1.4 supplies the action/response correlation (``Action`` futures, event
lists). We replace what it gets wrong for a contact center: bytes are framed before
decoding (a split UTF-8 character survives), events go into one ordered queue instead of
a task per handler, noise is dropped before it is parsed, login failures back off
instead of spinning, and every (re)connect is followed by a snapshot of live channels
and queue callers delivered in stream order, so call state is right after any outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message as PanoramiskMessage

from cti.ami.exceptions import (
    AmiActionError,
    AmiAuthError,
    AmiConnectionError,
    AmiError,
    AmiProtocolError,
)
from cti.ami.protocol import (
    AmiFramer,
    AmiMessage,
    check_header,
    event_name,
    format_message,
    parse_message,
)
from cti.settings import AmiSettings

log = logging.getLogger(__name__)

HIGH_WATER = 2000
LOW_WATER = 500
RESYNC_DEDUP_SECONDS = 2.0
SNAPSHOT_ACTIONS = ("QueueStatus", "CoreShowChannels")


class AmiActions(Protocol):
    """Sending actions to Asterisk (``AmiClient.action``; a stand-in in tests)."""

    async def action(self, name: str, **fields: str) -> Any: ...


@dataclass(slots=True)
class Snapshot:
    """Live state read back after a (re)connect, placed in the event stream in order."""

    channels: list[AmiMessage] = field(default_factory=list)
    queue_entries: list[AmiMessage] = field(default_factory=list)
    queue_members: list[AmiMessage] = field(default_factory=list)
    queue_params: list[AmiMessage] = field(default_factory=list)


StreamItem = AmiMessage | Snapshot


class LinkState(StrEnum):
    """Where the connection to Asterisk stands."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    AUTH_FAILED = "auth_failed"


@dataclass(slots=True)
class AmiStats:
    """Counters for health and metrics endpoints."""

    frames: int = 0
    events: int = 0
    dropped_noise: int = 0
    malformed: int = 0
    oversize: int = 0
    connects: int = 0
    resyncs: int = 0


def _plain(message: PanoramiskMessage) -> AmiMessage:
    """A panoramisk message as the plain mapping the rest of the server uses."""
    return {key: value for key, value in message.items() if key != "content"}


class _ReplyOnlyAction(Action):  # type: ignore[misc]
    """An action whose reply ends where Asterisk says it does.

    panoramisk also waits for an *event* after some replies (``Originate successfully
    queued`` with ``Async``: the ``OriginateResponse``, which comes only once the called
    phone answers or gives up; ``Added interface to queue``). On a session logged in with
    ``Events: off`` that event never comes, and on any session it may come long after the
    action's timeout, so a pause, a queue login or a supervisor's spy would answer 503
    although Asterisk did it. Only Asterisk's own list replies (``EventList: start``,
    "will follow"), whose entries are part of the answer, are waited for.
    """

    @property
    def multi(self) -> bool:
        first = self.responses[0]
        return bool(
            first.subevent == "Start"
            or first.get("EventList") == "start"
            or "will follow" in first.message.lower()
        )


class _AmiProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with byte framing and ordered, filtered event delivery."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.framer = AmiFramer(
            max_message_bytes=client.settings.max_message_bytes, on_error=client._frame_error
        )
        self.banner_seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lists: dict[str, list[AmiMessage]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.encoding = "utf-8"
        self.log = log

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except AmiProtocolError as exc:
            if not self.banner_seen.done():
                self.banner_seen.set_exception(exc)
            self.transport.close()
            return
        if self.framer.banner is not None and not self.banner_seen.done():
            self.banner_seen.set_result(self.framer.banner)
        client = self.client
        stats = client.stats
        wanted = client.wanted
        batch: list[StreamItem] = []
        for frame in frames:
            stats.frames += 1
            name = event_name(frame)
            if name is None:
                keep = False
            elif name == b"VarSet":
                keep = b"\r\nVariable: CTI_" in frame
            else:
                keep = name in wanted
            if name is not None and not keep and b"\r\nActionID: " not in frame:
                stats.dropped_noise += 1
                continue
            try:
                message = parse_message(frame)
            except AmiProtocolError as exc:
                client._frame_error(exc)
                continue
            action_id = message.get("ActionID")
            if action_id is not None and self._take_reply(action_id, message, batch):
                continue
            if keep:
                stats.events += 1
                batch.append(message)
        if batch:
            client._deliver(batch, self)

    def _take_reply(self, action_id: str, message: AmiMessage, batch: list[StreamItem]) -> bool:
        items = self.lists.get(action_id)
        if items is not None:
            if "Event" in message:
                if message["Event"].endswith("Complete"):
                    del self.lists[action_id]
                    snapshot = self.client._snapshot_done(action_id, items)
                    if snapshot is not None:
                        batch.append(snapshot)
                else:
                    items.append(message)
            elif message.get("Response") not in (None, "Success"):
                del self.lists[action_id]
                self.client._snapshot_failed(action_id, message)
            return True
        if action_id in self.responses:
            self.handle_message(PanoramiskMessage(message))
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(AmiConnectionError("AMI connection lost"))
        self.responses.clear()
        if not self.banner_seen.done():
            self.banner_seen.set_exception(AmiConnectionError("connection closed before banner"))
        if not self.lost.done():
            self.lost.set_result(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()


class AmiClient:
    """A long-lived, self-healing connection to one Asterisk's manager interface.

    Args:
        settings: where and how to connect.
        wanted: names of the events to deliver; every other event is dropped unparsed
            (``VarSet`` of ``CTI_*`` variables is always kept).
        resync: read live channels and queue callers after each login and after
            ``FullyBooted``, and deliver them as a ``Snapshot`` in the event stream.
        events: ``False`` logs in with ``Events: off``, a session for actions only:
            Asterisk sends it no events at all (``wanted`` and ``resync`` are then moot),
            and a reply is complete without the event panoramisk would otherwise await.
    """

    def __init__(
        self,
        settings: AmiSettings,
        *,
        wanted: Iterable[str] = (),
        resync: bool = True,
        events: bool = True,
    ) -> None:
        self.settings = settings
        self.events = events
        self.wanted = (
            frozenset(name.encode() for name in wanted) | {b"FullyBooted", b"Shutdown"}
            if events
            else frozenset()
        )
        self.resync = resync and events
        self.stats = AmiStats()
        self.state = LinkState.DISCONNECTED
        self.version: str | None = None
        self.last_error: str | None = None
        self._protocol: _AmiProtocol | None = None
        self._queue: deque[list[StreamItem]] = deque()
        self._ready = asyncio.Event()
        self._paused = False
        self._snapshots: dict[str, Snapshot] = {}
        self._last_resync = -RESYNC_DEDUP_SECONDS
        self._closing = False
        self._connected = asyncio.Event()
        self._listeners: list[Callable[[LinkState], None]] = []

    # -- the stream ---------------------------------------------------------------------

    async def stream(self) -> AsyncIterator[StreamItem]:
        """Yield events and snapshots in the order Asterisk sent them, forever."""
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            batch = self._queue.popleft()
            if self._paused and len(self._queue) <= LOW_WATER:
                self._resume()
            for item in batch:
                yield item

    def _deliver(self, batch: list[StreamItem], protocol: _AmiProtocol) -> None:
        for item in batch:
            if not isinstance(item, Snapshot) and item.get("Event") == "FullyBooted":
                self._on_fully_booted()
        self._queue.append(batch)
        self._ready.set()
        if not self._paused and len(self._queue) > HIGH_WATER:
            self._paused = True
            protocol.transport.pause_reading()

    def _resume(self) -> None:
        self._paused = False
        if self._protocol is not None and not self._protocol.closed:
            self._protocol.transport.resume_reading()

    def _frame_error(self, exc: AmiProtocolError) -> None:
        if exc.error_id == "ami.oversize":
            self.stats.oversize += 1
        else:
            self.stats.malformed += 1
        log.warning(str(exc), extra={"error_id": exc.error_id})

    # -- actions ------------------------------------------------------------------------

    async def action(self, name: str, **fields: str) -> AmiMessage | list[AmiMessage]:
        """Send an action; return its reply (a list for actions that answer with events).

        Raises:
            AmiConnectionError: not connected, or the connection dropped meanwhile.
            AmiActionError: no reply within ``action_timeout``.
            ValueError: a field holds a line break.
        """
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiConnectionError("not connected to Asterisk")
        for key, value in (("Action", name), *fields.items()):
            check_header(key, value)
        action = _ReplyOnlyAction({"Action": name, **fields})
        future = protocol.send(action, as_list=None)
        try:
            # Not wait_for: on Python 3.11 it can swallow a cancellation that races with
            # the reply, and a cancelled run() would then never end.
            async with asyncio.timeout(self.settings.action_timeout):
                reply = await future
        except TimeoutError as exc:
            protocol.responses.pop(action.id, None)
            raise AmiActionError(
                f"no reply to {name} within {self.settings.action_timeout}s"
            ) from exc
        if isinstance(reply, list):
            return [_plain(item) for item in reply]
        return _plain(reply)

    async def ok(self, name: str, **fields: str) -> AmiMessage:
        """Send an action that must succeed; return its reply.

        Raises:
            AmiActionError: Asterisk answered with an error.
        """
        reply = await self.action(name, **fields)
        first = reply[0] if isinstance(reply, list) else reply
        if first.get("Response") not in ("Success", "Follows", "Goodbye"):
            raise AmiActionError(
                f"{name} failed: {first.get('Message', 'no message')}", reply=first
            )
        return first

    # -- snapshots ----------------------------------------------------------------------

    def request_resync(self) -> None:
        """Ask Asterisk for live channels and queue callers; deliver them in stream order."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            return
        self._last_resync = time.monotonic()
        self.stats.resyncs += 1
        stamp = f"resync-{self.stats.resyncs}"
        self._snapshots[stamp] = Snapshot()
        for name in SNAPSHOT_ACTIONS:
            action_id = f"{stamp}-{name}"
            protocol.lists[action_id] = []
            protocol.transport.write(format_message({"Action": name, "ActionID": action_id}))

    def _snapshot_done(self, action_id: str, items: list[AmiMessage]) -> Snapshot | None:
        stamp, _, name = action_id.rpartition("-")
        snapshot = self._snapshots.get(stamp)
        if snapshot is None:
            return None
        if name == "QueueStatus":
            for item in items:
                kind = item.get("Event")
                if kind == "QueueEntry":
                    snapshot.queue_entries.append(item)
                elif kind == "QueueMember":
                    snapshot.queue_members.append(item)
                elif kind == "QueueParams":
                    snapshot.queue_params.append(item)
            return None
        snapshot.channels = items
        return self._snapshots.pop(stamp)

    def _snapshot_failed(self, action_id: str, reply: AmiMessage) -> None:
        log.warning(
            "AMI resync step failed: %s",
            reply.get("Message", "no message"),
            extra={"error_id": "ami.resync", "action_id": action_id},
        )
        stamp, _, name = action_id.rpartition("-")
        if name == "CoreShowChannels":
            self._snapshots.pop(stamp, None)

    def _on_fully_booted(self) -> None:
        if self.resync and time.monotonic() - self._last_resync > RESYNC_DEDUP_SECONDS:
            log.info("Asterisk reports FullyBooted: reading live state back")
            self.request_resync()

    # -- connection lifecycle -----------------------------------------------------------

    def on_state(self, listener: Callable[[LinkState], None]) -> None:
        """Call ``listener`` on every change of link state."""
        self._listeners.append(listener)

    def _set_state(self, state: LinkState) -> None:
        if state is not self.state:
            self.state = state
            for listener in self._listeners:
                listener(state)

    async def connect(self) -> str:
        """Connect and log in once; return the banner's protocol version.

        Raises:
            AmiConnectionError: the host cannot be reached or is not an AMI server.
            AmiAuthError: Asterisk refused the username or secret.
        """
        settings = self.settings
        loop = asyncio.get_running_loop()
        self._set_state(LinkState.CONNECTING)
        where = f"{settings.host}:{settings.port}"
        try:
            async with asyncio.timeout(settings.action_timeout):
                _, protocol = await loop.create_connection(
                    lambda: _AmiProtocol(self), settings.host, settings.port
                )
        except (OSError, TimeoutError) as exc:
            raise AmiConnectionError(f"cannot reach Asterisk AMI at {where}: {exc}") from exc
        try:
            async with asyncio.timeout(settings.action_timeout):
                banner = await protocol.banner_seen
        except AmiProtocolError as exc:
            protocol.close()
            raise AmiConnectionError(f"{where}: {exc}") from exc
        except (TimeoutError, AmiConnectionError) as exc:
            protocol.close()
            raise AmiConnectionError(f"{where} sent no AMI banner") from exc
        self._protocol = protocol
        self._last_resync = -RESYNC_DEDUP_SECONDS
        try:
            reply = await self.action(
                "Login",
                Username=settings.username,
                Secret=settings.secret.get_secret_value(),
                Events="on" if self.events else "off",
            )
        except AmiError:
            protocol.close()
            raise
        first = reply[0] if isinstance(reply, list) else reply
        if first.get("Response") != "Success":
            protocol.close()
            raise AmiAuthError(
                f"Asterisk at {where} refused AMI user {settings.username!r}: "
                f"{first.get('Message', 'authentication failed')} "
                "(check CTI_AMI_USERNAME and CTI_AMI_SECRET against manager.conf)"
            )
        self.version = banner.partition("/")[2]
        self.stats.connects += 1
        self._set_state(LinkState.CONNECTED)
        if self.resync and time.monotonic() - self._last_resync > RESYNC_DEDUP_SECONDS:
            self.request_resync()
        return self.version

    async def run(self) -> None:
        """Stay connected until ``close()``: reconnect with capped, jittered backoff."""
        attempt = 0
        reported: str | None = None
        while not self._closing:
            try:
                await self.connect()
            except AmiError as exc:
                self.last_error = str(exc)
                self._set_state(
                    LinkState.AUTH_FAILED
                    if isinstance(exc, AmiAuthError)
                    else LinkState.DISCONNECTED
                )
                delay = self._backoff(attempt)
                attempt += 1
                if reported != str(exc):
                    log.error(
                        "%s; retrying with backoff (next in %.1fs)",
                        exc,
                        delay,
                        extra={"error_id": exc.error_id},
                    )
                    reported = str(exc)
                await asyncio.sleep(delay)
                continue
            if reported is not None or attempt:
                log.info("AMI connected again after %d failed attempt(s)", attempt)
            else:
                log.info("AMI connected", extra={"version": self.version})
            attempt = 0
            reported = None
            self.last_error = None
            await self._stay_alive()
            self._set_state(LinkState.DISCONNECTED)
            if not self._closing:
                log.warning(
                    "AMI connection lost; reconnecting", extra={"error_id": "ami.connection"}
                )
                await asyncio.sleep(self._backoff(0))

    async def _stay_alive(self) -> None:
        protocol = self._protocol
        assert protocol is not None
        while not protocol.closed:
            done, _ = await asyncio.wait({protocol.lost}, timeout=self.settings.ping_interval)
            if done or protocol.closed:
                break
            try:
                await self.action("Ping")
            except AmiError as exc:
                log.warning("AMI keep-alive failed: %s", exc, extra={"error_id": exc.error_id})
                protocol.close()
                break
        with contextlib.suppress(asyncio.CancelledError):
            await protocol.lost
        self._protocol = None

    def _backoff(self, attempt: int) -> float:
        settings = self.settings
        delay = min(settings.reconnect_max, settings.reconnect_min * (2**attempt))
        return float(delay * random.uniform(0.8, 1.2))

    async def close(self, *, logoff: bool = True) -> None:
        """Log off (unless not ``logoff``: stop reading at once) and close; ``run()`` returns."""
        self._closing = True
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            if logoff:
                with contextlib.suppress(AmiError, ValueError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.action("Logoff")
            protocol.close()
        self._set_state(LinkState.DISCONNECTED)

    def reopen(self) -> None:
        """Make a closed client ready to ``run()`` again, with nothing left of its last stream.

        Events read before ``close`` and not consumed are dropped: whoever reads again
        starts from the snapshot that follows the next login.
        """
        self._closing = False
        self._queue.clear()
        self._snapshots.clear()
        self._paused = False
        self._last_resync = -RESYNC_DEDUP_SECONDS

    def status(self) -> dict[str, Any]:
        """State and counters for health and metrics."""
        return {
            "state": self.state.value,
            "version": self.version,
            "last_error": self.last_error,
            "stats": {
                "frames": self.stats.frames,
                "events": self.stats.events,
                "dropped_noise": self.stats.dropped_noise,
                "malformed": self.stats.malformed,
                "oversize": self.stats.oversize,
                "connects": self.stats.connects,
                "resyncs": self.stats.resyncs,
            },
        }
