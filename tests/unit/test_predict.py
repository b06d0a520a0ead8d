"""One likely reason per call: the IVR choice first, else the dossier and recent contacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cti.contacts.dossier import Dossier, default_rules
from cti.contacts.facts import (
    Channel,
    ContactFacts,
    InteractionFact,
    OrderFact,
    OrderStatus,
)
from cti.contacts.rules import Evaluator
from cti.routing.predict import predict_reason

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def dossier(**facts: object) -> Dossier:
    contact = ContactFacts(contact_id=1, display_name="Ivan", **facts)  # type: ignore[arg-type]
    verdict = Evaluator(default_rules()).evaluate(contact, NOW)
    return Dossier(contact, verdict, (), (), 0, NOW, 0.0)


READY = {"orders": (OrderFact("1234", OrderStatus.READY, ready_at=NOW),)}


def test_a_choice_the_dossier_agrees_with_is_surest() -> None:
    p = predict_reason("order_ready", dossier(**READY), NOW)
    assert (p.reason, p.confidence) == ("order_ready", 0.99)
    assert p.why.startswith("chosen in the IVR; Order 1234 is ready")


def test_a_spoken_choice_counts_a_little_less() -> None:
    assert predict_reason("debt", None, NOW, spoken=True).confidence == 0.85
    assert predict_reason("debt", None, NOW).confidence == 0.95


@pytest.mark.parametrize("chosen", ["operator", "no_choice", None])
def test_asking_for_a_person_leaves_the_reason_to_the_dossier(chosen: str | None) -> None:
    p = predict_reason(chosen, dossier(**READY), NOW)
    assert (p.reason, p.confidence) == ("order_ready", 0.81)


def test_a_recent_contact_on_another_channel_is_a_reason_too() -> None:
    sms = InteractionFact(NOW - timedelta(days=1), Channel.SMS, reason="delivery_late")
    p = predict_reason("operator", dossier(interactions=(sms,)), NOW)
    assert p.reason == "delivery_late" and p.why == "sms on 2026-11-22 about delivery_late"


def test_nothing_known_is_said_plainly() -> None:
    p = predict_reason("operator", None, NOW)
    assert (p.reason, p.describe()) == (None, "reason unknown")
