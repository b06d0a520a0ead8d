"""The Redis event bus: messages published by any process reach subscribers in every process.

One channel. All topics share one Redis pub/sub channel, ``<prefix>events``, with the
topic inside a JSON envelope. Redis keeps one connection's publishes in order per channel,
but not across channels: with a channel per topic, a subscriber to ``call.*`` could see
``call.answered`` before the ``call.ringing`` that the same process published first. One
channel keeps each publisher's order across topics, and matching ``call.*`` in Python is
cheaper than pattern subscriptions. The cost, every process decoding every event, is small
at contact-center rates (hundreds of events a second).

One path. Local subscribers also receive through Redis, not straight from ``publish``, so
every process sees the same stream in the same order. The price is a round trip before
local delivery, and no local delivery while Redis is away; the sender holds its backlog
until this process's own listener is subscribed again, so local subscribers still get it.

Outages. ``publish`` never waits for Redis and never raises because of it: messages go to
a bounded outbox (past ``max_buffer`` the oldest is dropped, counted and logged once per
outage) that one sender task drains in order. Sender and listener reconnect with capped
exponential backoff; an outage is logged once when it starts and once when both work again.
A listener that hears nothing for ``health_interval`` pings Redis, and three silent
intervals count as a lost connection, so a half-open TCP connection cannot hang it.

Delivery. Each envelope carries the publisher's id (``src``) and a sequence number
(``seq``). A batch that failed half-way is sent again whole and receivers drop what they
have already seen, so a publisher's messages arrive once and in order. Redis pub/sub keeps
nothing: what is published while a process's listener is disconnected never reaches that
process. Receivers see the hole in the sequence, count it in ``lost`` and log it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections import deque
from itertools import islice
from typing import Any

from redis import asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cti.bus.base import LocalFanout, Message, Subscription, check_topic
from cti.bus.exceptions import BusClosedError, MessageEncodingError

log = logging.getLogger(__name__)

BATCH = 500
KNOWN_SOURCES = 4096
CONNECTION_ERRORS = (RedisError, OSError)


class RedisBus:
    """An event bus over Redis pub/sub, shared by every server process.

    Args:
        url: ``redis://[:password@]host:port/db``.
        channel_prefix: prefix of the Redis channel name, so that several deployments can
            share one Redis.
        max_buffer: messages kept while Redis is unreachable; past it the oldest go.
        retry_min: first reconnect delay, seconds.
        retry_max: longest reconnect delay, seconds.
        health_interval: seconds of silence after which the listener pings Redis.
    """

    def __init__(
        self,
        url: str,
        channel_prefix: str = "cti:",
        *,
        max_buffer: int = 100_000,
        retry_min: float = 0.2,
        retry_max: float = 5.0,
        health_interval: float = 5.0,
    ) -> None:
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be at least 1, not {max_buffer}")
        self.url = url
        self.channel = f"{channel_prefix}events"
        self.max_buffer = max_buffer
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.health_interval = health_interval
        self.source = uuid.uuid4().hex
        self.published = 0
        self.sent = 0
        self.received = 0
        self.dropped = 0
        self.duplicates = 0
        self.lost = 0
        self._seq = 0
        self._seen: dict[str, int] = {}
        self._fanout = LocalFanout()
        self._outbox: deque[tuple[int, bytes]] = deque()
        self._wake = asyncio.Event()
        self._listening = asyncio.Event()
        self._up = {"publish": False, "subscribe": False}
        self._down_logged = False
        self._overflow_logged = False
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @property
    def healthy(self) -> bool:
        """Both publishing and the subscription work right now."""
        return all(self._up.values())

    @property
    def pending(self) -> int:
        """Messages published here and not yet accepted by Redis."""
        return len(self._outbox)

    async def start(self, timeout: float = 2.0) -> None:
        """Start the sender and the listener; wait up to ``timeout`` for the subscription.

        Returns even when Redis is unreachable: messages are kept until it is back.
        """
        if self._closed:
            raise BusClosedError("start")
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="redis-bus-send"),
            asyncio.create_task(self._listen_loop(), name="redis-bus-listen"),
        ]
        for task in self._tasks:
            task.add_done_callback(_log_crash)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout)

    async def close(self, timeout: float = 1.0) -> None:
        """Send what is queued (for up to ``timeout`` seconds), then stop."""
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(), timeout)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fanout.close_all()

    async def publish(self, topic: str, message: Message) -> None:
        """Queue a message for every process; returns at once, whether Redis is up or not."""
        if self._closed:
            raise BusClosedError("publish")
        check_topic(topic)
        seq = self._seq + 1
        envelope = {"src": self.source, "seq": seq, "topic": topic, "message": message}
        try:
            data = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise MessageEncodingError(topic, exc) from exc
        self._seq = seq
        if len(self._outbox) >= self.max_buffer:
            self._outbox.popleft()
            self.dropped += 1
            if not self._overflow_logged:
                self._overflow_logged = True
                log.error(
                    "Redis bus buffer full: dropping the oldest events",
                    extra={"error_id": "bus.buffer_full", "max_buffer": self.max_buffer},
                )
        self._outbox.append((seq, data))
        self.published += 1
        self._wake.set()

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription:
        """A new bounded subscription to ``patterns`` (every topic when none are given)."""
        if self._closed:
            raise BusClosedError("subscribe")
        return self._fanout.subscribe(*patterns, maxsize=maxsize)

    async def _drained(self) -> None:
        while self._outbox:
            await asyncio.sleep(0.01)

    def _client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(
            self.url,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            retry=Retry(NoBackoff(), 0),
        )

    def _backoff(self, delay: float) -> float:
        return min(self.retry_max, delay * random.uniform(0.8, 1.2))

    def _went_down(self, what: str, exc: Exception) -> None:
        self._up[what] = False
        if not self._down_logged:
            self._down_logged = True
            log.error(
                "Redis unreachable (%s): %s; events are kept and retried",
                what,
                exc,
                extra={"error_id": "bus.redis_down", "pending": len(self._outbox)},
            )

    def _came_back(self, what: str) -> None:
        self._up[what] = True
        if self._down_logged and self.healthy:
            self._down_logged = False
            self._overflow_logged = False
            log.info(
                "Redis reachable again; sending %d queued events",
                len(self._outbox),
                extra={"pending": len(self._outbox)},
            )

    async def _send_loop(self) -> None:
        client = self._client()
        delay = self.retry_min
        try:
            while True:
                try:
                    if not self._up["publish"]:
                        await client.ping()
                        self._came_back("publish")
                        delay = self.retry_min
                    if not self._outbox:
                        self._wake.clear()
                        await self._wake.wait()
                        continue
                    await self._listening.wait()
                    batch = list(islice(self._outbox, BATCH))
                    async with client.pipeline(transaction=False) as pipe:
                        for _, data in batch:
                            pipe.publish(self.channel, data)
                        await pipe.execute()
                except CONNECTION_ERRORS as exc:
                    self._went_down("publish", exc)
                    await asyncio.sleep(delay)
                    delay = self._backoff(delay * 2)
                    continue
                last = batch[-1][0]
                while self._outbox and self._outbox[0][0] <= last:
                    self._outbox.popleft()
                self.sent += len(batch)
        finally:
            await client.aclose()

    async def _listen_loop(self) -> None:
        delay = self.retry_min
        while True:
            client = self._client()
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._confirmed(pubsub)
                self._listening.set()
                self._came_back("subscribe")
                delay = self.retry_min
                await self._read(pubsub)
            except CONNECTION_ERRORS as exc:
                self._listening.clear()
                self._went_down("subscribe", exc)
                await asyncio.sleep(delay)
                delay = self._backoff(delay * 2)
            finally:
                self._listening.clear()
                with contextlib.suppress(*CONNECTION_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(*CONNECTION_ERRORS):
                    await client.aclose()

    async def _confirmed(self, pubsub: PubSub) -> None:
        """Wait for Redis to confirm the subscription, so nothing sent after it is missed."""
        async with asyncio.timeout(self.health_interval):
            while True:
                item = await pubsub.get_message(timeout=self.health_interval)
                if item is not None and item["type"] == "subscribe":
                    return

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        while True:
            item = await pubsub.get_message(timeout=self.health_interval)
            now = loop.time()
            if item is None:
                silent = now - heard
                if silent >= 3 * self.health_interval:
                    raise ConnectionError(f"no reply from Redis for {silent:.0f} s")
                if silent >= self.health_interval:
                    await pubsub.ping()
                continue
            heard = now
            if item["type"] == "message":
                self._receive(item["data"])

    def _receive(self, data: bytes) -> None:
        try:
            envelope: dict[str, Any] = json.loads(data)
            source, seq = envelope["src"], envelope["seq"]
            topic, message = envelope["topic"], envelope["message"]
            if not (isinstance(source, str) and isinstance(seq, int) and isinstance(topic, str)):
                raise TypeError("bad envelope field types")
        except (ValueError, KeyError, TypeError):
            log.warning(
                "ignored a malformed message on the Redis bus",
                extra={"error_id": "bus.malformed", "channel": self.channel},
            )
            return
        last = self._seen.pop(source, None)
        if last is not None and seq <= last:
            self.duplicates += 1
            self._seen[source] = last
            return
        if last is not None and seq > last + 1:
            self.lost += seq - last - 1
            log.warning(
                "missed %d events from another process while disconnected",
                seq - last - 1,
                extra={"error_id": "bus.gap", "source": source},
            )
        self._seen[source] = seq
        if len(self._seen) > KNOWN_SOURCES:
            del self._seen[next(iter(self._seen))]
        self.received += 1
        self._fanout.deliver(topic, message)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "Redis bus task %s stopped",
            task.get_name(),
            exc_info=task.exception(),
            extra={"error_id": "bus.task_failed"},
        )
