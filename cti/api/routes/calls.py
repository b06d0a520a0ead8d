"""Live and finished calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from cti.api.deps import AgentUser, Context
from cti.api.schemas import CallsPage
from cti.store.repositories import CallRepository

router = APIRouter(prefix="/api/calls", tags=["calls"])

RECENT_DEFAULT = 50
RECENT_MAX = 200


@router.get("/active")
async def active(context: Context, _: AgentUser) -> CallsPage:
    """Calls in progress now, oldest first."""
    return CallsPage(calls=context.live_calls.active())


@router.get("/recent")
async def recent(
    context: Context,
    _: AgentUser,
    limit: Annotated[int, Query(ge=1, description=f"At most {RECENT_MAX}.")] = RECENT_DEFAULT,
    before: Annotated[
        datetime | None,
        Query(description="Only calls that ended before this (ISO 8601 or epoch seconds)."),
    ] = None,
) -> CallsPage:
    """Finished calls from the database, newest first, a page at a time."""
    limit = min(limit, RECENT_MAX)
    calls = await CallRepository(context.sessionmaker).recent(limit, before)
    next_before = calls[-1]["ended_at"] if len(calls) == limit else None
    return CallsPage(calls=calls, next_before=next_before)
