"""Versioned rule documents (dossier rules, routing rules): read, check, save, roll back.

Supervisors read them and their history; admins check, save and roll back. Every save is
checked in full first, stored as a new version with who and why, audited, and in force at
once; a rollback saves an old version again, so history is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from cti.api.deps import AdminUser, Context, SupervisorUser
from cti.api.errors import error_response
from cti.callbacks.rules import RULES_NAME as CALLBACK_RULES
from cti.callbacks.rules import parse_callback_rules
from cti.contacts.dossier import RULES_NAME
from cti.contacts.rules import parse_rules
from cti.routing.rules import parse_routing

Version = Annotated[int, Path(ge=1, le=2**31)]


class RulesIn(BaseModel):
    rules: dict[str, Any] = Field(description="The whole rule document.")
    comment: str = Field("", max_length=255, description="Why it changed, for the history.")


class Rollback(BaseModel):
    version: int = Field(
        ge=1, le=2**31, description="The version to bring back (saved as a new one)."
    )
    comment: str = Field("", max_length=255)


@dataclass(frozen=True, slots=True)
class RuleDocument:
    """One kind of rule document: its store name, checker, shipped defaults, summary."""

    name: str
    check: Callable[[Any], Any]
    defaults: tuple[str, str]
    """Package and file of the shipped document."""
    summary: Callable[[Any], dict[str, Any]]

    def shipped(self) -> dict[str, Any]:
        package, file = self.defaults
        document: dict[str, Any] = json.loads(
            resources.files(package).joinpath(file).read_text("utf-8")
        )
        return document


def rules_router(
    prefix: str, kind: RuleDocument, *, on_save: Callable[[Context], None]
) -> APIRouter:
    """The routes of one rule document under ``prefix``."""
    router = APIRouter(prefix=prefix, tags=["rules"])

    @router.get("")
    async def current(context: Context, _: SupervisorUser) -> dict[str, Any]:
        """The rules in force: the newest saved version, or the shipped ones (version 0)."""
        saved = await context.rule_store.get(kind.name)
        if saved is not None:
            return saved
        return {
            "name": kind.name,
            "version": 0,
            "author": "default",
            "comment": "",
            "body": kind.shipped(),
        }

    @router.get("/versions")
    async def versions(context: Context, _: SupervisorUser) -> list[dict[str, Any]]:
        """Who saved which version and when, newest first."""
        return await context.rule_store.history(kind.name)

    @router.get("/versions/{version}")
    async def version(context: Context, _: SupervisorUser, version: Version) -> Any:
        """One saved version with its document."""
        saved = await context.rule_store.get(kind.name, version)
        if saved is None:
            return error_response(404, "rules.not_found", f"No version {version}.")
        return saved

    @router.post("/check")
    async def check(_: AdminUser, body: RulesIn) -> dict[str, Any]:
        """Check a document without saving it; 422 lists every problem."""
        return {"ok": True, **kind.summary(kind.check(body.rules))}

    @router.put("")
    async def save(context: Context, admin: AdminUser, body: RulesIn) -> dict[str, Any]:
        """Check and save a new version; it is in force at once; audited."""
        kind.check(body.rules)
        number = await context.rule_store.save(
            kind.name, body.rules, author=admin.username, comment=body.comment
        )
        on_save(context)
        return {"name": kind.name, "version": number}

    @router.post("/rollback")
    async def rollback(context: Context, admin: AdminUser, body: Rollback) -> Any:
        """Bring an old version back as the newest one."""
        saved = await context.rule_store.get(kind.name, body.version)
        if saved is None:
            return error_response(404, "rules.not_found", f"No version {body.version}.")
        kind.check(saved["body"])
        comment = body.comment or f"rollback to version {body.version}"
        number = await context.rule_store.save(
            kind.name, saved["body"], author=admin.username, comment=comment
        )
        on_save(context)
        return {"name": kind.name, "version": number}

    return router


DOSSIER = RuleDocument(
    name=RULES_NAME,
    check=parse_rules,
    defaults=("cti.contacts", "default_rules.json"),
    summary=lambda rules: {"reasons": [r.id for r in rules.reasons], "hints": len(rules.hints)},
)
ROUTING = RuleDocument(
    name="routing",
    check=parse_routing,
    defaults=("cti.routing", "default_rules.json"),
    summary=lambda rules: {"rules": [r.id for r in rules.rules], "skills": sorted(rules.skills)},
)

CALLBACKS = RuleDocument(
    name=CALLBACK_RULES,
    check=parse_callback_rules,
    defaults=("cti.callbacks", "default_rules.json"),
    summary=lambda rules: {
        "queues": list(rules.queues) or "all",
        "offer_after_wait": rules.offer_after_wait,
    },
)

dossier_router = rules_router(
    "/api/rules/dossier", DOSSIER, on_save=lambda context: context.dossiers.rules.forget()
)
routing_router = rules_router(
    "/api/routing/rules", ROUTING, on_save=lambda context: context.routing.forget()
)
callbacks_router = rules_router(
    "/api/callbacks/rules", CALLBACKS, on_save=lambda context: context.outbound.forget_rules()
)
