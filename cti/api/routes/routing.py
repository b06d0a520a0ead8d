"""Routing: "where would a call from this number go right now, and why", and editing one
rule at a time (each edit checks the whole set and saves a new version)."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from cti.api.deps import AdminUser, Context, SupervisorUser
from cti.api.errors import error_response
from cti.routing.rules import parse_routing
from cti.routing.service import RULES_NAME, default_routing

router = APIRouter(prefix="/api/routing", tags=["routing"])


class SimulateIn(BaseModel):
    number: str = Field(max_length=64, description="A caller ID in any format.")
    reason: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,47}$", description="As if the IVR had learnt it."
    )


@router.post("/simulate")
async def simulate(context: Context, _: SupervisorUser, body: SimulateIn) -> dict[str, Any]:
    """The caller, the facts routing uses, the rule that applies and the agent it would ring."""
    return await context.routing.simulate(context.dossiers, body.number, body.reason)


RuleId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class RuleChange(BaseModel):
    rule: dict[str, Any] = Field(description="One rule: id, priority, when, target, overflow.")
    comment: str = Field("", max_length=255)


async def _edit(
    context: Context, author: str, comment: str, change: Callable[[list[dict[str, Any]]], object]
) -> dict[str, Any]:
    """Apply ``change`` to the rules in force, check the whole, save it as a new version."""
    saved = await context.rule_store.get(RULES_NAME)
    document = copy.deepcopy(saved["body"] if saved is not None else default_routing())
    change(document.setdefault("rules", []))
    parse_routing(document)
    number = await context.rule_store.save(RULES_NAME, document, author=author, comment=comment)
    context.routing.forget()
    return {"name": RULES_NAME, "version": number}


@router.post("/rules/items", status_code=201)
async def add_rule(context: Context, admin: AdminUser, body: RuleChange) -> dict[str, Any]:
    """Add one rule; the whole set is checked (ids, skills, overlaps, cycles) and versioned."""
    rule_id = str(body.rule.get("id", ""))
    return await _edit(
        context,
        admin.username,
        body.comment or f"add rule {rule_id}",
        lambda rules: rules.append(body.rule),
    )


@router.put("/rules/items/{rule_id}")
async def change_rule(context: Context, admin: AdminUser, rule_id: RuleId, body: RuleChange) -> Any:
    """Replace one rule (its id may change; overflows pointing at it must still resolve)."""

    def replace_it(rules: list[dict[str, Any]]) -> None:
        index = _index(rules, rule_id)
        rules[index] = body.rule

    return await _guarded(
        _edit(context, admin.username, body.comment or f"change rule {rule_id}", replace_it),
        rule_id,
    )


@router.delete("/rules/items/{rule_id}")
async def remove_rule(context: Context, admin: AdminUser, rule_id: RuleId) -> Any:
    """Remove one rule (refused while another rule overflows to it)."""
    return await _guarded(
        _edit(
            context,
            admin.username,
            f"remove rule {rule_id}",
            lambda rules: rules.pop(_index(rules, rule_id)),
        ),
        rule_id,
    )


def _index(rules: list[dict[str, Any]], rule_id: str) -> int:
    for index, rule in enumerate(rules):
        if rule.get("id") == rule_id:
            return index
    raise LookupError(rule_id)


async def _guarded(edit: Awaitable[dict[str, Any]], rule_id: str) -> Any:
    try:
        return await edit
    except LookupError:
        return error_response(404, "rules.not_found", f"No rule {rule_id}.")
