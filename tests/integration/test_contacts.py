"""Contacts, dossiers, rules, export and erasure against real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cti.contacts.crm import CrmKey
from cti.contacts.dossier import (
    DossierRules,
    DossierService,
    build_dossier_service,
    default_rules,
)
from cti.contacts.facts import Channel, ExternalFacts, InteractionFact, OrderFact, OrderStatus
from cti.contacts.identify import MatchLevel
from cti.contacts.records import ContactIn, ContactPatch, InvalidContact, check_contact
from cti.settings import Settings
from cti.store.contacts import ContactNotFound, ContactRepository
from cti.store.db import Sessionmaker, create_engine, create_reader, create_sessionmaker
from cti.store.fast_reads import PostgresReads
from cti.store.migrate import upgrade
from cti.store.models import AuditEntry, OrderRecord
from cti.store.privacy import erase_contact, export_contact
from cti.store.repositories import CallRepository
from cti.store.rulesets import RuleSetStore
from tests.integration.test_store import finished_call

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

PETROV: dict[str, Any] = {
    "external_id": "CRM-1",
    "name": "Ivan Petrov",
    "language": "ru",
    "phones": ["8 916 123-45-67", "+7 (495) 111-22-33"],
    "emails": ["Ivan.Petrov@Example.org"],
    "lifetime_value_cents": 20_000_000,
    "orders": [
        {
            "number": "1234",
            "status": "ready",
            "amount_cents": 899_000,
            "ready_at": "2026-11-22T10:00:00Z",
        },
        {"number": "1200", "status": "delivered", "placed_at": "2026-10-01T10:00:00Z"},
    ],
    "tickets": [
        {
            "number": "C-7",
            "kind": "complaint",
            "status": "open",
            "severity": "high",
            "subject": "Scratched lid",
            "opened_at": "2026-11-20T09:00:00Z",
        }
    ],
    "purchases": [
        {"product": "ThinkPad X1", "category": "laptop", "purchased_at": "2026-11-01T00:00:00Z"}
    ],
}


@dataclass
class Store:
    sessionmaker: Sessionmaker
    contacts: ContactRepository
    dossiers: DossierService
    rules: RuleSetStore


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    await upgrade(database_url)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    rules = RuleSetStore(sessionmaker)
    wired = build_dossier_service(Settings(), sessionmaker)
    dossiers = replace(wired, rules=DossierRules(rules, refresh=0), clock=lambda: NOW)
    yield Store(sessionmaker, dossiers.contacts, dossiers, rules)
    await dossiers.aclose()
    await engine.dispose()


async def add(store: Store, data: dict[str, Any]) -> int:
    return await store.contacts.save(check_contact(ContactIn, data), source="test")


async def test_the_dossier_of_a_known_caller(store: Store) -> None:
    contact_id = await add(store, PETROV)
    await store.contacts.add_interaction(
        contact_id,
        InteractionFact(NOW - 2 * DAY, Channel.EMAIL, reason="complaint", agent="alice"),
    )
    await store.contacts.add_note(contact_id, "bob", "Prefers delivery after 18:00.")

    view = await store.dossiers.for_caller("8 916 123-45-67")
    assert view.identification.level is MatchLevel.EXACT
    assert view.dossier is not None
    dossier = view.dossier.to_dict()
    assert dossier["contact"]["name"] == "Ivan Petrov"
    assert dossier["contact"]["tier"] == "gold"
    assert dossier["contact"]["phones"] == ["+79161234567", "+74951112233"]
    assert [o["number"] for o in dossier["open_orders"]] == ["1234"]
    assert [r["id"] for r in dossier["reasons"]] == ["order_ready", "complaint", "follow_up"]
    assert dossier["reasons"][0]["why"] == "Order 1234 is ready since 2026-11-22"
    assert dossier["rescue"]["flag"] is True
    assert [h["id"] for h in dossier["hints"]] == ["offer_delivery", "laptop_accessories"]
    assert dossier["last_by_channel"]["email"]["agent"] == "alice"
    assert dossier["notes"][0]["body"] == "Prefers delivery after 18:00."
    assert dossier["sources"] == {"local": "ok"}


async def test_a_shared_number_lists_candidates_without_guessing_a_dossier(store: Store) -> None:
    await add(store, PETROV)
    await add(store, {"name": "Petrova Olga", "phones": ["+74951112233"]})
    view = await store.dossiers.for_caller("84951112233")
    assert view.identification.level is MatchLevel.EXACT
    assert len(view.identification.candidates) == 2
    assert view.dossier is None


@pytest.mark.parametrize("raw", ["anonymous", "", None, "<unknown>", "+7 (999) ЖЖЖ", "1" * 64])
async def test_junk_caller_ids_are_a_stranger(store: Store, raw: str | None) -> None:
    view = await store.dossiers.for_caller(raw)
    assert view.identification.level is MatchLevel.NONE and view.dossier is None


async def test_a_change_replaces_the_lists_it_names_and_keeps_the_rest(store: Store) -> None:
    contact_id = await add(store, PETROV)
    patch = check_contact(ContactPatch, {"phones": ["+79035550102"], "orders": []})
    await store.contacts.save(patch, contact_id=contact_id)
    contact = await store.contacts.get(contact_id)
    assert contact is not None
    assert contact["phones"] == ["+79035550102"]
    assert contact["emails"] == ["ivan.petrov@example.org"]
    assert contact["name"] == "Ivan Petrov"
    loaded = await store.contacts.load(contact_id)
    assert loaded is not None and loaded.facts.orders == ()
    assert len(loaded.facts.tickets) == 1
    with pytest.raises(ContactNotFound):
        await store.contacts.save(patch, contact_id=contact_id + 1000)


async def test_an_order_number_moves_to_the_contact_that_now_holds_it(store: Store) -> None:
    first = await add(store, PETROV)
    second = await add(
        store, {"name": "Anna Popova", "orders": [{"number": "1234", "status": "new"}]}
    )
    async with store.sessionmaker() as session:
        owner = await session.scalar(
            select(OrderRecord.contact_id).where(OrderRecord.number == "1234")
        )
    assert owner == second != first


async def test_search_by_name_phone_in_any_format_and_email_with_pages(store: Store) -> None:
    ids = [
        await add(store, {"name": f"Petrov {n}", "phones": [f"+7916000000{n}"]}) for n in range(5)
    ]
    await add(store, {"name": "Smirnova", "emails": ["olga@example.org"]})
    first = await store.contacts.search("petrov", limit=3)
    assert [c["id"] for c in first] == ids[:3]
    rest = await store.contacts.search("PETROV", limit=3, after=first[-1]["id"])
    assert [c["id"] for c in rest] == ids[3:]
    assert [c["id"] for c in await store.contacts.search("8 916 000-00-02")] == [ids[2]]
    assert [c["name"] for c in await store.contacts.search("Olga@Example.org")] == ["Smirnova"]
    assert await store.contacts.search("%") == []


def test_bad_fields_are_named() -> None:
    with pytest.raises(InvalidContact) as caught:
        check_contact(
            ContactIn,
            {
                "name": "X",
                "phones": ["+79161234567", "12345"],
                "emails": ["a@b@c"],
                "debt_cents": -5,
            },
        )
    problems = caught.value.problems
    assert "phones[1]: '12345' is not a valid phone number" in problems
    assert "emails[0]: 'a@b@c' is not a valid email address" in problems
    assert any(p.startswith("debt_cents:") for p in problems)


async def test_saved_rules_take_over_and_a_rollback_brings_the_old_back(store: Store) -> None:
    contact_id = await add(store, PETROV)
    document = default_rules().model_dump(mode="json", by_alias=True, exclude_none=True)
    document["hints"] = [
        {
            "id": "vip",
            "when": {"field": "valuable", "eq": True},
            "text": "A {contact.tier} customer",
        }
    ]
    assert await store.rules.save("dossier", document, author="admin", comment="vip only") == 1
    built = await store.dossiers.build(contact_id)
    assert built is not None and built.rules_version == 1
    assert built.verdict.hints == (("vip", "A gold customer"),)

    old = default_rules().model_dump(mode="json", by_alias=True, exclude_none=True)
    assert await store.rules.save("dossier", old, author="admin", comment="back") == 2
    built = await store.dossiers.build(contact_id)
    assert built is not None and built.verdict.hints[0][0] == "offer_delivery"
    history = await store.rules.history("dossier")
    assert [(v["version"], v["author"]) for v in history] == [(2, "admin"), (1, "admin")]


async def test_a_crm_adds_facts_and_wins_for_an_order_it_knows(store: Store) -> None:
    contact_id = await add(store, PETROV)

    class Crm:
        def __init__(self) -> None:
            self.keys: list[CrmKey] = []

        async def fetch(self, key: CrmKey) -> ExternalFacts | None:
            self.keys.append(key)
            return ExternalFacts(
                debt_cents=5_000, orders=(OrderFact("1234", OrderStatus.DELIVERED),)
            )

    crm = Crm()
    service = DossierService(store.contacts, store.dossiers.rules, crm=crm, clock=lambda: NOW)
    built = await service.build(contact_id)
    assert built is not None
    assert crm.keys[0].external_id == "CRM-1"
    assert [r.id for r in built.verdict.reasons][:2] == ["complaint", "debt"]
    assert built.facts.sources == {"local": "ok", "crm": "ok"}


async def test_export_holds_everything_and_erase_keeps_only_anonymous_statistics(
    store: Store,
) -> None:
    contact_id = await add(store, PETROV)
    await add(store, {"name": "Someone else", "phones": ["+79035550102"]})
    calls = CallRepository(store.sessionmaker)
    await calls.save_many(
        [
            finished_call(1, caller_num="89161234567", caller_name="PETROV"),
            finished_call(2, caller_num="+79035550102"),
        ]
    )

    export = await export_contact(store.sessionmaker, contact_id, actor="admin")
    assert export is not None
    assert export["contact"]["display_name"] == "Ivan Petrov"
    assert {i["value"] for i in export["identities"]} >= {"+79161234567", "ivan.petrov@example.org"}
    assert [o["number"] for o in export["orders"]] == ["1234", "1200"]
    first, second = (finished_call(n)["linkedid"] for n in (1, 2))
    assert [c["linkedid"] for c in export["calls"]] == [first]

    counts = await erase_contact(store.sessionmaker, contact_id, actor="admin")
    assert counts is not None and counts["orders"] == 2 and counts["calls_anonymised"] == 1
    assert await store.contacts.get(contact_id) is None
    assert (await store.dossiers.for_caller("+79161234567")).identification.level is MatchLevel.NONE
    kept = await calls.get(first)
    assert kept is not None
    assert (kept["caller_num"], kept["caller_name"], kept["queue"]) == (None, None, "sales")
    other = await calls.get(second)
    assert other is not None and other["caller_num"] == "+79035550102"
    async with store.sessionmaker() as session:
        audit = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(a.action, a.target) for a in audit] == [
        ("contact.export", f"contact:{contact_id}"),
        ("contact.erase", f"contact:{contact_id}"),
    ]
    assert "Petrov" not in str([a.details for a in audit])
    assert await erase_contact(store.sessionmaker, contact_id, actor="admin") is None


async def test_the_hot_read_path_survives_a_database_that_dropped_its_connections(
    fresh_postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncpg

    await upgrade(fresh_postgres_url)
    engine = create_engine(fresh_postgres_url)
    reader = create_reader(fresh_postgres_url)
    assert reader is not None
    contacts = ContactRepository(create_sessionmaker(engine), fast=PostgresReads(reader))
    try:
        contact_id = await contacts.save(check_contact(ContactIn, PETROV))
        assert [c.contact_id for c in await contacts.by_phone("+79161234567")] == [contact_id]
        name = make_url(fresh_postgres_url).database
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                name,
            )
        finally:
            await admin.close()
        assert killed >= 1
        caplog.set_level("INFO", logger="cti.store")
        assert [c.contact_id for c in await contacts.by_phone("+79161234567")] == [contact_id]
        assert "connection had died" in caplog.text
        loaded = await contacts.load(contact_id)
        assert loaded is not None and loaded.facts.display_name == "Ivan Petrov"
    finally:
        await reader.dispose()
        await engine.dispose()


async def test_every_demo_caller_has_a_story_and_seeding_twice_adds_nothing(store: Store) -> None:
    from cti.demo import DEMO_CALLERS, seed_contacts

    assert await seed_contacts(store.sessionmaker, NOW) == 8
    assert await seed_contacts(store.sessionmaker, NOW) == 0
    top = {}
    for number, _ in DEMO_CALLERS:
        view = await store.dossiers.for_caller(number)
        if view.dossier is not None:
            reasons = view.dossier.verdict.reasons
            top[view.dossier.facts.display_name] = (
                reasons[0].id if reasons else None,
                bool(view.dossier.verdict.rescue),
                [hint for hint, _ in view.dossier.verdict.hints],
            )
    assert top == {
        "Ivan Petrov": ("order_ready", False, ["offer_delivery", "laptop_accessories"]),
        "Olga Smirnova": ("delivery_late", False, []),
        "Sergey Kuznetsov": ("complaint", True, []),
        "Anna Popova": ("debt", False, []),
        "Dmitry Volkov": ("order_status", False, ["phone_accessories"]),
        "Elena Sokolova": ("delivery_failed", True, []),
        "Mikhail Lebedev": (None, False, []),
        "Natalia Kozlova": (None, False, []),
    }
