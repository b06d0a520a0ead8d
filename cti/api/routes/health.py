"""Liveness and readiness for load balancers: open, and saying nothing more than ok or not."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cti.api.deps import Context
from cti.api.schemas import Status
from cti.store.db import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Status:
    """The process is up and serving HTTP."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses={503: {"model": Status}})
async def readyz(context: Context) -> JSONResponse:
    """The database answers; 503 otherwise (the reason goes to the log, not the client)."""
    if await ping(context.sessionmaker):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "not ready"}, status_code=503)
