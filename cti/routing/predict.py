"""One likely reason for a call, with how sure it is and why.

What the caller chose in the IVR counts most (said rather than keyed, a little less); a
choice that says nothing about why ("a person, please", no choice at all) leaves the
reason to the dossier's ranked reasons and the customer's recent contacts on any
channel. A choice the dossier also predicts is surer still.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cti.contacts.dossier import Dossier

GENERIC = frozenset({"operator", "no_choice"})
"""IVR outcomes that say nothing about why the customer calls."""
RECENT = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Prediction:
    reason: str | None
    confidence: float
    why: str

    def describe(self) -> str:
        if self.reason is None:
            return "reason unknown"
        return f"reason {self.reason} ({self.confidence:.2f}: {self.why})"


def predict_reason(
    chosen: str | None, dossier: Dossier | None, now: datetime, *, spoken: bool = False
) -> Prediction:
    """The call's likely reason from the IVR choice, the dossier and recent contacts."""
    known: dict[str, tuple[float, str]] = {}
    if dossier is not None:
        for likely in dossier.verdict.reasons:
            known.setdefault(likely.id, (0.9 * likely.score / 100, likely.why))
        for contact in dossier.facts.interactions:
            if contact.reason and now - contact.at <= RECENT:
                why = f"{contact.channel.value} on {contact.at:%Y-%m-%d} about {contact.reason}"
                known.setdefault(contact.reason, (0.6, why))
                break
    if chosen and chosen not in GENERIC:
        how = "said in the IVR" if spoken else "chosen in the IVR"
        confidence = 0.85 if spoken else 0.95
        if chosen in known:
            return Prediction(chosen, min(0.99, confidence + 0.04), f"{how}; {known[chosen][1]}")
        return Prediction(chosen, confidence, how)
    if known:
        best, (confidence, why) = max(known.items(), key=lambda item: item[1][0])
        return Prediction(best, round(confidence, 2), why)
    return Prediction(None, 0.0, "nothing chosen and nothing on file")
