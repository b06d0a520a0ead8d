"""The audit log: who did what to what, when, and what it was before and after (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cti.api.deps import AdminUser, Context
from cti.store.repositories import AuditRepository

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("")
async def entries(
    context: Context,
    _: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="Older than this id.")] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, description="A prefix: 'rules.'")] = None,
    target: Annotated[str | None, Query(max_length=255)] = None,
) -> dict[str, Any]:
    """Entries newest first, a page at a time; ``next`` is the ``before`` of the next page."""
    async with context.sessionmaker() as session:
        page = await AuditRepository(session).page(
            limit=limit, before_id=before, actor=actor, action=action, target=target
        )
    return {"entries": page, "next": page[-1]["id"] if len(page) == limit else None}
