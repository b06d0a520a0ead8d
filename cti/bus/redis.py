"""The Redis event bus: messages published by any process reach subscribers in every process.

All topics share one Redis pub/sub channel (``<prefix>events``) with the topic inside the
JSON message. One channel keeps a publisher's messages in the order it sent them, which
per-topic channels would not across topics (``call.answered`` must not overtake
``call.agent_ringing``), and topic filtering is cheap to do locally. Local subscribers
also receive through Redis, so every process sees the same stream by the same path.

Publishing never waits for Redis: messages go to a bounded outbox drained by one sender
task. While Redis is away the outbox keeps them (oldest dropped past ``max_buffer``,
counted and logged once) and the sender retries with capped backoff; the listener
re-subscribes likewise. Each outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from cti.bus.base import LocalFanout, Message, Subscription

log = logging.getLogger(__name__)

BATCH = 500


class RedisBus:
    """An event bus over Redis pub/sub.

    Args:
        url: ``redis://host:port/db``.
        channel_prefix: prefix of the Redis channel name, to share one Redis.
        max_buffer: messages kept while Redis is unreachable.
    """

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "cti:",
        max_buffer: int = 100_000,
        retry_min: float = 0.2,
        retry_max: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = f"{channel_prefix}events"
        self.max_buffer = max_buffer
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.published = 0
        self.sent = 0
        self.received = 0
        self.dropped = 0
        self._up = {"publish": False, "subscribe": False}
        self._fanout = LocalFanout()
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._down_logged = False

    async def start(self) -> None:
        """Start the sender and the listener; wait briefly for the subscription."""
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="redis-bus-send"),
            asyncio.create_task(self._listen_loop(), name="redis-bus-listen"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 2.0)

    async def close(self) -> None:
        """Send what is queued (for up to a second), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained(), 1.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fanout.close_all()

    async def _drained(self) -> None:
        while self._outbox:
            await asyncio.sleep(0.01)

    async def publish(self, topic: str, message: Message) -> None:
        """Queue a message for every process; returns at once."""
        data = json.dumps({"topic": topic, "message": message}, separators=(",", ":"))
        if len(self._outbox) >= self.max_buffer:
            self._outbox.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.error(
                    "Redis bus buffer full: dropping the oldest events",
                    extra={"error_id": "bus.buffer_full"},
                )
        self._outbox.append(data.encode())
        self.published += 1
        self._wake.set()

    def subscribe(self, *patterns: str, maxsize: int = 1000) -> Subscription:
        return self._fanout.subscribe(*patterns, maxsize=maxsize)

    @property
    def healthy(self) -> bool:
        """Both publishing and the subscription work right now."""
        return all(self._up.values())

    def _went_down(self, what: str, exc: Exception) -> None:
        self._up[what] = False
        if not self._down_logged:
            self._down_logged = True
            log.error(
                "Redis unreachable (%s): %s; events are kept and retried",
                what,
                exc,
                extra={"error_id": "bus.redis_down"},
            )

    def _came_back(self, what: str) -> None:
        self._up[what] = True
        if self._down_logged and self.healthy:
            self._down_logged = False
            log.info("Redis reachable again; %d queued events being sent", len(self._outbox))

    async def _send_loop(self) -> None:
        delay = self.retry_min
        client = aioredis.Redis.from_url(self.url)
        try:
            while True:
                if not self._outbox:
                    self._wake.clear()
                    await self._wake.wait()
                batch = [self._outbox[i] for i in range(min(BATCH, len(self._outbox)))]
                try:
                    async with client.pipeline(transaction=False) as pipe:
                        for data in batch:
                            pipe.publish(self.channel, data)
                        await pipe.execute()
                except (RedisError, OSError) as exc:
                    self._went_down("publish", exc)
                    await asyncio.sleep(delay)
                    delay = min(self.retry_max, delay * 2)
                    continue
                for _ in batch:
                    self._outbox.popleft()
                self.sent += len(batch)
                delay = self.retry_min
                if not self._up["publish"]:
                    self._came_back("publish")
        finally:
            await client.aclose()

    async def _listen_loop(self) -> None:
        delay = self.retry_min
        while True:
            client = aioredis.Redis.from_url(self.url)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                self._came_back("subscribe")
                delay = self.retry_min
                async for item in pubsub.listen():
                    if item.get("type") == "message":
                        self._receive(item["data"])
            except (RedisError, OSError) as exc:
                self._went_down("subscribe", exc)
                await asyncio.sleep(delay)
                delay = min(self.retry_max, delay * 2)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()

    def _receive(self, data: bytes) -> None:
        try:
            envelope: dict[str, Any] = json.loads(data)
            topic = envelope["topic"]
            message = envelope["message"]
        except (ValueError, KeyError, TypeError):
            log.warning(
                "ignored a malformed message on the Redis bus", extra={"error_id": "bus.malformed"}
            )
            return
        self.received += 1
        self._fanout.deliver(topic, message)
