"""Dossier rules: read (supervisors), check, save, roll back (admins), every version kept."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from cti.api.deps import AdminUser, Context, SupervisorUser
from cti.api.errors import error_response
from cti.contacts.dossier import RULES_NAME, default_rules
from cti.contacts.rules import parse_rules

router = APIRouter(prefix="/api/rules/dossier", tags=["rules"])

Version = Annotated[int, Path(ge=1, le=2**31)]


class RulesIn(BaseModel):
    rules: dict[str, Any] = Field(description="The whole rule document (see docs/dossier.md).")
    comment: str = Field("", max_length=255, description="Why it changed, for the history.")


class Rollback(BaseModel):
    version: int = Field(ge=1, description="The version to bring back (saved as a new one).")
    comment: str = Field("", max_length=255)


@router.get("")
async def current(context: Context, _: SupervisorUser) -> dict[str, Any]:
    """The rules in force: the newest saved version, or the shipped defaults (version 0)."""
    saved = await context.rule_store.get(RULES_NAME)
    if saved is not None:
        return saved
    body = default_rules().model_dump(mode="json", by_alias=True, exclude_none=True)
    return {"name": RULES_NAME, "version": 0, "author": "default", "comment": "", "body": body}


@router.get("/versions")
async def versions(context: Context, _: SupervisorUser) -> list[dict[str, Any]]:
    """Who saved which version and when, newest first."""
    return await context.rule_store.history(RULES_NAME)


@router.get("/versions/{version}")
async def version(context: Context, _: SupervisorUser, version: Version) -> Any:
    """One saved version with its document."""
    saved = await context.rule_store.get(RULES_NAME, version)
    if saved is None:
        return error_response(404, "rules.not_found", f"No version {version}.")
    return saved


@router.post("/check")
async def check(_: AdminUser, body: RulesIn) -> dict[str, Any]:
    """Check a document without saving it; 422 lists every problem."""
    rules = parse_rules(body.rules)
    return {"ok": True, "reasons": [r.id for r in rules.reasons], "hints": len(rules.hints)}


@router.put("")
async def save(context: Context, admin: AdminUser, body: RulesIn) -> dict[str, Any]:
    """Check and save a new version; it is in force at once; audited."""
    parse_rules(body.rules)
    number = await context.rule_store.save(
        RULES_NAME, body.rules, author=admin.username, comment=body.comment
    )
    context.dossiers.rules.forget()
    return {"name": RULES_NAME, "version": number}


@router.post("/rollback")
async def rollback(context: Context, admin: AdminUser, body: Rollback) -> Any:
    """Bring an old version back as the newest one (history is never rewritten)."""
    saved = await context.rule_store.get(RULES_NAME, body.version)
    if saved is None:
        return error_response(404, "rules.not_found", f"No version {body.version}.")
    parse_rules(saved["body"])
    comment = body.comment or f"rollback to version {body.version}"
    number = await context.rule_store.save(
        RULES_NAME, saved["body"], author=admin.username, comment=comment
    )
    context.dossiers.rules.forget()
    return {"name": RULES_NAME, "version": number}
