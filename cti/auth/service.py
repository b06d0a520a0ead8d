"""User accounts and logging in: the rules of ``cti.auth.model`` applied over the store."""

from __future__ import annotations

import logging

from cti.auth.exceptions import InvalidCredentials, InvalidToken
from cti.auth.model import (
    Role,
    User,
    check_display_name,
    check_interface,
    check_password,
    check_role,
    check_username,
    normalize_username,
)
from cti.auth.passwords import Passwords
from cti.auth.tokens import TokenClaims
from cti.store.db import Sessionmaker
from cti.store.repositories import AuditRepository, UserRepository

log = logging.getLogger(__name__)


async def create_user(
    sessionmaker: Sessionmaker,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    agent_interface: str | None = None,
    actor: str = "cli",
    passwords: Passwords | None = None,
) -> User:
    """Validate, hash the password, store the user and audit it in one transaction."""
    name = check_username(username)
    check_password(password)
    user_role = check_role(role)
    interface = check_interface(agent_interface)
    shown = check_display_name(display_name, name)
    password_hash = await (passwords or Passwords()).hash(password)
    async with sessionmaker.begin() as session:
        user = await UserRepository(session).create(
            username=name,
            display_name=shown,
            password_hash=password_hash,
            role=user_role,
            agent_interface=interface,
        )
        await AuditRepository(session).record(
            actor=actor,
            action="user.create",
            target=name,
            details={"role": user_role.value, "agent_interface": interface},
        )
    log.info("user %s created with role %s by %s", name, user_role.value, actor)
    return user


async def list_users(sessionmaker: Sessionmaker) -> list[User]:
    """Every user, by username."""
    async with sessionmaker() as session:
        return await UserRepository(session).list()


async def set_password(
    sessionmaker: Sessionmaker,
    username: str,
    password: str,
    *,
    actor: str = "cli",
    passwords: Passwords | None = None,
) -> None:
    """Replace a user's password (audited)."""
    name = normalize_username(username)
    check_password(password)
    password_hash = await (passwords or Passwords()).hash(password)
    async with sessionmaker.begin() as session:
        await UserRepository(session).set_password(name, password_hash)
        await AuditRepository(session).record(actor=actor, action="user.password", target=name)


async def deactivate_user(sessionmaker: Sessionmaker, username: str, *, actor: str = "cli") -> None:
    """Stop a user from logging in; their tokens stop working at once (audited)."""
    name = normalize_username(username)
    async with sessionmaker.begin() as session:
        await UserRepository(session).deactivate(name)
        await AuditRepository(session).record(actor=actor, action="user.deactivate", target=name)


async def authenticate(
    sessionmaker: Sessionmaker, username: str, password: str, passwords: Passwords
) -> User:
    """The active user with this username and password, or ``InvalidCredentials``.

    An unknown username costs as much time as a wrong password, and both give the same
    error, so neither tells which usernames exist. A hash made with weaker parameters
    than the current ones is replaced on a successful login.
    """
    name = normalize_username(username)
    async with sessionmaker() as session:
        found = await UserRepository(session).get_credentials(name)
    if found is None:
        await passwords.waste_time(password)
        raise InvalidCredentials()
    user, password_hash = found
    if not await passwords.verify(password_hash, password) or not user.active:
        raise InvalidCredentials()
    if passwords.needs_rehash(password_hash):
        new_hash = await passwords.hash(password)
        async with sessionmaker.begin() as session:
            await UserRepository(session).set_password(name, new_hash)
    return user


async def user_for_token(sessionmaker: Sessionmaker, claims: TokenClaims) -> User:
    """The current state of the user a verified token names; refused if gone or inactive."""
    async with sessionmaker() as session:
        user = await UserRepository(session).get(claims.user_id)
    if user is None or not user.active or user.username != claims.username:
        raise InvalidToken()
    return user
