"""One likely reason for a call, with how sure it is and why.

Every source of evidence votes for a reason with a weight between 0 and 1:

========================================  =============================================
the caller keyed a choice in the IVR      0.90
the caller said it (speech)               0.85 × the recogniser's confidence
the dossier's ranked reasons              0.80 × the rule's score / 100
a contact on any channel in the last      0.60 within a day, then less, down to 0.30
3 days with a known reason                at three days
========================================  =============================================

Votes for one reason combine as independent evidence ("noisy OR"): the confidence is
``1 - (1 - w1)(1 - w2)...``, so agreeing sources make a reason surer than any one of
them, and no amount of weak evidence reaches certainty. The reason with the highest
confidence wins; its explanation names the evidence, strongest first. A choice that
says nothing about why ("a person, please", no choice at all) is no vote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cti.contacts.dossier import Dossier

GENERIC = frozenset({"operator", "no_choice"})
"""IVR outcomes that say nothing about why the customer calls."""
RECENT = timedelta(days=3)
KEYED = 0.90
SPOKEN = 0.85
DOSSIER = 0.80
RECENT_NEW, RECENT_OLD = 0.60, 0.30


@dataclass(frozen=True, slots=True)
class Prediction:
    reason: str | None
    confidence: float
    why: str
    ranked: tuple[tuple[str, float], ...] = field(default=())
    """Every reason with evidence, surest first (the winner included)."""

    def describe(self) -> str:
        if self.reason is None:
            return "reason unknown"
        return f"reason {self.reason} ({self.confidence:.2f}: {self.why})"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.reason,
            "confidence": self.confidence,
            "why": self.why,
            "ranked": [{"id": r, "confidence": c} for r, c in self.ranked],
        }


def predict_reason(
    chosen: str | None,
    dossier: Dossier | None,
    now: datetime,
    *,
    spoken: bool = False,
    speech_confidence: float | None = None,
) -> Prediction:
    """The call's likely reason from the IVR choice, speech, the dossier and recent contacts."""
    votes: dict[str, list[tuple[float, str]]] = {}

    def vote(reason: str, weight: float, why: str) -> None:
        votes.setdefault(reason, []).append((max(0.0, min(weight, 0.99)), why))

    if chosen and chosen not in GENERIC:
        if spoken:
            heard = 1.0 if speech_confidence is None else speech_confidence
            vote(chosen, SPOKEN * heard, "said in the IVR")
        else:
            vote(chosen, KEYED, "chosen in the IVR")
    if dossier is not None:
        for likely in dossier.verdict.reasons:
            vote(likely.id, DOSSIER * likely.score / 100, likely.why)
        for contact in dossier.facts.interactions:
            age = now - contact.at
            if contact.reason and age <= RECENT:
                fade = max(0.0, age / RECENT - 1 / 3) * 1.5
                weight = RECENT_NEW - (RECENT_NEW - RECENT_OLD) * min(1.0, fade)
                vote(
                    contact.reason,
                    weight,
                    f"{contact.channel.value} on {contact.at:%Y-%m-%d} about {contact.reason}",
                )
    if not votes:
        return Prediction(None, 0.0, "nothing chosen and nothing on file")
    ranked = sorted(
        ((reason, _combine(weights)) for reason, weights in votes.items()),
        key=lambda item: -item[1],
    )
    best, confidence = ranked[0]
    evidence = sorted(votes[best], key=lambda item: -item[0])
    why = "; ".join(dict.fromkeys(text for _, text in evidence))
    return Prediction(best, confidence, why, tuple(ranked))


def _combine(votes: list[tuple[float, str]]) -> float:
    doubt = 1.0
    for weight, _ in votes:
        doubt *= 1.0 - weight
    return round(1.0 - doubt, 2)
