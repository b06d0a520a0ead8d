"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cti.auth.model import PASSWORD_MAX, Role, User


class LoginRequest(BaseModel):
    """Credentials for ``POST /api/auth/login``."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX, repr=False)


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    agent_interface: str | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        """The API view of a user."""
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            agent_interface=user.agent_interface,
            active=user.active,
            created_at=user.created_at,
        )


class LoginResponse(BaseModel):
    """A login token, when it expires, and who it is for."""

    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class UserCreate(BaseModel):
    """A new user for ``POST /api/users``; the rules are checked by ``cti.auth.model``."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX, repr=False)
    role: Role
    display_name: str | None = Field(None, max_length=128)
    agent_interface: str | None = Field(None, max_length=128)


class CallsPage(BaseModel):
    """Calls as JSON-ready dicts (the ``call`` of the domain events; epoch-second times)."""

    calls: list[dict[str, Any]]
    next_before: float | None = Field(
        None, description="Pass as ?before= for the next (older) page; null on the last page."
    )


class Status(BaseModel):
    """Health and readiness answers."""

    status: str
