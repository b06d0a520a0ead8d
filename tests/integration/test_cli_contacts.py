"""``cti contacts import / export / erase`` against a real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.cli import main
from cti.contacts.importer import import_rows, read_rows
from cti.store.contacts import ContactRepository
from cti.store.db import open_database
from cti.store.migrate import upgrade

pytestmark = pytest.mark.integration

CSV = """external_id,name,language,phones,emails,lifetime_value_cents,debt_cents
CRM-1,Ivan Petrov,ru,8 916 123-45-67;+7 (495) 111-22-33,ivan@example.org,20000000,0
CRM-2,Olga Smirnova,,79165550101,,,
CRM-3,Bad Phone,,12345,,,
CRM-4,,,79035550102,,,
CRM-5,Bad Email,,,not-an-email,,
CRM-6,Too,many,cells,,,,,extra
,Sergey Kuznetsov,,+79035550102,,,-7
"""

JSONL = "\n".join(
    [
        json.dumps(
            {
                "external_id": "CRM-1",
                "name": "Ivan Petrov",
                "phones": ["+79161234567"],
                "orders": [{"number": "1234", "status": "ready"}],
            }
        ),
        "{not json",
        "[1, 2]",
        json.dumps({"name": "Anna", "orders": [{"number": "9", "status": "lost"}]}),
        "",
    ]
)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    monkeypatch.setenv("CTI_DATABASE_URL", url)
    return url


def contact_count(url: str) -> int:
    async def count() -> int:
        async with open_database(url) as sessionmaker:
            return await ContactRepository(sessionmaker).count()

    return asyncio.run(count())


def test_csv_import_reports_every_rejected_row_and_writes_the_rest(
    database: str, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(CSV, encoding="utf-8")
    result = CliRunner().invoke(main, ["contacts", "import", str(source)])
    assert result.exit_code == 1, result.output
    assert "7 row(s): 2 created, 0 updated, 5 rejected" in result.output
    assert "line 4: phones[0]: '12345' is not a valid phone number" in result.output
    rejected = [
        json.loads(line)
        for line in (tmp_path / "contacts.csv.rejected.jsonl").read_text().splitlines()
    ]
    assert [r["line"] for r in rejected] == [4, 5, 6, 7, 8]
    assert rejected[1]["problems"] == ["name: Field required"]
    assert rejected[2]["problems"] == ["emails[0]: 'not-an-email' is not a valid email address"]
    assert rejected[3]["problems"] == ["more cells than columns"]
    assert rejected[4]["problems"][0].startswith("debt_cents:")
    assert contact_count(database) == 2

    again = CliRunner().invoke(main, ["contacts", "import", str(source)])
    assert "7 row(s): 0 created, 2 updated, 5 rejected" in again.output
    assert contact_count(database) == 2


def test_jsonl_import_carries_facts_and_survives_junk_lines(database: str, tmp_path: Path) -> None:
    source = tmp_path / "crm.jsonl"
    source.write_text(JSONL, encoding="utf-8")
    rejects = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main, ["contacts", "import", str(source), "--rejects", str(rejects)]
    )
    assert "4 row(s): 1 created, 0 updated, 3 rejected" in result.output
    problems = [json.loads(line)["problems"][0] for line in rejects.read_text().splitlines()]
    assert problems[0].startswith("not JSON")
    assert problems[1] == "not a JSON object"
    assert problems[2].startswith("orders.0.status:")


async def test_import_is_idempotent_on_postgresql(fresh_postgres_url: str, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(CSV, encoding="utf-8")
    await upgrade(fresh_postgres_url)
    async with open_database(fresh_postgres_url) as sessionmaker:
        first = await import_rows(sessionmaker, read_rows(source, "csv"))
        second = await import_rows(sessionmaker, read_rows(source, "csv"), batch=1)
        assert (first.created, second.created, second.updated) == (2, 0, 2)
        assert await ContactRepository(sessionmaker).count() == 2


def test_export_then_erase_from_the_command_line(database: str, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(CSV, encoding="utf-8")
    CliRunner().invoke(main, ["contacts", "import", str(source)])
    exported = CliRunner().invoke(main, ["contacts", "export", "1"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["contact"]["display_name"] == "Ivan Petrov"

    refused = CliRunner().invoke(main, ["contacts", "erase", "1"], input="n\n")
    assert refused.exit_code == 1 and contact_count(database) == 2
    erased = CliRunner().invoke(main, ["contacts", "erase", "1", "--yes"])
    assert erased.exit_code == 0, erased.output
    assert "erased contact 1: 4 identities" in erased.output
    assert contact_count(database) == 1
    missing = CliRunner().invoke(main, ["contacts", "export", "1"])
    assert missing.exit_code == 1 and "no contact 1" in missing.output


def test_generate_fills_an_empty_database_and_refuses_a_full_one(database: str) -> None:
    result = CliRunner().invoke(main, ["contacts", "generate", "120"])
    assert result.exit_code == 0, result.output
    assert contact_count(database) == 120
    again = CliRunner().invoke(main, ["contacts", "generate", "10"])
    assert again.exit_code == 1 and "already has contacts" in again.output

    async def lookup() -> str:
        from cti.contacts.generate import phone_of
        from cti.contacts.identify import identify

        async with open_database(database) as sessionmaker:
            found = await identify(ContactRepository(sessionmaker), phone_of(77))
        return found.candidates[0].display_name

    assert asyncio.run(lookup()).endswith(" 77")
