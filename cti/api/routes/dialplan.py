"""The admins' dialplan editor: contexts, versions, diffs, check, save (pushed), rollback.

Supervisors may list the contexts and the versions in force; the rest is for admins.
A save names the version it started from (``base_version``): when someone saved after
it, the answer is 409 with who did. A save Asterisk does not take in full answers 422
with what it dropped, and the previous version is back in force.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cti.api.deps import AdminUser, Context, SupervisorUser
from cti.api.errors import error_response
from cti.dialplan.exceptions import (
    AsteriskUnavailable,
    CommandRefused,
    ContextNotFound,
    DialplanError,
    DialplanFileError,
    EditConflict,
    InvalidDialplan,
    NotLoaded,
    VersionNotFound,
)
from cti.dialplan.service import DialplanEditor

router = APIRouter(prefix="/api/dialplan", tags=["dialplan"])

ContextName = Annotated[str, Path(min_length=1, max_length=80)]
Version = Annotated[int, Path(ge=1, le=2**31)]
MAX_TEXT = 256 * 1024

STATUS: dict[type[DialplanError], int] = {
    ContextNotFound: 404,
    VersionNotFound: 404,
    InvalidDialplan: 422,
    NotLoaded: 422,
    EditConflict: 409,
    DialplanFileError: 409,
    AsteriskUnavailable: 503,
    CommandRefused: 502,
}


class CheckIn(BaseModel):
    text: str = Field(max_length=MAX_TEXT, description="The lines under the [context] header.")
    file: str | None = Field(
        None, max_length=80, description="File of a new context (default <context>.conf)."
    )


class SaveIn(CheckIn):
    base_version: int = Field(
        ge=0, le=2**31, description="The version the edit started from (0: never saved yet)."
    )
    comment: str = Field("", max_length=255, description="Why it changed, for the history.")


class RollbackIn(BaseModel):
    version: int = Field(
        ge=1, le=2**31, description="The version to bring back (saved as a new one)."
    )
    base_version: int | None = Field(
        None, ge=0, le=2**31, description="The version in force the rollback started from."
    )
    comment: str = Field("", max_length=255)


def _editor(context: Context) -> DialplanEditor:
    editor = context.dialplan
    if editor is None:
        raise AsteriskUnavailable("The dialplan editor is not configured.")
    return editor


def _error(exc: DialplanError) -> JSONResponse:
    """The JSON error for a dialplan error, with its problems (line by line)."""
    status = 502 if exc.error_id == "dialplan.restore_failed" else STATUS.get(type(exc), 400)
    problems: list[Any] = [p.as_dict() for p in exc.problems]
    if isinstance(exc, EditConflict):
        problems = [
            {
                "id": "dialplan.newer_version",
                "message": exc.message,
                "version": exc.newest,
                "author": exc.author,
                "saved_at": exc.saved_at.isoformat() if exc.saved_at else None,
            }
        ]
    return error_response(status, exc.error_id, exc.message, problems=problems or None)


@router.get("/contexts")
async def contexts(context: Context, _: SupervisorUser) -> Any:
    """Every editable context with the version in force, who saved it, and file drift."""
    try:
        return await _editor(context).contexts()
    except DialplanError as exc:
        return _error(exc)


@router.get("/contexts/{context_name}")
async def current(context: Context, _: AdminUser, context_name: ContextName) -> Any:
    """The context in force: text, version (0: as shipped), author, comment."""
    try:
        return await _editor(context).current(context_name)
    except DialplanError as exc:
        return _error(exc)


@router.get("/contexts/{context_name}/versions")
async def versions(context: Context, _: AdminUser, context_name: ContextName) -> Any:
    """Saved versions, newest first, without their texts."""
    try:
        return await _editor(context).versions(context_name)
    except DialplanError as exc:
        return _error(exc)


@router.get("/contexts/{context_name}/versions/{version}")
async def version(
    context: Context, _: AdminUser, context_name: ContextName, version: Version
) -> Any:
    """One saved version with its text."""
    try:
        return await _editor(context).version(context_name, version)
    except DialplanError as exc:
        return _error(exc)


@router.get("/contexts/{context_name}/diff")
async def diff(
    context: Context,
    _: AdminUser,
    context_name: ContextName,
    old: Annotated[int | None, Query(alias="from", ge=1, le=2**31)] = None,
    new: Annotated[int | None, Query(alias="to", ge=1, le=2**31)] = None,
) -> Any:
    """A unified diff between two versions (default: the newest and the one before)."""
    try:
        return await _editor(context).diff(context_name, old, new)
    except DialplanError as exc:
        return _error(exc)


@router.post("/contexts/{context_name}/check")
async def check(context: Context, _: AdminUser, context_name: ContextName, body: CheckIn) -> Any:
    """Validate a text without saving; 422 lists every problem with its line."""
    try:
        return await _editor(context).check(context_name, body.text, body.file)
    except DialplanError as exc:
        return _error(exc)


@router.put("/contexts/{context_name}")
async def save(context: Context, admin: AdminUser, context_name: ContextName, body: SaveIn) -> Any:
    """Check, save as a new version, render, push to Asterisk and confirm; audited."""
    try:
        return await _editor(context).save(
            context_name,
            body.text,
            base_version=body.base_version,
            author=admin.username,
            comment=body.comment,
            file=body.file,
        )
    except DialplanError as exc:
        return _error(exc)


@router.post("/contexts/{context_name}/rollback")
async def rollback(
    context: Context, admin: AdminUser, context_name: ContextName, body: RollbackIn
) -> Any:
    """Bring an old version back as the newest one, pushed and confirmed like a save."""
    try:
        return await _editor(context).rollback(
            context_name,
            body.version,
            author=admin.username,
            comment=body.comment,
            base_version=body.base_version,
        )
    except DialplanError as exc:
        return _error(exc)
