"""Errors of users and authentication, each with a stable ``error_id`` for logs and APIs."""

from __future__ import annotations


class AuthError(Exception):
    """Base of every users and authentication error."""

    error_id = "auth.error"

    def __init__(self, message: str, **data: object) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class InvalidCredentials(AuthError):
    """Unknown username, wrong password or inactive user: deliberately one error for all three."""

    error_id = "auth.invalid_credentials"

    def __init__(self) -> None:
        super().__init__("Wrong username or password.")


class TooManyAttempts(AuthError):
    """Too many failed logins for this username from this address."""

    error_id = "auth.rate_limited"

    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many failed logins; try again later.", retry_after=retry_after)
        self.retry_after = retry_after


class NotAuthenticated(AuthError):
    """No login token was presented."""

    error_id = "auth.not_authenticated"

    def __init__(self) -> None:
        super().__init__("Log in first: send Authorization: Bearer <token>.")


class InvalidToken(AuthError):
    """The token is malformed, forged, or names a user who no longer exists or is inactive."""

    error_id = "auth.invalid_token"

    def __init__(self, message: str = "The login token is not valid; log in again.") -> None:
        super().__init__(message)


class TokenExpired(InvalidToken):
    """The token was valid but its lifetime is over."""

    error_id = "auth.token_expired"

    def __init__(self) -> None:
        super().__init__("The login token has expired; log in again.")


class Forbidden(AuthError):
    """The user is logged in but their role is too low for this action."""

    error_id = "auth.forbidden"

    def __init__(self, required: str) -> None:
        super().__init__(f"This needs the {required} role or higher.", required=required)


class UserExists(AuthError):
    """A user with this username already exists."""

    error_id = "users.exists"

    def __init__(self, username: str) -> None:
        super().__init__(f"User {username!r} already exists.", username=username)


class UserNotFound(AuthError):
    """No user has this username."""

    error_id = "users.not_found"

    def __init__(self, username: str) -> None:
        super().__init__(f"No user {username!r}.", username=username)


class InvalidUserData(AuthError):
    """A username, password, role or interface does not meet the rules."""

    error_id = "users.invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)
        self.field = field
