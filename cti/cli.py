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


# --- server ---------------------------------------------------------------------------------


@main.command()
def serve() -> None:
    """Run the server against a real Asterisk (settings from CTI_* variables)."""
    from cti.logs import configure_logging
    from cti.runner import run, serve

    settings = Settings()
    problems = settings.refuse_insecure()
    if problems:
        raise click.ClickException("refusing to start:\n  - " + "\n  - ".join(problems))
    configure_logging(settings.log.level, settings.log.format)
    run(serve(settings))


@main.command()
@click.option("--calls-per-minute", default=4.0, show_default=True, help="Simulated call rate.")
@click.option("--speed", default=1.0, show_default=True, help="Run simulated time faster.")
def demo(calls_per_minute: float, speed: float) -> None:
    """Run the server with demo data and a simulated PBX (SQLite, nothing else needed)."""
    from cti.demo import run_demo
    from cti.logs import configure_logging
    from cti.runner import run

    settings = Settings(demo=True)
    configure_logging(settings.log.level, "text")
    run(run_demo(settings, calls_per_minute=calls_per_minute, speed=speed))


@main.command("check-asterisk")
def check_asterisk() -> None:
    """Log in to Asterisk's AMI; print its version, queues and live channels."""
    from cti.runner import check_asterisk as check

    settings = Settings()
    report = asyncio.run(check(settings))
    where = f"{settings.ami.host}:{settings.ami.port}"
    if report.error is not None:
        raise click.ClickException(report.error)
    click.echo(
        f"AMI {where}: logged in as {settings.ami.username!r} (protocol {report.ami_version})"
    )
    click.echo(f"Asterisk {report.version or 'version unknown'}")
    click.echo(f"{len(report.queues)} queue(s):")
    for queue in report.queues:
        click.echo(
            f"  {queue.get('Queue', '?'):<16} logged in {queue.get('LoggedIn', '?'):>3}"
            f"  available {queue.get('Available', '?'):>3}  callers {queue.get('Callers', '?'):>3}"
        )
    click.echo(f"{len(report.channels)} live channel(s):")
    for channel in report.channels:
        click.echo(
            f"  {channel.get('Channel', '?'):<40} {channel.get('ChannelStateDesc', ''):<8}"
            f" {channel.get('Application', '')}"
        )


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print the table as in README.md.")
def show_settings(markdown: bool) -> None:
    """Print every setting: its variable, default and meaning."""
    from cti.settings import settings_table

    table = settings_table()
    if markdown:
        click.echo(table)
        return
    for row in table.splitlines()[2:]:
        variable, default, meaning = (cell.strip().strip("`") for cell in row.strip("|").split("|"))
        click.echo(f"{variable:<28} {default:<36} {meaning}")
