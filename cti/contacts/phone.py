"""Phone numbers as they arrive from trunks, forms and CRMs, normalised to E.164.

``8 916 123-45-67``, ``79161234567``, ``+7 (916) 123-45-67`` and ``9161234567`` are all
``+79161234567`` for region RU. Caller IDs that say nothing (``anonymous``,
``<unknown>``, empty, letters) are an unknown caller, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

UNKNOWN_MARKERS = frozenset(
    {"", "anonymous", "unknown", "<unknown>", "restricted", "private", "unavailable", "withheld"}
)
_NOT_DIGITS = re.compile(r"[^\d+]")
MAX_INPUT = 64


class PhoneProblem(StrEnum):
    """Why a number could not be normalised."""

    UNKNOWN = "unknown"
    """The caller ID says nothing (anonymous, empty)."""
    NOT_A_NUMBER = "not_a_number"
    INVALID = "invalid"
    """Digits, but no valid number in any reading."""


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """The outcome of normalising one raw number."""

    raw: str
    e164: str | None
    problem: PhoneProblem | None = None

    @property
    def known(self) -> bool:
        return self.e164 is not None


@dataclass(frozen=True, slots=True)
class PhoneRules:
    """How this site's numbers look.

    Args:
        region: ISO country of numbers written without a country code (``RU``).
        outside_prefix: a digit the PBX prepends for an outside line (``9``), removed when
            the rest is a valid number.
    """

    region: str = "RU"
    outside_prefix: str = ""


DEFAULT_RULES = PhoneRules()


def normalize_phone(raw: str | None, rules: PhoneRules = DEFAULT_RULES) -> PhoneNumber:
    """Normalise one number to E.164; never raises."""
    text = (raw or "").strip()
    if text.lower() in UNKNOWN_MARKERS:
        return PhoneNumber(text, None, PhoneProblem.UNKNOWN)
    if len(text) > MAX_INPUT or not any(c.isdigit() for c in text):
        return PhoneNumber(text[:MAX_INPUT], None, PhoneProblem.NOT_A_NUMBER)
    compact = _NOT_DIGITS.sub("", text)
    if "+" in compact[1:] or len(compact.lstrip("+")) < 3:
        return PhoneNumber(text, None, PhoneProblem.NOT_A_NUMBER)
    for candidate in _readings(compact, rules):
        e164 = _valid(candidate, rules.region)
        if e164 is not None:
            return PhoneNumber(text, e164)
    return PhoneNumber(text, None, PhoneProblem.INVALID)


def _readings(compact: str, rules: PhoneRules) -> list[str]:
    """The ways a PBX may have written the number, most literal first."""
    readings = [compact]
    digits = compact.lstrip("+")
    if rules.outside_prefix and digits.startswith(rules.outside_prefix):
        readings.append(digits[len(rules.outside_prefix) :])
    if not compact.startswith("+"):
        readings.append("+" + digits)
    return readings


def _valid(candidate: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def suffix(e164: str, digits: int = 7) -> str:
    """The last ``digits`` digits: the fallback key when a number arrives mangled."""
    return e164.lstrip("+")[-digits:]
