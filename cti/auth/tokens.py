"""Login tokens: JWT signed with HMAC-SHA256 over the server's secret key, short-lived."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from cti.auth.exceptions import InvalidToken, TokenExpired
from cti.auth.model import Role, User

ALGORITHM = "HS256"
ISSUER = "callfold"
DEFAULT_TTL = timedelta(hours=12)
MIN_KEY_LENGTH = 16


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says about its holder."""

    user_id: int
    username: str
    role: Role
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed token and when it stops being accepted."""

    token: str
    expires_at: datetime


class TokenSigner:
    """Issue and verify login tokens; the clock is injected so expiry can be tested."""

    def __init__(
        self,
        secret_key: str,
        *,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret_key) < MIN_KEY_LENGTH:
            raise ValueError(f"the token secret key needs {MIN_KEY_LENGTH}+ characters")
        self._key = hashlib.sha256(b"callfold login token\0" + secret_key.encode()).digest()
        self.ttl = ttl
        self.clock = clock

    def __repr__(self) -> str:
        return f"TokenSigner(ttl={self.ttl!r})"

    def issue(self, user: User) -> IssuedToken:
        """Sign a token for this user, valid for ``ttl`` from now."""
        now = int(self.clock())
        expires = now + int(self.ttl.total_seconds())
        claims = {
            "iss": ISSUER,
            "sub": str(user.id),
            "name": user.username,
            "role": user.role.value,
            "iat": now,
            "exp": expires,
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return IssuedToken(token=token, expires_at=datetime.fromtimestamp(expires, UTC))

    def verify(self, token: str) -> TokenClaims:
        """Return the claims of a genuine, unexpired token, or raise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["iss", "sub", "name", "role", "iat", "exp"],
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        try:
            user_id = int(claims["sub"])
            role = Role(claims["role"])
            issued = int(claims["iat"])
            expires = int(claims["exp"])
            username = str(claims["name"])
        except (TypeError, ValueError) as exc:
            raise InvalidToken() from exc
        if self.clock() >= expires:
            raise TokenExpired()
        return TokenClaims(
            user_id=user_id,
            username=username,
            role=role,
            issued_at=datetime.fromtimestamp(issued, UTC),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )
