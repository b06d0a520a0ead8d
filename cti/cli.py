"""The ``cti`` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from cti.auth.exceptions import AuthError
from cti.auth.model import Role, User
from cti.auth.service import create_user, list_users
from cti.contacts.phone import PhoneRules
from cti.settings import Settings
from cti.store import migrate
from cti.store.db import open_database, safe_url

if TYPE_CHECKING:
    from cti.contacts.importer import ImportReport

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


# --- contacts -------------------------------------------------------------------------------


@main.group()
def contacts() -> None:
    """Contacts: import, export and erase personal data."""


@contacts.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Default: by suffix.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write rejected rows (default: PATH.rejected.jsonl).",
)
def contacts_import(path: Path, fmt: str | None, rejects: Path | None) -> None:
    """Upsert contacts from a CSV or JSON Lines file; rejected rows are reported, not written."""
    from rich.progress import Progress

    from cti.contacts.importer import Format, guess_format, import_rows, read_rows

    settings = Settings()
    try:
        chosen: Format = guess_format(path) if fmt is None else ("csv" if fmt == "csv" else "jsonl")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PATH") from exc
    with path.open("rb") as handle:
        total = max(sum(1 for _ in handle) - (1 if chosen == "csv" else 0), 0)

    async def work() -> ImportReport:
        await _prepare(settings)
        async with open_database(settings.database.url) as sessionmaker:
            with Progress(transient=True) as bar:
                task = bar.add_task(f"importing {path.name}", total=total)
                return await import_rows(
                    sessionmaker,
                    read_rows(path, chosen),
                    rules=_phone_rules(settings),
                    source=f"import:{path.name}"[:64],
                    progress=lambda n: bar.advance(task, n),
                )

    report = _run_db(settings, work)
    click.echo(
        f"{report.rows} row(s): {report.created} created, {report.updated} updated, "
        f"{len(report.rejected)} rejected"
    )
    if report.rejected:
        target = rejects or path.with_name(path.name + ".rejected.jsonl")
        with target.open("w", encoding="utf-8") as out:
            for rejected in report.rejected:
                out.write(json.dumps(rejected.to_dict(), ensure_ascii=False, default=str) + "\n")
        for rejected in report.rejected[:10]:
            click.echo(f"  line {rejected.line}: {'; '.join(rejected.problems)}", err=True)
        if len(report.rejected) > 10:
            click.echo(f"  ... and {len(report.rejected) - 10} more", err=True)
        click.echo(f"rejected rows written to {target}", err=True)
        raise SystemExit(1)


@contacts.command("export")
@click.argument("contact_id", type=click.IntRange(min=1))
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-")
def contacts_export(contact_id: int, output: Any) -> None:
    """Print everything held on one contact as JSON (audited)."""
    from cti.store.privacy import export_contact

    settings = Settings()

    async def work() -> dict[str, Any] | None:
        await _prepare(settings)
        async with open_database(settings.database.url) as sessionmaker:
            return await export_contact(
                sessionmaker, contact_id, actor="cli", rules=_phone_rules(settings)
            )

    found = _run_db(settings, work)
    if found is None:
        raise click.ClickException(f"no contact {contact_id}")
    output.write(json.dumps(found, ensure_ascii=False, indent=2, default=str) + "\n")


@contacts.command("erase")
@click.argument("contact_id", type=click.IntRange(min=1))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def contacts_erase(contact_id: int, yes: bool) -> None:
    """Erase one contact and their facts; their calls stay, anonymised (audited)."""
    from cti.messaging.mail import AttachmentStore
    from cti.store.privacy import erase_contact

    if not yes:
        click.confirm(f"Erase contact {contact_id} for good?", abort=True)
    settings = Settings()

    async def work() -> dict[str, int] | None:
        await _prepare(settings)
        async with open_database(settings.database.url) as sessionmaker:
            files = AttachmentStore(settings.data_dir / "mail")
            return await erase_contact(
                sessionmaker,
                contact_id,
                actor="cli",
                rules=_phone_rules(settings),
                forget_files=files.forget,
            )

    counts = _run_db(settings, work)
    if counts is None:
        raise click.ClickException(f"no contact {contact_id}")
    click.echo(
        f"erased contact {contact_id}: "
        + ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    )


@contacts.command("generate")
@click.argument("count", type=click.IntRange(min=1, max=100_000_000))
@click.option("--seed", default=1, show_default=True, help="The same seed, the same data.")
def contacts_generate(count: int, seed: int) -> None:
    """Fill an empty database with COUNT made-up contacts and their facts (for load tests)."""
    from rich.progress import Progress

    from cti.contacts.generate import generate

    settings = Settings()
    url = settings.database.url

    async def check_empty() -> int:
        await migrate.upgrade(url)
        async with open_database(url) as sessionmaker:
            from cti.store.contacts import ContactRepository

            return await ContactRepository(sessionmaker).count()

    if _run_db(settings, check_empty):
        raise click.ClickException(f"{safe_url(url)} already has contacts: use an empty database")
    with Progress() as bar:
        task = bar.add_task(f"generating {count:,} contacts", total=count)
        try:
            generate(url, count, seed=seed, progress=lambda n: bar.advance(task, n))
        except Exception as exc:  # sqlite3, asyncpg and OS errors alike end the command
            raise click.ClickException(
                f"cannot fill {safe_url(url)}: {type(exc).__name__}: {exc}"
            ) from exc
    click.echo(f"generated {count:,} contacts in {safe_url(url)}")


def _phone_rules(settings: Settings) -> PhoneRules:
    return PhoneRules(
        region=settings.contacts.region, outside_prefix=settings.contacts.outside_prefix
    )


# --- IVR -------------------------------------------------------------------------------------


@main.group()
def prompts() -> None:
    """The IVR's sound files."""


@prompts.command("generate")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Sound folder (default: CTI_IVR_SOUNDS).",
)
@click.option("--force", is_flag=True, help="Record every prompt again.")
def prompts_generate(out: Path | None, force: bool) -> None:
    """Record every prompt of the IVR flow with espeak-ng (for the demo and first tests)."""
    from rich.progress import Progress

    from ivr.flow import FlowError, every_prompt, load_flow
    from ivr.prompts import Voice, generate_prompts

    settings = Settings()
    try:
        flow = load_flow(settings.ivr.flow)
    except FlowError as exc:
        message = "the IVR flow is invalid:\n  - " + "\n  - ".join(exc.problems)
        raise click.ClickException(message) from exc
    voice = Voice()
    if not voice.available:
        raise click.ClickException("espeak-ng and sox are needed: run scripts/system-deps.sh")
    folder = out or settings.ivr.sounds
    total = sum(len(p) for p in every_prompt(flow).values())
    with Progress(transient=True) as bar:
        task = bar.add_task("recording prompts", total=total)
        try:
            written, kept = asyncio.run(
                generate_prompts(
                    flow, folder, voice, force=force, progress=lambda n: bar.advance(task, n)
                )
            )
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise click.ClickException(f"cannot record the prompts: {exc}") from exc
    click.echo(f"{written} prompt(s) recorded, {kept} up to date, in {folder}")


# --- server ---------------------------------------------------------------------------------


@main.command()
def serve() -> None:
    """Run the server against a real Asterisk (settings from CTI_* variables)."""
    from cti.logs import configure_logging
    from cti.runner import run, serve
    from ivr.flow import FlowError, load_flow

    settings = Settings()
    problems = settings.refuse_insecure()
    try:
        load_flow(settings.ivr.flow)
    except FlowError as exc:
        problems += [f"IVR flow: {problem}" for problem in exc.problems]
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
