"""The ``cti`` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from cti.auth.exceptions import AuthError
from cti.auth.model import Role, User
from cti.auth.service import create_user, list_users
from cti.settings import Settings
from cti.store import migrate
from cti.store.db import open_database, safe_url

T = TypeVar("T")


@click.group()
def main() -> None:
    """Callfold: contact-center telephony integration server for Asterisk."""


# --- database and users -------------------------------------------------------------------


def _run_db(settings: Settings, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async database step, turning its failures into one clear line."""
    url = settings.database.url
    try:
        return asyncio.run(work())
    except AuthError as exc:
        raise click.ClickException(exc.message) from exc
    except (DBAPIError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"cannot use the database at {safe_url(url)}: {reason}") from exc


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to CTI_DATABASE_URL (creates the SQLite folder)."""
    settings = Settings()
    url = settings.database.url

    async def work() -> str | None:
        await migrate.upgrade(url)
        return await migrate.current(url)

    revision = _run_db(settings, work)
    click.echo(f"database {safe_url(url)} is at revision {revision}")


@main.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.argument("username")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="What they may do."
)
@click.option("--interface", "agent_interface", help="Their phone, e.g. PJSIP/1001.")
@click.option("--display-name", help="Name shown to others (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(
    username: str,
    role: str,
    agent_interface: str | None,
    display_name: str | None,
    password_stdin: bool,
) -> None:
    """Add a user; the password is prompted for (hidden, asked twice)."""
    if password_stdin:
        password: str = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = Settings()

    async def work() -> User:
        await _prepare(settings)
        async with open_database(settings.database.url) as sessionmaker:
            return await create_user(
                sessionmaker,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                agent_interface=agent_interface,
                actor="cli",
            )

    user = _run_db(settings, work)
    click.echo(f"created {user.role.value} {user.username}")


@users.command("list")
def users_list() -> None:
    """List every user."""
    settings = Settings()

    async def work() -> list[User]:
        await _prepare(settings)
        async with open_database(settings.database.url) as sessionmaker:
            return await list_users(sessionmaker)

    rows = [
        (
            u.username,
            u.role.value,
            u.agent_interface or "-",
            "yes" if u.active else "no",
            u.display_name,
        )
        for u in _run_db(settings, work)
    ]
    if not rows:
        click.echo("no users yet: cti users create NAME --role admin")
        return
    header = ("USERNAME", "ROLE", "INTERFACE", "ACTIVE", "DISPLAY NAME")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        click.echo(
            "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[4]
        )


async def _prepare(settings: Settings) -> None:
    """Apply pending migrations first when the settings allow it, as the server does."""
    if settings.database.auto_migrate:
        await migrate.upgrade(settings.database.url)
