"""A contact as the API, the importer and the demo hand it in: checked, numbers normalised.

Every problem names its field (``phones[1]: '12' is not a valid phone number``), so a
person fixing an import file or a form knows where to look.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cti.checks import Problems, check_document
from cti.contacts.facts import (
    DeliveryFact,
    DeliveryStatus,
    OrderFact,
    OrderStatus,
    PurchaseFact,
    Severity,
    TicketFact,
    TicketKind,
    TicketStatus,
)
from cti.contacts.phone import DEFAULT_RULES, PhoneRules, normalize_phone

MAX_IDENTITIES = 20
MAX_FACTS = 500
_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)


class InvalidContact(Problems):
    """A contact that cannot be stored; ``problems`` names every faulty field."""


def normalize_email(raw: str) -> str | None:
    """The address in lower case, or None when it is not one."""
    text = raw.strip()
    if len(text) > 254 or not _EMAIL.match(text):
        return None
    return text.lower()


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return _aware(value) if isinstance(value, datetime) else value


class OrderIn(_In):
    number: str = Field(min_length=1, max_length=64)
    status: OrderStatus
    amount_cents: int | None = Field(None, ge=0)
    placed_at: datetime | None = None
    ready_at: datetime | None = None
    due_at: datetime | None = None

    def fact(self) -> OrderFact:
        return OrderFact(**self.model_dump())


class DeliveryIn(_In):
    status: DeliveryStatus
    order_number: str | None = Field(None, max_length=64)
    eta: datetime | None = None
    delivered_at: datetime | None = None
    address: str | None = Field(None, max_length=255)

    def fact(self) -> DeliveryFact:
        return DeliveryFact(**self.model_dump())


class TicketIn(_In):
    number: str = Field(min_length=1, max_length=64)
    kind: TicketKind
    status: TicketStatus
    severity: Severity = Severity.NORMAL
    subject: str = Field("", max_length=255)
    opened_at: datetime | None = None
    closed_at: datetime | None = None

    def fact(self) -> TicketFact:
        return TicketFact(**self.model_dump())


class PurchaseIn(_In):
    product: str = Field(min_length=1, max_length=255)
    category: str = Field("", max_length=64)
    sku: str | None = Field(None, max_length=64)
    purchased_at: datetime | None = None
    amount_cents: int | None = Field(None, ge=0)

    def fact(self) -> PurchaseFact:
        return PurchaseFact(**self.model_dump())


class ContactPatch(_In):
    """Changes to a contact: a field left out stays as it is; a list given replaces the old."""

    external_id: str | None = Field(None, min_length=1, max_length=128)
    name: str | None = Field(None, min_length=1, max_length=255)
    language: str | None = Field(None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    phones: list[str] | None = Field(None, max_length=MAX_IDENTITIES)
    emails: list[str] | None = Field(None, max_length=MAX_IDENTITIES)
    lifetime_value_cents: int | None = Field(None, ge=0)
    debt_cents: int | None = Field(None, ge=0)
    orders: list[OrderIn] | None = Field(None, max_length=MAX_FACTS)
    deliveries: list[DeliveryIn] | None = Field(None, max_length=MAX_FACTS)
    tickets: list[TicketIn] | None = Field(None, max_length=MAX_FACTS)
    purchases: list[PurchaseIn] | None = Field(None, max_length=MAX_FACTS)

    @field_validator("phones", mode="after")
    @classmethod
    def _phones(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        rules: PhoneRules = (info.context or {}).get("phone_rules", DEFAULT_RULES)
        normalised = []
        for i, raw in enumerate(value):
            number = normalize_phone(raw, rules)
            if number.e164 is None:
                raise ValueError(f"phones[{i}]: {raw[:64]!r} is not a valid phone number")
            normalised.append(number.e164)
        return list(dict.fromkeys(normalised))

    @field_validator("emails", mode="after")
    @classmethod
    def _emails(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        normalised = []
        for i, raw in enumerate(value):
            email = normalize_email(raw)
            if email is None:
                raise ValueError(f"emails[{i}]: {raw[:254]!r} is not a valid email address")
            normalised.append(email)
        return list(dict.fromkeys(normalised))


class ContactIn(ContactPatch):
    """A new contact (or a whole import row): a name is required."""

    name: str = Field(min_length=1, max_length=255)


M = TypeVar("M", bound=ContactPatch)


def check_contact(model: type[M], data: Any, rules: PhoneRules = DEFAULT_RULES) -> M:
    """The checked contact; ``InvalidContact`` lists every problem by field."""
    return check_document(model, data, InvalidContact, context={"phone_rules": rules})
