"""Dossier rules: checked before they are saved, evaluated without executing anything."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cti.contacts.dossier import default_rules
from cti.contacts.facts import (
    Channel,
    ContactFacts,
    DeliveryFact,
    DeliveryStatus,
    InteractionFact,
    OrderFact,
    OrderStatus,
    PurchaseFact,
    TicketFact,
    TicketKind,
    TicketStatus,
)
from cti.contacts.rules import Evaluator, RuleError, parse_rules

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def facts(**kw: Any) -> ContactFacts:
    return ContactFacts(contact_id=1, display_name="Ivan Petrov", **kw)


def verdict(**kw: Any) -> Any:
    return Evaluator(default_rules()).evaluate(facts(**kw), NOW)


def test_a_ready_order_without_delivery_is_the_top_reason_and_offers_delivery() -> None:
    v = verdict(orders=(OrderFact("1234", OrderStatus.READY, ready_at=NOW - DAY),))
    assert v.reasons[0].id == "order_ready"
    assert v.reasons[0].why == "Order 1234 is ready since 2026-11-22"
    assert ("offer_delivery", "Order 1234 is ready and no delivery is booked: offer delivery") in (
        v.hints
    )


def test_a_booked_delivery_silences_the_delivery_hint() -> None:
    v = verdict(
        orders=(OrderFact("1234", OrderStatus.READY),),
        deliveries=(DeliveryFact(DeliveryStatus.SCHEDULED, "1234", eta=NOW + DAY),),
    )
    assert [h for h, _ in v.hints] == []


def test_reasons_are_ranked_late_delivery_before_debt() -> None:
    v = verdict(
        debt_cents=150_000,
        deliveries=(DeliveryFact(DeliveryStatus.IN_TRANSIT, "77", eta=NOW - 2 * DAY),),
    )
    assert [r.id for r in v.reasons] == ["delivery_late", "debt"]
    assert v.reasons[1].why == "Owes 1 500.00"


def test_a_valuable_customer_with_a_complaint_needs_rescue() -> None:
    complaint = TicketFact(
        "C-9",
        TicketKind.COMPLAINT,
        TicketStatus.OPEN,
        subject="Broken screen",
        opened_at=NOW - 3 * DAY,
    )
    v = verdict(lifetime_value_cents=20_000_000, tickets=(complaint,))
    assert v.tier == "gold" and v.valuable
    assert v.rescue == ("A gold customer with a complaint in the last 90 days",)
    assert v.reasons[0].why == "Complaint C-9 is open: Broken screen"
    assert verdict(lifetime_value_cents=100, tickets=(complaint,)).rescue == ()


def test_repeated_failed_deliveries_need_rescue_whatever_the_tier() -> None:
    failed = tuple(DeliveryFact(DeliveryStatus.FAILED, str(n), eta=NOW - n * DAY) for n in (2, 5))
    assert verdict(deliveries=failed).rescue == ("Repeated failures in the last 60 days",)


def test_upsell_follows_the_purchase_category() -> None:
    laptop = PurchaseFact("ThinkPad X1", "laptop", purchased_at=NOW - 10 * DAY)
    v = verdict(purchases=(laptop,))
    assert v.hints == (
        ("laptop_accessories", "Bought ThinkPad X1: offer a dock, a bag and screen wipes"),
    )


def test_a_recent_contact_is_a_follow_up() -> None:
    sms = InteractionFact(NOW - DAY, Channel.SMS, reason="delivery_late")
    v = verdict(interactions=(sms,))
    assert v.reasons[0].id == "follow_up"
    assert v.reasons[0].why == "Contacted us by sms on 2026-11-22 about delivery_late"


def test_a_stranger_with_no_facts_has_no_reason() -> None:
    v = verdict()
    assert (v.tier, v.reasons, v.rescue, v.hints) == ("standard", (), (), ())


def _one_reason(when: Any, why: str = "x") -> dict[str, Any]:
    return {"reasons": [{"id": "r", "label": "R", "score": 10, "when": when, "why": why}]}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (_one_reason({"exists": "order"}), "unknown collection 'order'"),
        (_one_reason({"exists": "orders", "where": {"colour": "red"}}), "unknown field"),
        (_one_reason({"exists": "orders", "where": {"status": "lost"}}), "'lost' is not one of"),
        (_one_reason({"exists": "orders", "where": {"due_at": {"gt": 5}}}), "does not apply"),
        (_one_reason({"field": "__class__", "eq": 1}), "unknown contact field"),
        (_one_reason({"field": "debt_cents", "gt": "1; DROP TABLE"}), "is not a valid value"),
        (_one_reason({"exec": "os.system('x')"}), "a condition is one of"),
        (_one_reason({"exists": "orders"}, "{order.__class__}"), "unknown placeholder"),
        (_one_reason({"not": {"exists": "orders"}}, "{order.number}"), "needs an 'exists'"),
        ({"valuable_tiers": ["gold"]}, "unknown tier 'gold'"),
        ({"reasons": [{"id": "Bad Id", "label": "x", "score": 1, "when": {}, "why": ""}]}, "id"),
    ],
)
def test_bad_documents_are_refused_naming_the_place(document: Any, problem: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(document)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_two_rules_with_one_id_are_refused() -> None:
    document = default_rules().model_dump(by_alias=True, exclude_none=True)
    document["hints"].append(copy.deepcopy(document["hints"][0]))
    with pytest.raises(RuleError, match="used twice"):
        parse_rules(document)


def test_the_defaults_round_trip_through_their_json_form() -> None:
    document = default_rules().model_dump(mode="json", by_alias=True, exclude_none=True)
    assert parse_rules(document) == default_rules()
