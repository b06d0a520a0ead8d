"""Login rate limiting per username and client address (pure logic, injected clock)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from cti.auth.exceptions import TooManyAttempts


class LoginRateLimiter:
    """Refuse logins for a username from an address after too many recent failures.

    A sliding window: at most ``max_failures`` failures within ``window`` seconds; while
    that many are inside the window, every attempt is refused until the oldest one ages
    out. A success clears the key. At most ``max_keys`` keys are remembered (the least
    recently failed are forgotten first), so a flood of names cannot exhaust memory.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or window <= 0 or max_keys < 1:
            raise ValueError("max_failures, window and max_keys must be positive")
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    @staticmethod
    def key(username: str, client: str) -> tuple[str, str]:
        """The key for a username (case-insensitive) and a client address."""
        return (username.strip().lower(), client)

    def retry_after(self, username: str, client: str) -> float | None:
        """Seconds until this username may be tried again from this address, or None if now."""
        key = self.key(username, client)
        failures = self._failures.get(key)
        if failures is None:
            return None
        now = self.clock()
        self._expire(failures, now)
        if not failures:
            del self._failures[key]
            return None
        if len(failures) < self.max_failures:
            return None
        return max(failures[0] + self.window - now, 0.001)

    def check(self, username: str, client: str) -> None:
        """Raise ``TooManyAttempts`` if this username is blocked for this address."""
        wait = self.retry_after(username, client)
        if wait is not None:
            raise TooManyAttempts(wait)

    def attempt(self, username: str, client: str) -> None:
        """Count a login attempt as a failure until ``record_success``; raise if blocked.

        Counting before the password is checked means parallel guesses cannot slip past
        the limit while the (slow) hash comparisons run.
        """
        self.check(username, client)
        self.record_failure(username, client)

    def record_failure(self, username: str, client: str) -> None:
        """Remember one failed login."""
        key = self.key(username, client)
        now = self.clock()
        failures = self._failures.pop(key, None)
        if failures is None:
            failures = deque(maxlen=self.max_failures)
        self._expire(failures, now)
        failures.append(now)
        self._failures[key] = failures
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def record_success(self, username: str, client: str) -> None:
        """Forget the failures of this username from this address."""
        self._failures.pop(self.key(username, client), None)

    def _expire(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()
