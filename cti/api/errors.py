"""Every error as JSON ``{"error": {"id", "message"}}`` with the right status code."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from cti.auth.exceptions import (
    AuthError,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    InvalidUserData,
    NotAuthenticated,
    TooManyAttempts,
    UserExists,
    UserNotFound,
)
from cti.callbacks.rules import CallbackRulesError
from cti.contacts.records import InvalidContact
from cti.contacts.rules import RuleError
from cti.routing.rules import RoutingError
from cti.store.contacts import ContactNotFound

log = logging.getLogger(__name__)

STATUS: dict[type[AuthError], int] = {
    NotAuthenticated: 401,
    InvalidToken: 401,
    InvalidCredentials: 401,
    Forbidden: 403,
    UserNotFound: 404,
    UserExists: 409,
    InvalidUserData: 422,
    TooManyAttempts: 429,
}
HTTP_IDS = {
    400: "request.bad",
    401: "auth.not_authenticated",
    403: "auth.forbidden",
    404: "http.not_found",
    405: "http.method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
}


def error_body(
    error_id: str, message: str, problems: list[Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The JSON body of every error response; ``problems`` lists faults field by field."""
    error: dict[str, Any] = {"id": error_id, "message": message}
    if problems:
        error["problems"] = problems
    return {"error": error}


def error_response(
    status: int,
    error_id: str,
    message: str,
    headers: dict[str, str] | None = None,
    problems: list[Any] | None = None,
) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(
        error_body(error_id, message, problems), status_code=status, headers=headers
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON errors."""
    app.add_exception_handler(AuthError, _auth_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidContact, _invalid_contact)  # type: ignore[arg-type]
    app.add_exception_handler(RuleError, _invalid_rules)  # type: ignore[arg-type]
    app.add_exception_handler(RoutingError, _invalid_rules)  # type: ignore[arg-type]
    app.add_exception_handler(CallbackRulesError, _invalid_rules)  # type: ignore[arg-type]
    app.add_exception_handler(ContactNotFound, _no_contact)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    for outage in STORAGE_OUTAGES:
        app.add_exception_handler(outage, _storage_away)
    app.add_exception_handler(Exception, _unexpected)


async def _auth_error(_: Request, exc: AuthError) -> JSONResponse:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    headers: dict[str, str] = {}
    if status == 401 and not isinstance(exc, InvalidCredentials):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return error_response(status, exc.error_id, exc.message, headers)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for error in exc.errors()[:10]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(
            message if message.startswith(where.split(".")[-1]) else f"{where}: {message}"
        )
    return error_response(
        422, "request.invalid", "; ".join(problems) or "Invalid request.", problems=problems
    )


async def _invalid_contact(_: Request, exc: InvalidContact) -> JSONResponse:
    return error_response(
        422, "contact.invalid", "; ".join(exc.problems[:10]), problems=exc.problems
    )


async def _invalid_rules(
    _: Request, exc: RuleError | RoutingError | CallbackRulesError
) -> JSONResponse:
    return error_response(422, "rules.invalid", "; ".join(exc.problems[:10]), problems=exc.problems)


async def _no_contact(_: Request, exc: ContactNotFound) -> JSONResponse:
    return error_response(404, "contact.not_found", f"No contact {exc.args[0]}.")


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    error_id = HTTP_IDS.get(exc.status_code, f"http.{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    return error_response(exc.status_code, error_id, message, dict(exc.headers or {}))


STORAGE_OUTAGES: tuple[type[Exception], ...] = (OperationalError, InterfaceError, ConnectionError)
"""What reaching the database raises while it is away: SQLAlchemy's wrappers, and the
socket errors asyncpg lets through on connect (refused, reset)."""
_outage_logged = 0.0


async def _storage_away(request: Request, exc: Exception) -> JSONResponse:
    """The database is away: a 503 the client may retry, logged at most once a minute."""
    global _outage_logged
    now = time.monotonic()
    if now - _outage_logged > 60:
        _outage_logged = now
        log.warning(
            "database unreachable on %s %s: %s",
            request.method,
            request.url.path,
            type(exc.__cause__ or exc).__name__,
            extra={"error_id": "storage.unavailable"},
        )
    return error_response(
        503,
        "storage.unavailable",
        "The database cannot be reached right now; try again shortly.",
        {"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return error_response(500, "internal", "Internal server error.")
