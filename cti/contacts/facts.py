"""What we know about a contact: the CRM facts a dossier is built from.

These are plain values, the same whether they come from our own tables or from a
site's CRM over HTTP (``cti.contacts.crm``). Money is in minor units (kopecks, cents).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

_Keyed = TypeVar("_Keyed")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class OrderStatus(StrEnum):
    NEW = "new"
    PROCESSING = "processing"
    READY = "ready"
    """Ready for pick-up or delivery."""
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


CLOSED_ORDERS = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED})


class DeliveryStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


CLOSED_DELIVERIES = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED})


class TicketKind(StrEnum):
    COMPLAINT = "complaint"
    REQUEST = "request"
    QUESTION = "question"
    RETURN = "return"


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


CLOSED_TICKETS = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


class Severity(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Channel(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"
    CHAT = "chat"


@dataclass(frozen=True, slots=True)
class OrderFact:
    number: str
    status: OrderStatus
    amount_cents: int | None = None
    placed_at: datetime | None = None
    ready_at: datetime | None = None
    due_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.status not in CLOSED_ORDERS


@dataclass(frozen=True, slots=True)
class DeliveryFact:
    status: DeliveryStatus
    order_number: str | None = None
    eta: datetime | None = None
    delivered_at: datetime | None = None
    address: str | None = None

    @property
    def open(self) -> bool:
        return self.status not in CLOSED_DELIVERIES

    def late(self, now: datetime) -> bool:
        """Still on its way after its ETA (a failed one is not late, it failed)."""
        on_its_way = self.status in {DeliveryStatus.SCHEDULED, DeliveryStatus.IN_TRANSIT}
        return on_its_way and self.eta is not None and self.eta < now


def booked_orders(deliveries: Iterable[DeliveryFact]) -> set[str]:
    """Order numbers that have a delivery booked (or done)."""
    return {
        d.order_number
        for d in deliveries
        if d.order_number and d.status is not DeliveryStatus.CANCELLED
    }


@dataclass(frozen=True, slots=True)
class TicketFact:
    number: str
    kind: TicketKind
    status: TicketStatus
    severity: Severity = Severity.NORMAL
    subject: str = ""
    opened_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.status not in CLOSED_TICKETS


@dataclass(frozen=True, slots=True)
class PurchaseFact:
    product: str
    category: str = ""
    sku: str | None = None
    purchased_at: datetime | None = None
    amount_cents: int | None = None


@dataclass(frozen=True, slots=True)
class InteractionFact:
    """One entry of the timeline: a call, an SMS, an email, a chat."""

    at: datetime
    channel: Channel
    direction: str = "inbound"
    reason: str | None = None
    agent: str | None = None
    summary: str = ""
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class NoteFact:
    at: datetime
    author: str
    body: str


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """Everything a dossier needs about one contact, newest first in every list."""

    contact_id: int
    display_name: str
    language: str | None = None
    lifetime_value_cents: int = 0
    debt_cents: int = 0
    orders: tuple[OrderFact, ...] = ()
    deliveries: tuple[DeliveryFact, ...] = ()
    tickets: tuple[TicketFact, ...] = ()
    purchases: tuple[PurchaseFact, ...] = ()
    interactions: tuple[InteractionFact, ...] = ()
    notes: tuple[NoteFact, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    """Where the facts came from and how that went: ``{"local": "ok", "crm": "timeout"}``."""


@dataclass(frozen=True, slots=True)
class ExternalFacts:
    """What a site's CRM adds; a ``None`` or empty field leaves the local facts alone."""

    display_name: str | None = None
    lifetime_value_cents: int | None = None
    debt_cents: int | None = None
    orders: tuple[OrderFact, ...] = ()
    deliveries: tuple[DeliveryFact, ...] = ()
    tickets: tuple[TicketFact, ...] = ()
    purchases: tuple[PurchaseFact, ...] = ()


def merge(local: ContactFacts, external: ExternalFacts) -> ContactFacts:
    """Local facts with the CRM's on top: the CRM wins for an order or ticket it also knows."""
    orders = _newest_first(
        _union(external.orders, local.orders, key=lambda o: o.number), lambda o: o.placed_at
    )
    tickets = _newest_first(
        _union(external.tickets, local.tickets, key=lambda t: t.number), lambda t: t.opened_at
    )
    deliveries = external.deliveries or local.deliveries
    purchases = external.purchases or local.purchases
    return replace(
        local,
        display_name=external.display_name or local.display_name,
        lifetime_value_cents=_first(external.lifetime_value_cents, local.lifetime_value_cents),
        debt_cents=_first(external.debt_cents, local.debt_cents),
        orders=orders,
        deliveries=deliveries,
        tickets=tickets,
        purchases=purchases,
    )


def _newest_first(
    items: tuple[_Keyed, ...], when: Callable[[_Keyed], datetime | None]
) -> tuple[_Keyed, ...]:
    """Newest first, undated last, as the local facts come."""
    dated = [i for i in items if when(i) is not None]
    dated.sort(key=lambda i: when(i) or _EPOCH, reverse=True)
    return tuple(dated) + tuple(i for i in items if when(i) is None)


def _first(value: int | None, default: int) -> int:
    return default if value is None else value


def _union(
    preferred: tuple[_Keyed, ...], rest: tuple[_Keyed, ...], *, key: Callable[[_Keyed], str]
) -> tuple[_Keyed, ...]:
    seen = {key(item) for item in preferred}
    return preferred + tuple(item for item in rest if key(item) not in seen)
