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


def test_a_choice_the_dossier_agrees_with_is_surer_than_either() -> None:
    p = predict_reason("order_ready", dossier(**READY), NOW)
    # keyed 0.90 and the dossier's rule (score 90: 0.72) agree: 1 - 0.10 * 0.28
    assert (p.reason, p.confidence) == ("order_ready", 0.97)
    assert p.why.startswith("chosen in the IVR; Order 1234 is ready")


def test_a_spoken_choice_counts_by_how_well_it_was_heard() -> None:
    assert predict_reason("debt", None, NOW).confidence == 0.9
    assert predict_reason("debt", None, NOW, spoken=True).confidence == 0.85
    heard = predict_reason("debt", None, NOW, spoken=True, speech_confidence=0.5)
    assert (heard.confidence, heard.why) == (0.43, "said in the IVR")


@pytest.mark.parametrize("chosen", ["operator", "no_choice", None])
def test_asking_for_a_person_leaves_the_reason_to_the_dossier(chosen: str | None) -> None:
    p = predict_reason(chosen, dossier(**READY), NOW)
    assert (p.reason, p.confidence) == ("order_ready", 0.72)


def test_a_recent_contact_on_another_channel_is_a_reason_too() -> None:
    sms = InteractionFact(NOW - timedelta(hours=20), Channel.SMS, reason="delivery_late")
    p = predict_reason("operator", dossier(interactions=(sms,)), NOW)
    assert (p.reason, p.confidence) == ("delivery_late", 0.6)
    assert p.why == "sms on 2026-11-22 about delivery_late"


def test_older_contacts_count_less_and_agreeing_ones_add_up() -> None:
    old = InteractionFact(NOW - timedelta(days=3), Channel.EMAIL, reason="debt")
    assert ("debt", 0.3) in predict_reason(None, dossier(interactions=(old,)), NOW).ranked
    new = InteractionFact(NOW - timedelta(hours=2), Channel.SMS, reason="debt")
    both = predict_reason(None, dossier(interactions=(new, old)), NOW)
    assert both.confidence == 0.72  # 1 - 0.4 * 0.7


def test_a_weak_choice_can_lose_to_strong_evidence_and_all_are_ranked() -> None:
    sms = InteractionFact(NOW - timedelta(hours=1), Channel.SMS, reason="order_ready")
    p = predict_reason(
        "debt", dossier(interactions=(sms,), **READY), NOW, spoken=True, speech_confidence=0.4
    )
    assert p.reason == "order_ready" and p.confidence == 0.89
    assert [r for r, _ in p.ranked][:2] == ["order_ready", "debt"]
    assert p.to_dict()["ranked"][0] == {"id": "order_ready", "confidence": 0.89}


def test_nothing_known_is_said_plainly() -> None:
    p = predict_reason("operator", None, NOW)
    assert (p.reason, p.describe()) == (None, "reason unknown")
