"""The OpenAPI description of this API, for logged-in users only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cti.api.deps import AgentUser

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/openapi.json")
async def openapi(request: Request, _: AgentUser) -> dict[str, Any]:
    """The OpenAPI 3 schema (the public /docs pages are off: every route needs a login)."""
    schema: dict[str, Any] = request.app.openapi()
    return schema
