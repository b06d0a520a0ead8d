"""Roles, the user as the rest of the server sees it, and the rules for user data (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cti.auth.exceptions import InvalidUserData

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
INTERFACE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/[^\s,&|]{1,120}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
DISPLAY_NAME_MAX = 128


class Role(StrEnum):
    """What a user may do; ordered ``agent < supervisor < admin``, each including the ones below."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the order, lowest first."""
        return _RANKS[self]

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Role):
            return self.rank < other.rank
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Role):
            return self.rank <= other.rank
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Role):
            return self.rank > other.rank
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Role):
            return self.rank >= other.rank
        return NotImplemented


_RANKS = {Role.AGENT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class User:
    """A user account, without its password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    agent_interface: str | None
    active: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "agent_interface": self.agent_interface,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
        }


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive: compare and store them lower-cased and trimmed."""
    return username.strip().lower()


def check_username(username: str) -> str:
    """Return the normalised username, or raise if it breaks the rules."""
    name = normalize_username(username)
    if not USERNAME_RE.fullmatch(name):
        raise InvalidUserData(
            "username",
            "A username is 1 to 64 characters: letters, digits and . _ @ -, "
            "starting with a letter or digit.",
        )
    return name


def check_password(password: str) -> str:
    """Return the password unchanged, or raise if it is too short or too long."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidUserData(
            "password", f"A password is {PASSWORD_MIN} to {PASSWORD_MAX} characters long."
        )
    return password


def check_role(role: str | Role) -> Role:
    """Return the role, or raise if it is not one of agent, supervisor, admin."""
    try:
        return Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidUserData("role", f"A role is one of: {names}.") from None


def check_interface(interface: str | None) -> str | None:
    """Return the Asterisk device interface (``PJSIP/1001``), or raise if malformed."""
    if interface is None or not interface.strip():
        return None
    value = interface.strip()
    if not INTERFACE_RE.fullmatch(value):
        raise InvalidUserData(
            "agent_interface",
            "An agent interface is an Asterisk device such as PJSIP/1001 or Local/1001@agents.",
        )
    return value


def check_display_name(display_name: str | None, username: str) -> str:
    """Return the display name (the username when empty), or raise if too long."""
    value = (display_name or "").strip() or username
    if len(value) > DISPLAY_NAME_MAX or any(ord(ch) < 32 for ch in value):
        raise InvalidUserData(
            "display_name",
            f"A display name is at most {DISPLAY_NAME_MAX} printable characters.",
        )
    return value
