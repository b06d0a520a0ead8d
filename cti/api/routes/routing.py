"""Routing: "where would a call from this number go right now, and why"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cti.api.deps import Context, SupervisorUser

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
