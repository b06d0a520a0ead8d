"""Phone normalisation: every format a trunk or a form produces, and junk that must not raise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.contacts.phone import PhoneProblem, PhoneRules, normalize_phone, suffix

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "raw", ["8 916 123-45-67", "79161234567", "+7 (916) 123-45-67", "9161234567", " +79161234567 "]
)
def test_russian_formats_are_one_number(raw: str) -> None:
    assert normalize_phone(raw).e164 == "+79161234567"


def test_outside_line_prefix_is_removed() -> None:
    rules = PhoneRules(outside_prefix="9")
    assert normalize_phone("989161234567", rules).e164 == "+79161234567"
    assert normalize_phone("9161234567", rules).e164 == "+79161234567"


def test_stripped_plus_of_a_foreign_number() -> None:
    assert normalize_phone("442079460958", PhoneRules(region="RU")).e164 == "+442079460958"
    assert normalize_phone("+44 20 7946 0958").e164 == "+442079460958"


@pytest.mark.parametrize("raw", ["anonymous", "<unknown>", "", "Unknown", "Restricted", None])
def test_silent_caller_ids_are_unknown(raw: str | None) -> None:
    result = normalize_phone(raw)
    assert result.e164 is None and result.problem is PhoneProblem.UNKNOWN


@pytest.mark.parametrize("raw", ["12", "call me", "+7+916", "0" * 80, "++", "1234567890123456"])
def test_garbage_is_not_a_number(raw: str) -> None:
    result = normalize_phone(raw)
    assert result.e164 is None and result.problem in (
        PhoneProblem.NOT_A_NUMBER,
        PhoneProblem.INVALID,
    )


@given(st.text(max_size=100))
def test_never_raises(raw: str) -> None:
    result = normalize_phone(raw)
    assert result.e164 is None or result.e164.startswith("+")


def test_suffix() -> None:
    assert suffix("+79161234567") == "1234567"
    assert suffix("+79161234567", 10) == "9161234567"
