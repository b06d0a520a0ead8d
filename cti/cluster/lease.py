"""The AMI lease: which one process reads a given Asterisk's AMI, kept in Redis.

A lease is one Redis key per Asterisk (``cti:ami-owner:{host:port}``) holding the owner's
id, with a time-to-live. ``SET NX PX`` takes it, a compare-and-``PEXPIRE`` keeps it, a
compare-and-``DEL`` gives it back; the comparisons run in Lua, so a process can never
extend or delete a lease another process holds.

Timing is the safety argument, and ``LeaseTimer`` keeps it pure. Redis starts the
time-to-live when it runs the command, which is never before the request left this
process; counting from the moment the request left, minus a margin, the owner always
stops believing it holds the lease before Redis can hand it to anybody else, even when
the reply is slow or never comes.

Each takeover also draws a term number (``cti:ami-term:{host:port}``, a counter bumped
only by the lease's holder), so what an owner sends to other processes can be told from
what an earlier owner sent, whatever order it arrives in.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cti.cluster.exceptions import LeaseUnavailable

KEY_PREFIX = "cti:"
"""The prefix the Redis bus uses too, so that deployments sharing a Redis stay apart."""

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
TERM = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('incr', KEYS[2])
end
return 0
"""
"""KEYS: lease, term counter. ARGV: holder. The next term number, or 0 if not the holder."""


def asterisk_tag(host: str, port: int) -> str:
    """The Redis hash tag naming one Asterisk, so its lease and ledger share a cluster slot."""
    return "{" + f"{host}:{port}" + "}"


def lease_key(host: str, port: int, prefix: str = KEY_PREFIX) -> str:
    """The lease key of the Asterisk whose AMI listens at ``host:port``."""
    return f"{prefix}ami-owner:{asterisk_tag(host, port)}"


def term_key(host: str, port: int, prefix: str = KEY_PREFIX) -> str:
    """The key counting the terms of the lease of the Asterisk at ``host:port``."""
    return f"{prefix}ami-term:{asterisk_tag(host, port)}"


def holder_id() -> str:
    """This process's id as a lease holder: host name, pid and a random part (pids get reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(slots=True)
class LeaseTimer:
    """Until when this process may act as the owner, from when its requests left. Pure.

    Args:
        ttl: the lease's time-to-live in Redis, seconds.
        margin: seconds given up at the end of each term, for the owner to stop reading.
    """

    ttl: float
    margin: float
    valid_until: float | None = None
    granted_at: float | None = None
    """When the request behind the current term left."""

    def __post_init__(self) -> None:
        if not 0 <= self.margin < self.ttl:
            raise ValueError(f"the margin must be in [0, ttl); got {self.margin} for {self.ttl}")

    @property
    def renew_every(self) -> float:
        """Seconds between renewals: a third of the term, so two may fail before it ends."""
        return self.ttl / 3

    def granted(self, sent_at: float) -> None:
        """Redis took or extended the lease with a request that left at ``sent_at``."""
        self.granted_at = sent_at
        self.valid_until = sent_at + self.ttl - self.margin

    def revoke(self) -> None:
        """The lease is gone (refused, released or expired)."""
        self.valid_until = self.granted_at = None

    def held(self, now: float) -> bool:
        """Whether this process may still act as the owner at ``now``."""
        return self.valid_until is not None and now < self.valid_until

    def remaining(self, now: float) -> float:
        """Seconds left in the current term (0 when not held)."""
        if self.valid_until is None:
            return 0.0
        return max(0.0, self.valid_until - now)

    def next_renewal(self) -> float | None:
        """When to renew the current term (``None`` when not held)."""
        if self.granted_at is None:
            return None
        return self.granted_at + self.renew_every


class RedisLease:
    """One Asterisk's AMI lease in Redis, held under this process's ``holder`` id.

    Args:
        url: ``redis://[:password@]host:port/db``.
        key: the lease key (``lease_key``).
        holder: this process's id (``holder_id``).
        ttl: the lease's time-to-live, seconds.
        timeout: longest wait for one Redis reply, seconds.

    The term counter (``begin_term``) is the key beside it, ``ami-term`` for ``ami-owner``.
    Every method raises ``LeaseUnavailable`` when Redis cannot be asked.
    """

    def __init__(self, url: str, key: str, holder: str, *, ttl: float, timeout: float) -> None:
        self.key = key
        self.term_key = key.replace("ami-owner:", "ami-term:", 1)
        self.holder = holder
        self.ttl_ms = max(1, round(ttl * 1000))
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._renew = self._client.register_script(RENEW)
        self._release = self._client.register_script(RELEASE)
        self._term = self._client.register_script(TERM)

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it (or this process already does)."""
        try:
            taken = await self._client.set(self.key, self.holder, nx=True, px=self.ttl_ms)
            if taken:
                return True
            # A reply lost after Redis granted the lease would otherwise lock us out of
            # our own lease until it expired.
            return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))
        except (RedisError, OSError) as exc:
            raise LeaseUnavailable("take", exc) from exc

    async def renew(self) -> bool:
        """Extend the lease by a full term; False if another process holds it now."""
        try:
            return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))
        except (RedisError, OSError) as exc:
            raise LeaseUnavailable("renew", exc) from exc

    async def release(self) -> bool:
        """Give the lease back at once; False if this process no longer held it."""
        try:
            return bool(await self._release(keys=[self.key], args=[self.holder]))
        except (RedisError, OSError) as exc:
            raise LeaseUnavailable("release", exc) from exc

    async def begin_term(self) -> int:
        """Draw the number of the term this process starts as the holder (1, 2, …; higher
        is later); 0 if it no longer holds the lease."""
        try:
            return int(await self._term(keys=[self.key, self.term_key], args=[self.holder]))
        except (RedisError, OSError) as exc:
            raise LeaseUnavailable("number the term of", exc) from exc

    async def owner(self) -> str | None:
        """The id of the process holding the lease now, if any."""
        try:
            value = await self._client.get(self.key)
        except (RedisError, OSError) as exc:
            raise LeaseUnavailable("read", exc) from exc
        return value.decode() if isinstance(value, bytes) else value

    async def close(self) -> None:
        """Close the connection to Redis."""
        await self._client.aclose()
