"""Caller identification against a real database: exact, by last digits, shared, junk."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cti.contacts.identify import MatchLevel, identify
from cti.store.contacts import ContactRepository
from cti.store.db import create_engine, create_sessionmaker
from cti.store.migrate import upgrade

pytestmark = pytest.mark.integration


@pytest.fixture
async def contacts(database_url: str) -> AsyncIterator[ContactRepository]:
    url = database_url
    await upgrade(url)
    engine = create_engine(url)
    repo = ContactRepository(create_sessionmaker(engine))
    await repo.create("Ivan Petrov", phones=["+79161234567"], emails=["Ivan@Example.org"])
    await repo.create("Petrov family", phones=["+74951112233"])
    await repo.create("Olga Petrova", phones=["+74951112233", "+79035550102"])
    yield repo
    await engine.dispose()


@pytest.mark.parametrize("raw", ["+79161234567", "8 916 123-45-67", "79161234567", "9161234567"])
async def test_exact_in_every_format(contacts: ContactRepository, raw: str) -> None:
    found = await identify(contacts, raw)
    assert found.level is MatchLevel.EXACT
    assert [c.display_name for c in found.candidates] == ["Ivan Petrov"]


async def test_a_shared_number_lists_every_candidate(contacts: ContactRepository) -> None:
    found = await identify(contacts, "+7 (495) 111-22-33")
    assert found.level is MatchLevel.EXACT
    assert [c.display_name for c in found.candidates] == ["Petrov family", "Olga Petrova"]


async def test_last_digits_when_the_prefix_was_mangled(contacts: ContactRepository) -> None:
    found = await identify(contacts, "+79261234567")
    assert found.level is MatchLevel.SUFFIX
    assert [c.matched for c in found.candidates] == ["+79161234567"]


@pytest.mark.parametrize("raw", ["anonymous", "<unknown>", "", "x" * 500, "+79998887766"])
async def test_junk_and_strangers_match_nobody(contacts: ContactRepository, raw: str) -> None:
    found = await identify(contacts, raw)
    assert found.level is MatchLevel.NONE and found.candidates == []
    assert found.to_dict()["match"] == "none"
