"""Dossier rules: likely reasons, service rescue and upsell hints, as data an admin edits.

A rule document is JSON, checked in full before it is saved (every collection, field,
operator, status value and template placeholder must exist) and evaluated by walking
the checked tree. Nothing in it is ever executed as code. The shape::

    {"tiers": [{"name": "gold", "min_lifetime_value_cents": 10000000}],
     "valuable_tiers": ["gold"],
     "reasons": [{"id": "order_ready", "label": "Order ready", "score": 90,
                  "when": {"exists": "orders", "where": {"status": "ready"}},
                  "why": "Order {order.number} is ready"}],
     "rescue": [{"id": "complaints", "when": {...}, "why": "..."}],
     "hints": [{"id": "offer_delivery", "when": {...}, "text": "..."}]}

Conditions: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``,
``{"exists": COLLECTION, "where": {...}}`` (binds the newest matching item for the text),
``{"count": COLLECTION, "where": {...}, "min": N, "max": N}`` and
``{"field": FIELD, OP: VALUE}`` on the contact. A ``where`` maps a field to a value, a list
of values, or operators: ``eq ne in not_in gt gte lt lte contains within_days
older_than_days past future``. ``docs/dossier.md`` lists every collection and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

from cti.checks import Problems, check_document
from cti.contacts.facts import (
    Channel,
    ContactFacts,
    DeliveryStatus,
    OrderStatus,
    Severity,
    TicketKind,
    TicketStatus,
    booked_orders,
)


class RuleError(Problems):
    """A rule document that cannot be saved; ``problems`` names every faulty place."""


# --- the vocabulary rules may use -----------------------------------------------------------

Kind = Literal["str", "int", "bool", "time"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: Kind
    values: frozenset[str] | None = None
    """The allowed values of an enumerated string field."""


def _enum(values: type[StrEnum]) -> FieldSpec:
    return FieldSpec("str", frozenset(v.value for v in values))


COLLECTIONS: dict[str, tuple[str, dict[str, FieldSpec]]] = {
    "orders": (
        "order",
        {
            "number": FieldSpec("str"),
            "status": _enum(OrderStatus),
            "amount_cents": FieldSpec("int"),
            "placed_at": FieldSpec("time"),
            "ready_at": FieldSpec("time"),
            "due_at": FieldSpec("time"),
            "open": FieldSpec("bool"),
            "delivery_booked": FieldSpec("bool"),
            "overdue": FieldSpec("bool"),
        },
    ),
    "deliveries": (
        "delivery",
        {
            "order_number": FieldSpec("str"),
            "status": _enum(DeliveryStatus),
            "eta": FieldSpec("time"),
            "delivered_at": FieldSpec("time"),
            "open": FieldSpec("bool"),
            "late": FieldSpec("bool"),
        },
    ),
    "tickets": (
        "ticket",
        {
            "number": FieldSpec("str"),
            "kind": _enum(TicketKind),
            "status": _enum(TicketStatus),
            "severity": _enum(Severity),
            "subject": FieldSpec("str"),
            "opened_at": FieldSpec("time"),
            "closed_at": FieldSpec("time"),
            "open": FieldSpec("bool"),
        },
    ),
    "purchases": (
        "purchase",
        {
            "product": FieldSpec("str"),
            "category": FieldSpec("str"),
            "sku": FieldSpec("str"),
            "purchased_at": FieldSpec("time"),
            "amount_cents": FieldSpec("int"),
        },
    ),
    "interactions": (
        "interaction",
        {
            "at": FieldSpec("time"),
            "channel": _enum(Channel),
            "direction": FieldSpec("str"),
            "reason": FieldSpec("str"),
            "agent": FieldSpec("str"),
            "outcome": FieldSpec("str"),
        },
    ),
}
CONTACT_FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec("str"),
    "language": FieldSpec("str"),
    "tier": FieldSpec("str"),
    "valuable": FieldSpec("bool"),
    "lifetime_value_cents": FieldSpec("int"),
    "debt_cents": FieldSpec("int"),
}
OPERATORS: dict[str, frozenset[str]] = {
    "eq": frozenset({"str", "int", "bool"}),
    "ne": frozenset({"str", "int", "bool"}),
    "in": frozenset({"str", "int"}),
    "not_in": frozenset({"str", "int"}),
    "gt": frozenset({"int"}),
    "gte": frozenset({"int"}),
    "lt": frozenset({"int"}),
    "lte": frozenset({"int"}),
    "contains": frozenset({"str"}),
    "within_days": frozenset({"time"}),
    "older_than_days": frozenset({"time"}),
    "past": frozenset({"time"}),
    "future": frozenset({"time"}),
}


# --- the document -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Predicate = str | int | bool | list[str] | list[int] | dict[str, Any]
Where = dict[str, Predicate]


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(_Strict):
    not_: Condition = Field(alias="not")


class Exists(_Strict):
    exists: str
    where: Where = Field(default_factory=dict)


class Count(_Strict):
    count: str
    where: Where = Field(default_factory=dict)
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class FieldTest(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)

    field: str


_TAGS = {
    AllOf: "all",
    AnyOf: "any",
    NotOf: "not",
    Exists: "exists",
    Count: "count",
    FieldTest: "field",
}


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((tag for tag in _TAGS.values() if tag in value), None)
    return _TAGS.get(type(value)) if isinstance(value, BaseModel) else None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Exists, Tag("exists")]
    | Annotated[Count, Tag("count")]
    | Annotated[FieldTest, Tag("field")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="a condition is one of all, any, not, exists, count or field",
    ),
]

_ID = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")


class Tier(_Strict):
    name: str = _ID
    min_lifetime_value_cents: int = Field(ge=0)


class ReasonRule(_Strict):
    id: str = _ID
    label: str = Field(min_length=1, max_length=80)
    score: int = Field(ge=0, le=100)
    when: Condition
    why: str = Field(max_length=300)


class RescueRule(_Strict):
    id: str = _ID
    when: Condition
    why: str = Field(max_length=300)


class HintRule(_Strict):
    id: str = _ID
    when: Condition
    text: str = Field(min_length=1, max_length=300)


class RuleSet(_Strict):
    """A whole rule document, checked; build it with ``parse_rules``."""

    tiers: list[Tier] = Field(default_factory=list, max_length=20)
    valuable_tiers: list[str] = Field(default_factory=list)
    reasons: list[ReasonRule] = Field(default_factory=list, max_length=200)
    rescue: list[RescueRule] = Field(default_factory=list, max_length=200)
    hints: list[HintRule] = Field(default_factory=list, max_length=200)


AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def parse_rules(document: Any) -> RuleSet:
    """The checked rule set; ``RuleError`` names every problem in the document."""
    return check_document(RuleSet, document, RuleError, _references)


def _references(rules: RuleSet) -> list[str]:
    """What the schema cannot see: unknown names, unbound placeholders, duplicate ids."""
    problems: list[str] = []
    tiers = {t.name for t in rules.tiers}
    problems += [
        f"valuable_tiers: unknown tier {t!r}" for t in rules.valuable_tiers if t not in tiers
    ]
    sections: list[tuple[str, list[ReasonRule] | list[RescueRule] | list[HintRule]]] = [
        ("reasons", rules.reasons),
        ("rescue", rules.rescue),
        ("hints", rules.hints),
    ]
    for section, items in sections:
        ids = [r.id for r in items]
        problems += [
            f"{section}: id {i!r} is used twice" for i in sorted(set(ids)) if ids.count(i) > 1
        ]
        for rule in items:
            where = f"{section}.{rule.id}"
            bound: set[str] = set()
            _check(rule.when, where + ".when", problems, bound, negated=False)
            text = rule.text if isinstance(rule, HintRule) else rule.why
            _check_template(text, where, bound, problems)
    return problems


def _check(
    node: Condition, where: str, problems: list[str], bound: set[str], *, negated: bool
) -> None:
    if isinstance(node, AllOf | AnyOf):
        items = node.all if isinstance(node, AllOf) else node.any
        for i, child in enumerate(items):
            _check(child, f"{where}[{i}]", problems, bound, negated=negated)
    elif isinstance(node, NotOf):
        _check(node.not_, where + ".not", problems, bound, negated=True)
    elif isinstance(node, Exists | Count):
        name = node.exists if isinstance(node, Exists) else node.count
        if name not in COLLECTIONS:
            problems.append(f"{where}: unknown collection {name!r} (one of {sorted(COLLECTIONS)})")
            return
        singular, fields = COLLECTIONS[name]
        for key, predicate in node.where.items():
            _check_predicate(fields, key, predicate, f"{where}.where.{key}", problems)
        if isinstance(node, Exists) and not negated:
            bound.add(singular)
    else:
        spec = CONTACT_FIELDS.get(node.field)
        if spec is None:
            problems.append(f"{where}: unknown contact field {node.field!r}")
            return
        extra = dict(node.model_extra or {})
        if not extra:
            problems.append(f"{where}: {node.field!r} needs an operator")
        for op, value in extra.items():
            _check_operator(spec, op, value, f"{where}.{op}", problems)


def _check_predicate(
    fields: Mapping[str, FieldSpec],
    key: str,
    predicate: Predicate,
    where: str,
    problems: list[str],
) -> None:
    spec = fields.get(key)
    if spec is None:
        problems.append(f"{where}: unknown field (one of {sorted(fields)})")
        return
    if isinstance(predicate, dict):
        if not predicate:
            problems.append(f"{where}: empty operator list")
        for op, value in predicate.items():
            _check_operator(spec, op, value, f"{where}.{op}", problems)
    elif isinstance(predicate, list):
        _check_operator(spec, "in", predicate, where, problems)
    else:
        _check_operator(spec, "eq", predicate, where, problems)


def _check_operator(spec: FieldSpec, op: str, value: Any, where: str, problems: list[str]) -> None:
    kinds = OPERATORS.get(op)
    if kinds is None:
        problems.append(f"{where}: unknown operator (one of {sorted(OPERATORS)})")
        return
    if spec.kind not in kinds:
        problems.append(f"{where}: {op!r} does not apply to a {spec.kind} field")
        return
    values = value if op in {"in", "not_in"} else [value]
    if op in {"in", "not_in"} and (not isinstance(value, list) or not value):
        problems.append(f"{where}: {op!r} needs a non-empty list")
        return
    for item in values:
        if op in {"past", "future"}:
            ok = isinstance(item, bool)
        elif op in {"within_days", "older_than_days"}:
            ok = isinstance(item, int | float) and not isinstance(item, bool) and item >= 0
        elif spec.kind == "bool":
            ok = isinstance(item, bool)
        elif spec.kind == "int":
            ok = isinstance(item, int) and not isinstance(item, bool)
        else:
            ok = isinstance(item, str)
        if not ok:
            problems.append(f"{where}: {item!r} is not a valid value here")
        elif spec.values is not None and op != "contains" and item not in spec.values:
            problems.append(f"{where}: {item!r} is not one of {sorted(spec.values)}")


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CONTACT_PLACEHOLDERS = {f"contact.{name}" for name in CONTACT_FIELDS} | {"debt", "lifetime_value"}


def _check_template(text: str, where: str, bound: set[str], problems: list[str]) -> None:
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        head, _, field = name.partition(".")
        if name in _CONTACT_PLACEHOLDERS:
            continue
        known = {s: f for s, f in COLLECTIONS.values()}
        if head in known and field in known[head]:
            if head not in bound:
                problems.append(f"{where}: {{{name}}} needs an 'exists' on {head}s in 'when'")
            continue
        problems.append(f"{where}: unknown placeholder {{{name}}}")


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """A likely reason; ``about`` holds the items its rule bound (``{"order": {...}}``)."""

    id: str
    label: str
    score: int
    why: str
    about: Mapping[str, Item] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules say about one contact."""

    tier: str
    valuable: bool
    reasons: tuple[Reason, ...]
    rescue: tuple[str, ...]
    hints: tuple[tuple[str, str], ...]


Item = dict[str, Any]


class Evaluator:
    """Applies a checked rule set to a contact's facts at a given moment."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._tiers = sorted(rules.tiers, key=lambda t: t.min_lifetime_value_cents, reverse=True)

    def tier(self, lifetime_value_cents: int) -> str:
        for tier in self._tiers:
            if lifetime_value_cents >= tier.min_lifetime_value_cents:
                return tier.name
        return "standard"

    def evaluate(self, facts: ContactFacts, now: datetime) -> Verdict:
        tier = self.tier(facts.lifetime_value_cents)
        valuable = tier in self.rules.valuable_tiers
        scope = _Scope(facts, tier, valuable, now)
        reasons = []
        for rule in self.rules.reasons:
            binding = scope.test(rule.when)
            if binding is not None:
                reasons.append(
                    Reason(
                        rule.id, rule.label, rule.score, scope.render(rule.why, binding), binding
                    )
                )
        reasons.sort(key=lambda r: -r.score)
        rescue = []
        for rescue_rule in self.rules.rescue:
            binding = scope.test(rescue_rule.when)
            if binding is not None:
                rescue.append(scope.render(rescue_rule.why, binding))
        hints = []
        for hint in self.rules.hints:
            binding = scope.test(hint.when)
            if binding is not None:
                hints.append((hint.id, scope.render(hint.text, binding)))
        return Verdict(tier, valuable, tuple(reasons), tuple(rescue), tuple(hints))


class _Scope:
    """One evaluation: the facts as plain items with derived fields, and ``now``."""

    def __init__(self, facts: ContactFacts, tier: str, valuable: bool, now: datetime) -> None:
        self.now = now
        booked = booked_orders(facts.deliveries)
        self.contact: Item = {
            "name": facts.display_name,
            "language": facts.language,
            "tier": tier,
            "valuable": valuable,
            "lifetime_value_cents": facts.lifetime_value_cents,
            "debt_cents": facts.debt_cents,
        }
        self.items: dict[str, list[Item]] = {
            "orders": [
                {
                    "number": o.number,
                    "status": o.status.value,
                    "amount_cents": o.amount_cents,
                    "placed_at": o.placed_at,
                    "ready_at": o.ready_at,
                    "due_at": o.due_at,
                    "open": o.open,
                    "delivery_booked": o.number in booked,
                    "overdue": o.open and o.due_at is not None and o.due_at < now,
                }
                for o in facts.orders
            ],
            "deliveries": [
                {
                    "order_number": d.order_number,
                    "status": d.status.value,
                    "eta": d.eta,
                    "delivered_at": d.delivered_at,
                    "open": d.open,
                    "late": d.late(now),
                }
                for d in facts.deliveries
            ],
            "tickets": [
                {
                    "number": t.number,
                    "kind": t.kind.value,
                    "status": t.status.value,
                    "severity": t.severity.value,
                    "subject": t.subject,
                    "opened_at": t.opened_at,
                    "closed_at": t.closed_at,
                    "open": t.open,
                }
                for t in facts.tickets
            ],
            "purchases": [
                {
                    "product": p.product,
                    "category": p.category,
                    "sku": p.sku,
                    "purchased_at": p.purchased_at,
                    "amount_cents": p.amount_cents,
                }
                for p in facts.purchases
            ],
            "interactions": [
                {
                    "at": i.at,
                    "channel": i.channel.value,
                    "direction": i.direction,
                    "reason": i.reason,
                    "agent": i.agent,
                    "outcome": i.outcome,
                }
                for i in facts.interactions
            ],
        }

    def test(self, node: Condition) -> dict[str, Item] | None:
        """The items bound by a true condition, or None when it is false."""
        if isinstance(node, AllOf):
            bound: dict[str, Item] = {}
            for child in node.all:
                found = self.test(child)
                if found is None:
                    return None
                bound.update(found)
            return bound
        if isinstance(node, AnyOf):
            for child in node.any:
                found = self.test(child)
                if found is not None:
                    return found
            return None
        if isinstance(node, NotOf):
            return {} if self.test(node.not_) is None else None
        if isinstance(node, Exists):
            for item in self.items[node.exists]:
                if self._matches(item, node.where):
                    return {COLLECTIONS[node.exists][0]: item}
            return None
        if isinstance(node, Count):
            n = sum(1 for item in self.items[node.count] if self._matches(item, node.where))
            if node.min is not None and n < node.min:
                return None
            if node.max is not None and n > node.max:
                return None
            return {}
        value = self.contact[node.field]
        ok = all(self._apply(op, value, arg) for op, arg in (node.model_extra or {}).items())
        return {} if ok else None

    def _matches(self, item: Item, where: Where) -> bool:
        for key, predicate in where.items():
            value = item[key]
            if isinstance(predicate, dict):
                if not all(self._apply(op, value, arg) for op, arg in predicate.items()):
                    return False
            elif isinstance(predicate, list):
                if value not in predicate:
                    return False
            elif value != predicate:
                return False
        return True

    def _apply(self, op: str, value: Any, arg: Any) -> bool:
        return _OPS[op](value, arg, self.now)

    def render(self, text: str, bound: Mapping[str, Item]) -> str:
        def one(match: re.Match[str]) -> str:
            head, _, key = match.group(1).partition(".")
            if head == "contact":
                return _show(key, self.contact.get(key))
            if head in {"debt", "lifetime_value"}:
                return _show(head + "_cents", self.contact[head + "_cents"])
            item = bound.get(head)
            return _show(key, item.get(key)) if item is not None else ""

        return _PLACEHOLDER.sub(one, text)


def _show(field: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if field.endswith("_cents") and isinstance(value, int):
        return f"{value / 100:,.2f}".replace(",", " ")
    return str(value)


def _days_ago(value: Any, days: float, now: datetime) -> bool | None:
    if not isinstance(value, datetime):
        return None
    return value >= now - timedelta(days=days)


def _within(value: Any, days: float, now: datetime) -> bool:
    return _days_ago(value, days, now) is True and value <= now


def _older(value: Any, days: float, now: datetime) -> bool:
    return _days_ago(value, days, now) is False


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any, datetime], bool]:
    return lambda value, arg, _now: value is not None and test(value, arg)


_OPS: dict[str, Callable[[Any, Any, datetime], bool]] = {
    "eq": lambda value, arg, _now: value == arg,
    "ne": lambda value, arg, _now: value != arg,
    "in": lambda value, arg, _now: value in arg,
    "not_in": lambda value, arg, _now: value not in arg,
    "gt": _ordered(lambda value, arg: value > arg),
    "gte": _ordered(lambda value, arg: value >= arg),
    "lt": _ordered(lambda value, arg: value < arg),
    "lte": _ordered(lambda value, arg: value <= arg),
    "contains": lambda value, arg, _now: isinstance(value, str) and arg.lower() in value.lower(),
    "within_days": _within,
    "older_than_days": _older,
    "past": lambda value, arg, now: isinstance(value, datetime) and (value < now) == arg,
    "future": lambda value, arg, now: isinstance(value, datetime) and (value > now) == arg,
}
