"""Who is calling: a raw caller ID to the matching contacts, with how sure the match is."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from cti.contacts.phone import DEFAULT_RULES, PhoneNumber, PhoneRules, normalize_phone, suffix

SUFFIX_DIGITS = 7


class MatchLevel(StrEnum):
    """``exact``: the E.164 number is on file; ``suffix``: only its last digits are."""

    EXACT = "exact"
    SUFFIX = "suffix"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A contact that may be the caller."""

    contact_id: int
    display_name: str
    matched: str


@dataclass(frozen=True, slots=True)
class Identification:
    """The answer to "who is calling", every candidate listed when a number is shared."""

    number: PhoneNumber
    level: MatchLevel
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.number.raw,
            "number": self.number.e164,
            "problem": self.number.problem.value if self.number.problem else None,
            "match": self.level.value,
            "candidates": [
                {"id": c.contact_id, "display_name": c.display_name, "matched": c.matched}
                for c in self.candidates
            ],
        }


class PhoneDirectory(Protocol):
    """Where identities are looked up (the contact repository)."""

    async def by_phone(self, e164: str) -> list[Candidate]: ...

    async def by_phone_suffix(self, digits: str) -> list[Candidate]: ...


async def identify(
    directory: PhoneDirectory, raw: str | None, rules: PhoneRules = DEFAULT_RULES
) -> Identification:
    """Exact E.164 first, then the last digits; junk and anonymous numbers match nobody."""
    number = normalize_phone(raw, rules)
    if number.e164 is None:
        return Identification(number, MatchLevel.NONE)
    exact = await directory.by_phone(number.e164)
    if exact:
        return Identification(number, MatchLevel.EXACT, exact)
    fuzzy = await directory.by_phone_suffix(suffix(number.e164, SUFFIX_DIGITS))
    if fuzzy:
        return Identification(number, MatchLevel.SUFFIX, fuzzy)
    return Identification(number, MatchLevel.NONE)
