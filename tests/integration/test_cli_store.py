"""The ``cti db`` and ``cti users`` commands against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.cli import main
from cti.store import migrate

pytestmark = pytest.mark.integration


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CTI_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'new' / 'cti.db'}")
    return CliRunner()


def test_db_upgrade_creates_the_database(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {migrate.head()}" in result.output
    assert (tmp_path / "new" / "cti.db").is_file()


def test_users_create_and_list(runner: CliRunner) -> None:
    result = runner.invoke(
        main,
        ["users", "create", "Alice", "--role", "admin", "--interface", "PJSIP/1001"],
        input="alice-password\nalice-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "created admin alice" in result.output
    assert "alice-password" not in result.output
    result = runner.invoke(
        main,
        ["users", "create", "bob", "--role", "agent", "--password-stdin", "--display-name", "Bob"],
        input="bob-password\n",
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["users", "list"])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["USERNAME", "ROLE", "INTERFACE", "ACTIVE", "DISPLAY", "NAME"]
    assert lines[1].split() == ["alice", "admin", "PJSIP/1001", "yes", "alice"]
    assert lines[2].split() == ["bob", "agent", "-", "yes", "Bob"]


def test_users_create_refuses_bad_input_clearly(runner: CliRunner) -> None:
    args = ["users", "create", "carol", "--role", "agent", "--password-stdin"]
    assert runner.invoke(main, args, input="carol-password\n").exit_code == 0
    again = runner.invoke(main, args, input="carol-password\n")
    assert again.exit_code == 1
    assert "already exists" in again.output
    short = runner.invoke(main, [*args[:2], "dave", *args[3:]], input="short\n")
    assert short.exit_code == 1
    assert "8 to 1024 characters" in short.output
    mismatch = runner.invoke(
        main, ["users", "create", "erin", "--role", "agent"], input="erin-password\nother-pw\n" * 3
    )
    assert mismatch.exit_code != 0
    wrong_role = runner.invoke(main, ["users", "create", "frank", "--role", "root"])
    assert wrong_role.exit_code == 2


def test_unreachable_database_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_DATABASE_URL", "postgresql+asyncpg://cti:hunter2@127.0.0.1:1/cti")
    result = CliRunner().invoke(main, ["users", "list"])
    assert result.exit_code == 1
    assert (
        "cannot use the database at postgresql+asyncpg://cti:***@127.0.0.1:1/cti" in result.output
    )
    assert "hunter2" not in result.output
