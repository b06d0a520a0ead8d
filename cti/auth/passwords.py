"""Password hashing with Argon2id; the hashing runs in a worker thread, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """Hash and verify passwords without blocking the event loop."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    @classmethod
    def fast(cls) -> Passwords:
        """Cheap parameters for tests only; never use them for real accounts."""
        return cls(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    async def hash(self, password: str) -> str:
        """Return an Argon2id hash of the password (salted, parameters embedded)."""
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches the hash; a malformed hash never matches."""
        return await asyncio.to_thread(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with weaker parameters than the current ones."""
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def waste_time(self, password: str) -> None:
        """Spend as long as a real check, so unknown usernames cannot be told apart by timing."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("not-a-real-password")
        await self.verify(self._dummy_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
