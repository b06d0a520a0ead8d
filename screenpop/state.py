"""What each agent's screen should show now: their live pops and their state.

Written by the process that reads AMI before it publishes a change, read by whichever
process holds the agent's WebSocket when the agent (re)connects: so a reconnecting tab,
or a tab on another process, starts from the current state and loses no pop. In one
process it lives in memory; with ``CTI_REDIS_URL`` it lives in Redis, shared by all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis

ENDED_KEEP = 3600.0
"""An ended call's pop stays (for its wrap-up) this long at most."""
LIVE_KEEP = 4 * 3600.0
"""No pop outlives this, whatever happened to its call."""


class PopState(Protocol):
    async def save_pop(self, agent: str, message: dict[str, Any]) -> None: ...

    async def drop_pop(self, agent: str, call_id: str) -> None: ...

    async def pops(self, agent: str) -> list[dict[str, Any]]: ...

    async def save_agent(self, username: str, view: dict[str, Any]) -> None: ...

    async def agent(self, username: str) -> dict[str, Any] | None: ...

    async def save_wallboard(self, message: dict[str, Any]) -> None: ...

    async def wallboard(self) -> dict[str, Any] | None: ...

    async def close(self) -> None: ...


def _current(entries: list[tuple[float, dict[str, Any]]], now: float) -> list[dict[str, Any]]:
    """Pops still worth showing, oldest first."""
    kept = []
    for stored_at, message in sorted(entries, key=lambda entry: entry[0]):
        ended = message["call"]["stage"] == "ended"
        if now - stored_at < (ENDED_KEEP if ended else LIVE_KEEP):
            kept.append(message)
    return kept


class MemoryPopState:
    """One process: a dict per agent."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._pops: dict[str, dict[str, tuple[float, dict[str, Any]]]] = {}
        self._agents: dict[str, dict[str, Any]] = {}
        self._wallboard: dict[str, Any] | None = None

    async def save_pop(self, agent: str, message: dict[str, Any]) -> None:
        self._pops.setdefault(agent, {})[message["call"]["id"]] = (self.clock(), message)

    async def drop_pop(self, agent: str, call_id: str) -> None:
        self._pops.get(agent, {}).pop(call_id, None)

    async def pops(self, agent: str) -> list[dict[str, Any]]:
        mine = self._pops.get(agent, {})
        kept = _current(list(mine.values()), self.clock())
        self._pops[agent] = {m["call"]["id"]: mine[m["call"]["id"]] for m in kept}
        return kept

    async def save_agent(self, username: str, view: dict[str, Any]) -> None:
        self._agents[username] = view

    async def agent(self, username: str) -> dict[str, Any] | None:
        return self._agents.get(username)

    async def save_wallboard(self, message: dict[str, Any]) -> None:
        self._wallboard = message

    async def wallboard(self) -> dict[str, Any] | None:
        return self._wallboard

    async def close(self) -> None:
        return None


class RedisPopState:
    """Every process: a Redis hash of pops per agent, and one of agents' states."""

    def __init__(
        self, url: str, prefix: str = "cti:", clock: Callable[[], float] = time.time
    ) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=32, timeout=5.0, socket_timeout=2.0
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self.prefix = prefix
        self.clock = clock

    def _pops_key(self, agent: str) -> str:
        return f"{self.prefix}pops:{agent}"

    async def save_pop(self, agent: str, message: dict[str, Any]) -> None:
        key = self._pops_key(agent)
        value = json.dumps({"at": self.clock(), "message": message}, separators=(",", ":"))
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(key, message["call"]["id"], value)
            pipe.expire(key, int(LIVE_KEEP))
            await pipe.execute()

    async def drop_pop(self, agent: str, call_id: str) -> None:
        await self.client.hdel(self._pops_key(agent), call_id)

    async def pops(self, agent: str) -> list[dict[str, Any]]:
        stored = await self.client.hgetall(self._pops_key(agent))
        entries = []
        for raw in stored.values():
            item = json.loads(raw)
            entries.append((float(item["at"]), item["message"]))
        kept = _current(entries, self.clock())
        gone = {m["call"]["id"] for _, m in entries} - {m["call"]["id"] for m in kept}
        if gone:
            await self.client.hdel(self._pops_key(agent), *gone)
        return kept

    async def save_agent(self, username: str, view: dict[str, Any]) -> None:
        await self.client.hset(f"{self.prefix}agents", username, json.dumps(view))

    async def agent(self, username: str) -> dict[str, Any] | None:
        raw = await self.client.hget(f"{self.prefix}agents", username)
        found: dict[str, Any] | None = json.loads(raw) if raw else None
        return found

    async def save_wallboard(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, separators=(",", ":"))
        await self.client.set(f"{self.prefix}wallboard", text, ex=int(LIVE_KEEP))

    async def wallboard(self) -> dict[str, Any] | None:
        raw = await self.client.get(f"{self.prefix}wallboard")
        found: dict[str, Any] | None = json.loads(raw) if raw else None
        return found

    async def close(self) -> None:
        await self.client.aclose()


def create_pop_state(redis_url: str | None) -> PopState:
    return RedisPopState(redis_url) if redis_url else MemoryPopState()
