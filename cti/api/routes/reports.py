"""Reports for supervisors: calls by queue, hour, reason and channel, agents, CSAT, the day.

Every report takes a range (``from``/``to``, ISO dates or date-times, ``[from, to)``, in
``tz``), refuses one longer than ``CTI_REPORTS_MAX_DAYS`` (422 ``report.range_too_long``)
and stops after ``CTI_REPORTS_TIMEOUT`` seconds (503 ``report.timeout``). ``format=csv``
answers a CSV file instead of JSON. The figures are defined in docs/reports.md.

Supervisors and admins only: agent performance compares colleagues, and an agent sees
their own ratings at ``GET /api/agents/{username}/csat`` already.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from cti.api.deps import Context, SupervisorUser
from cti.api.errors import error_response
from cti.reports import export, sections
from cti.reports.exceptions import InvalidReportRequest, ReportError, ReportTimeout
from cti.reports.figures import DEFAULT_SERVICE_LEVEL, SERVICE_LEVELS, service_level
from cti.reports.period import ReportRange, day_range, report_range
from cti.settings import Settings
from cti.store.db import Sessionmaker
from cti.store.reports import CallFilter, ReportStore

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/reports", tags=["reports"])

LIST_DEFAULT, LIST_MAX = 50, 500
RETRY_AFTER = "30"

From = Annotated[
    str,
    Query(
        alias="from",
        max_length=40,
        description="Start, included: an ISO date (local midnight) or date-time.",
    ),
]
To = Annotated[str, Query(alias="to", max_length=40, description="End, excluded.")]
Tz = Annotated[str, Query(max_length=64, description="IANA time zone, e.g. Europe/Moscow.")]
THRESHOLDS = ", ".join(map(str, SERVICE_LEVELS))
ServiceLevel = Annotated[
    int, Query(description=f"Answer-within threshold, seconds: one of {THRESHOLDS}.")
]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv for a file.")]
Direction = Literal["inbound", "outbound", "all"]


def reports_for(settings: Settings, sessionmaker: Sessionmaker) -> ReportStore:
    """The report store with this server's time limit."""
    return ReportStore(sessionmaker, timeout=settings.reports.timeout)


async def _answer(build: Callable[[], Awaitable[Response]]) -> Response:
    """Run a report; its errors as JSON with their stable ids."""
    try:
        return await build()
    except ReportTimeout as exc:
        log.warning("report stopped: %s", exc.message)
        return error_response(503, exc.error_id, exc.message, {"Retry-After": RETRY_AFTER})
    except InvalidReportRequest as exc:
        return error_response(422, exc.error_id, exc.message, problems=[exc.message])
    except ReportError as exc:
        return error_response(500, exc.error_id, exc.message)


def _csv(text: str, name: str) -> Response:
    return Response(
        content=text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _envelope(report: str, period: ReportRange, **extra: Any) -> dict[str, Any]:
    return {"report": report, "range": period.to_dict(), **extra}


@router.get("/calls")
async def calls_report(
    context: Context,
    _: SupervisorUser,
    start: From,
    end: To,
    by: Literal["queue", "hour", "reason", "channel"] = "queue",
    tz: Tz = "UTC",
    sl: ServiceLevel = DEFAULT_SERVICE_LEVEL,
    direction: Direction = "inbound",
    format: Format = "json",
) -> Response:
    """Calls grouped by queue, local hour of the day, reason, or channel (calls, SMS and email
    both ways): offered, outcomes, answer and abandon rates, service level, ASA, talk, AHT."""

    async def build() -> Response:
        period = report_range(start, end, tz, max_days=context.settings.reports.max_days)
        threshold = service_level(sl)
        store = reports_for(context.settings, context.sessionmaker)
        wanted = None if direction == "all" else direction
        if by == "channel":
            section = await store.channels(period)
        elif by == "hour":
            slots = await store.calls(period, "slot", wanted)
            section = sections.calls_by_hour(slots, period.tz, threshold)
        else:
            section = sections.calls_by(by, await store.calls(period, by, wanted), threshold)
        if format == "csv":
            return _csv(export.section_csv(section), f"calls-by-{by}-{period.file_part()}")
        body = _envelope(
            "calls", period, service_level_seconds=threshold, direction=direction, **section
        )
        return JSONResponse(body)

    return await _answer(build)


@router.get("/agents")
async def agents_report(
    context: Context,
    _: SupervisorUser,
    start: From,
    end: To,
    tz: Tz = "UTC",
    format: Format = "json",
) -> Response:
    """Agent performance: calls handled, rings missed, talk, wrap-up and handle times,
    messages in and out, CSAT answers and average."""
    return await _section_report(context, "agents", start, end, tz, format)


@router.get("/csat")
async def csat_report(
    context: Context,
    _: SupervisorUser,
    start: From,
    end: To,
    tz: Tz = "UTC",
    format: Format = "json",
) -> Response:
    """Customer satisfaction of surveys sent in the range: score distribution, response rate,
    average and share satisfied (4 or 5), overall and per agent."""
    return await _section_report(context, "csat", start, end, tz, format)


async def _section_report(
    context: Context,
    name: Literal["agents", "csat"],
    start: str,
    end: str,
    tz: str,
    format: str,
) -> Response:
    """One section over a range, as JSON or a CSV file."""

    async def build() -> Response:
        period = report_range(start, end, tz, max_days=context.settings.reports.max_days)
        store = reports_for(context.settings, context.sessionmaker)
        section = await (store.agents if name == "agents" else store.csat)(period)
        if format == "csv":
            return _csv(export.section_csv(section), f"{name}-{period.file_part()}")
        return JSONResponse(_envelope(name, period, **section))

    return await _answer(build)


@router.get("/day")
async def day_report(
    context: Context,
    _: SupervisorUser,
    date: Annotated[str, Query(max_length=10, description="The local day, ISO (2026-11-10).")],
    tz: Tz = "UTC",
    sl: ServiceLevel = DEFAULT_SERVICE_LEVEL,
    format: Format = "json",
) -> Response:
    """The full-day report: summary, queues, hours, reasons, channels, agents and CSAT."""

    async def build() -> Response:
        period = day_range(date, tz, max_days=context.settings.reports.max_days)
        threshold = service_level(sl)
        store = reports_for(context.settings, context.sessionmaker)
        report = await store.day(period, threshold)
        if format == "csv":
            return _csv(export.day_csv(report), f"day-{period.file_part()}")
        return JSONResponse(report)

    return await _answer(build)


@router.get("/calls/list")
async def calls_list(
    context: Context,
    _: SupervisorUser,
    start: From,
    end: To,
    tz: Tz = "UTC",
    queue: Annotated[str | None, Query(max_length=128, description="'' for none")] = None,
    reason: Annotated[str | None, Query(max_length=128, description="'' for none")] = None,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
    agent: Annotated[str | None, Query(max_length=128, description="An interface")] = None,
    direction: Direction = "all",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_MAX)] = LIST_DEFAULT,
) -> Response:
    """The calls behind a figure, oldest first, a page at a time: pass ``next_cursor`` back
    as ``cursor`` for the next page (null on the last)."""

    async def build() -> Response:
        period = report_range(start, end, tz, max_days=context.settings.reports.max_days)
        where = CallFilter(
            queue=queue,
            reason=reason,
            outcome=outcome,
            agent=agent,
            direction=None if direction == "all" else direction,
        )
        store = reports_for(context.settings, context.sessionmaker)
        calls, next_cursor = await store.call_list(period, where, after=cursor, limit=limit)
        body = _envelope("calls_list", period, calls=calls, next_cursor=next_cursor)
        return JSONResponse(body)

    return await _answer(build)
