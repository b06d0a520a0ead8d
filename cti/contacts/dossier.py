"""The dossier: a compact summary of one contact for the screen-pop and the IVR.

Built from our own tables, topped up by the site's CRM within a time budget, and read
through the admin's rules (``cti.contacts.rules``) for likely reasons, service rescue
and upsell hints.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from cti.contacts.crm import CrmKey, CrmSource, crm_source_from_settings, with_crm
from cti.contacts.facts import (
    ContactFacts,
    DeliveryFact,
    InteractionFact,
    OrderFact,
    TicketFact,
    booked_orders,
)
from cti.contacts.identify import Identification, MatchLevel, identify
from cti.contacts.phone import DEFAULT_RULES, PhoneRules
from cti.contacts.rules import Evaluator, RuleSet, Verdict, parse_rules
from cti.settings import Settings
from cti.store.contacts import ContactRepository
from cti.store.db import Sessionmaker, create_reader, sqlite_path
from cti.store.fast_reads import FastReads, PostgresReads, SqliteReads
from cti.store.rulesets import LiveDocument, RuleSetStore

log = logging.getLogger(__name__)

RULES_NAME = "dossier"
SHOWN = 5
"""How many items of each list the dossier carries."""


def default_rules() -> RuleSet:
    """The rules shipped with the server, in force until an admin saves their own."""
    text = resources.files("cti.contacts").joinpath("default_rules.json").read_text("utf-8")
    return parse_rules(json.loads(text))


class DossierRules(LiveDocument[Evaluator]):
    """The dossier rules in force: the newest saved version, else the shipped defaults."""

    def __init__(
        self,
        store: RuleSetStore | None,
        *,
        refresh: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            store,
            RULES_NAME,
            lambda body: Evaluator(parse_rules(body)),
            Evaluator(default_rules()),
            refresh=refresh,
            clock=clock,
        )


@dataclass(frozen=True, slots=True)
class Dossier:
    """The summary; ``to_dict`` is what the API and the pops send."""

    facts: ContactFacts
    verdict: Verdict
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    rules_version: int
    built_at: datetime
    build_ms: float
    do_not_call: tuple[str, ...] = ()
    """Phones the contact asked not to be called on (click-to-call refuses them)."""

    @property
    def top_reason(self) -> str | None:
        return self.verdict.reasons[0].id if self.verdict.reasons else None

    def to_dict(self) -> dict[str, Any]:
        facts, verdict, now = self.facts, self.verdict, self.built_at
        booked = booked_orders(facts.deliveries)
        latest_by_channel: dict[str, dict[str, Any]] = {}
        for interaction in facts.interactions:
            latest_by_channel.setdefault(interaction.channel.value, _interaction(interaction))
        return {
            "contact": {
                "id": facts.contact_id,
                "name": facts.display_name,
                "language": facts.language,
                "tier": verdict.tier,
                "valuable": verdict.valuable,
                "lifetime_value_cents": facts.lifetime_value_cents,
                "debt_cents": facts.debt_cents,
                "phones": list(self.phones),
                "do_not_call": list(self.do_not_call),
                "emails": list(self.emails),
            },
            "open_orders": [_order(o, booked) for o in facts.orders if o.open][:SHOWN],
            "deliveries": [_delivery(d, now) for d in facts.deliveries][:SHOWN],
            "open_tickets": [_ticket(t) for t in facts.tickets if t.open][:SHOWN],
            "last_contacts": [_interaction(i) for i in facts.interactions[:SHOWN]],
            "last_by_channel": latest_by_channel,
            "notes": [
                {"at": n.at.isoformat(), "author": n.author, "body": n.body} for n in facts.notes
            ],
            "reasons": [
                {
                    "id": r.id,
                    "label": r.label,
                    "score": r.score,
                    "why": r.why,
                    "about": {name: _plain(item) for name, item in r.about.items()},
                }
                for r in verdict.reasons
            ],
            "rescue": {"flag": bool(verdict.rescue), "why": list(verdict.rescue)},
            "hints": [{"id": hint_id, "text": text} for hint_id, text in verdict.hints],
            "sources": dict(facts.sources),
            "rules_version": self.rules_version,
            "built_at": now.isoformat(),
            "build_ms": round(self.build_ms, 2),
        }


@dataclass(frozen=True, slots=True)
class CallerView:
    """Who is calling and, when that is one contact, their dossier."""

    identification: Identification
    dossier: Dossier | None = None

    def to_dict(self) -> dict[str, Any]:
        view = self.identification.to_dict()
        view["dossier"] = self.dossier.to_dict() if self.dossier is not None else None
        return view


@dataclass
class DossierService:
    """Builds dossiers; never raises on a slow CRM or a junk caller ID."""

    contacts: ContactRepository
    rules: DossierRules
    crm: CrmSource | None = None
    crm_budget: float = 0.3
    phone_rules: PhoneRules = DEFAULT_RULES
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """What ``aclose`` releases: the CRM client, the read engine."""

    async def build(self, contact_id: int) -> Dossier | None:
        """The dossier of one contact, None when there is no such contact."""
        started = time.perf_counter()
        loaded = await self.contacts.load(contact_id)
        if loaded is None:
            return None
        facts = loaded.facts
        if self.crm is not None:
            key = CrmKey(contact_id, loaded.external_id, loaded.phones, loaded.emails)
            facts = await with_crm(facts, self.crm, key, self.crm_budget)
        evaluator = await self.rules.current()
        now = self.clock()
        verdict = evaluator.evaluate(facts, now)
        return Dossier(
            facts=facts,
            verdict=verdict,
            phones=loaded.phones,
            emails=loaded.emails,
            do_not_call=loaded.do_not_call,
            rules_version=self.rules.version,
            built_at=now,
            build_ms=(time.perf_counter() - started) * 1000,
        )

    async def for_caller(self, raw: str | None) -> CallerView:
        """Identify a caller ID; build the dossier when it names exactly one contact."""
        found = await identify(self.contacts, raw, self.phone_rules)
        contact_ids = {c.contact_id for c in found.candidates}
        if found.level is MatchLevel.NONE or len(contact_ids) != 1:
            return CallerView(found)
        return CallerView(found, await self.build(contact_ids.pop()))

    async def aclose(self) -> None:
        """Release what this service owns."""
        for close in self.closers:
            await close()


def build_dossier_service(settings: Settings, sessionmaker: Sessionmaker) -> DossierService:
    """The dossier service the settings describe: our tables, the rules store, the CRM."""
    bound = sessionmaker.kw.get("bind")
    url = bound.url if bound is not None else settings.database.url
    path = sqlite_path(url)
    reader = create_reader(url)
    fast: FastReads | None = None
    if path is not None:
        fast = SqliteReads(path)
    elif reader is not None:
        fast = PostgresReads(reader)
    crm = crm_source_from_settings(settings.crm)
    closers: list[Callable[[], Awaitable[None]]] = []
    if fast is not None:
        closers.append(fast.close)
    if crm is not None:
        closers.append(crm.aclose)
    return DossierService(
        contacts=ContactRepository(sessionmaker, fast=fast),
        rules=DossierRules(RuleSetStore(sessionmaker)),
        closers=closers,
        crm=crm,
        crm_budget=settings.crm.budget_ms / 1000,
        phone_rules=PhoneRules(
            region=settings.contacts.region, outside_prefix=settings.contacts.outside_prefix
        ),
    )


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in item.items()}


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _order(order: OrderFact, booked: set[str]) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status.value,
        "amount_cents": order.amount_cents,
        "placed_at": _when(order.placed_at),
        "ready_at": _when(order.ready_at),
        "due_at": _when(order.due_at),
        "delivery_booked": order.number in booked,
    }


def _delivery(delivery: DeliveryFact, now: datetime) -> dict[str, Any]:
    return {
        "order_number": delivery.order_number,
        "status": delivery.status.value,
        "eta": _when(delivery.eta),
        "delivered_at": _when(delivery.delivered_at),
        "late": delivery.late(now),
    }


def _ticket(ticket: TicketFact) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "kind": ticket.kind.value,
        "status": ticket.status.value,
        "severity": ticket.severity.value,
        "subject": ticket.subject,
        "opened_at": _when(ticket.opened_at),
    }


def _interaction(interaction: InteractionFact) -> dict[str, Any]:
    return {
        "at": interaction.at.isoformat(),
        "channel": interaction.channel.value,
        "direction": interaction.direction,
        "reason": interaction.reason,
        "agent": interaction.agent,
        "summary": interaction.summary,
        "outcome": interaction.outcome,
    }
