"""Queues: how many agents a queue needs (Erlang C), from its observed calls or given ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import func, select

from cti.api.deps import Context, SupervisorUser
from cti.api.errors import error_response
from cti.staffing import agents_needed, with_agents
from cti.store.models import CallRecord

router = APIRouter(prefix="/api/queues", tags=["queues"])
wallboard_router = APIRouter(prefix="/api/wallboard", tags=["queues"])

QueueName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


@router.get("/{queue}/staffing")
async def staffing(
    context: Context,
    _: SupervisorUser,
    queue: QueueName,
    calls_per_hour: Annotated[float | None, Query(ge=0, le=1_000_000)] = None,
    aht: Annotated[float | None, Query(gt=0, le=86_400, description="Seconds")] = None,
    target: Annotated[float, Query(gt=0, lt=1)] = 0.8,
    within: Annotated[float, Query(ge=0, le=3600, description="Seconds")] = 20.0,
    agents: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Any:
    """Agents needed for ``target`` of calls answered within ``within`` seconds, with the
    expected wait probability, service level, ASA and occupancy (or, with ``agents``,
    those figures for that many). Volume and handle time default to the queue's last
    hour of finished calls."""
    observed = await _last_hour(context, queue)
    volume = calls_per_hour if calls_per_hour is not None else observed["calls_per_hour"]
    handle = aht if aht is not None else observed["aht"]
    if handle is None:
        message = f"no answered call in {queue} in the last hour: give aht"
        return error_response(422, "request.invalid", message, problems=[message])
    try:
        figures = (
            with_agents(agents, volume, handle, within)
            if agents is not None
            else agents_needed(volume, handle, target, within)
        )
    except ValueError as exc:
        return error_response(422, "request.invalid", str(exc), problems=[str(exc)])
    return {
        "queue": queue,
        "calls_per_hour": volume,
        "aht_seconds": handle,
        "target": target,
        "within_seconds": within,
        "observed": observed,
        **figures.to_dict(),
    }


async def _last_hour(context: Context, queue: str) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(hours=1)
    async with context.sessionmaker() as session:
        calls, talk = (
            await session.execute(
                select(func.count(), func.avg(CallRecord.talk_seconds)).where(
                    CallRecord.queue == queue, CallRecord.ended_at >= since
                )
            )
        ).one()
    return {"calls_per_hour": int(calls or 0), "aht": float(talk) if talk else None}


@wallboard_router.get("")
async def wallboard(request: Request, _: SupervisorUser) -> Any:
    """The whole wallboard now, as ``/ws/wallboard`` first sends it (for integrations that
    poll; screens should use the socket, which pushes every change)."""
    hub = getattr(request.app.state, "hub", None)
    picture = await hub.wallboard() if hub is not None else None
    if picture is None:
        return error_response(503, "wallboard.unavailable", "No wallboard figures yet.")
    return picture
