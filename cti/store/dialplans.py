"""Saved versions of dialplan contexts, in the versioned-documents table, with the audit log.

Each context's versions are rows named ``dialplan:<context>`` of ``rule_set_versions``
(body ``{"text": ..., "file": ...}``); the newest is the one in force. A save claims
its version number ``base + 1`` through the table's unique (name, version) constraint,
so of two editors who started from the same version, exactly one gets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from cti.dialplan.exceptions import EditConflict
from cti.store.db import Sessionmaker
from cti.store.models import RuleSetVersion
from cti.store.repositories import AuditRepository

PREFIX = "dialplan:"


@dataclass(frozen=True, slots=True)
class SavedContext:
    """One saved version of a context."""

    context: str
    version: int
    text: str
    file: str
    author: str
    comment: str
    saved_at: datetime

    def view(self, *, text: bool = True) -> dict[str, Any]:
        """The JSON form the API answers with."""
        found: dict[str, Any] = {
            "context": self.context,
            "version": self.version,
            "file": self.file,
            "author": self.author,
            "comment": self.comment,
            "saved_at": self.saved_at.isoformat(),
        }
        if text:
            found["text"] = self.text
        return found


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a save stores: the text, its file, and an import of the file's text first."""

    text: str
    file: str
    comment: str = ""
    imported: str | None = None
    """The context's text as found in its file, stored as version 1 on its first save."""


def _saved(record: RuleSetVersion) -> SavedContext:
    body = record.body or {}
    saved_at = record.created_at
    if saved_at.tzinfo is None:
        saved_at = saved_at.replace(tzinfo=UTC)
    return SavedContext(
        record.name.removeprefix(PREFIX),
        record.version,
        str(body.get("text", "")),
        str(body.get("file", "")),
        record.author,
        record.comment,
        saved_at,
    )


class DialplanVersions:
    """Versions of every context, newest in force, every change audited."""

    def __init__(self, sessionmaker: Sessionmaker) -> None:
        self.sessionmaker = sessionmaker

    async def newest(self, context: str) -> SavedContext | None:
        """The version in force, None when the context was never saved."""
        query = (
            select(RuleSetVersion)
            .where(RuleSetVersion.name == PREFIX + context)
            .order_by(RuleSetVersion.version.desc())
            .limit(1)
        )
        async with self.sessionmaker() as session:
            record = await session.scalar(query)
        return _saved(record) if record is not None else None

    async def get(self, context: str, version: int) -> SavedContext | None:
        """One version, None when there is no such version."""
        query = select(RuleSetVersion).where(
            RuleSetVersion.name == PREFIX + context, RuleSetVersion.version == version
        )
        async with self.sessionmaker() as session:
            record = await session.scalar(query)
        return _saved(record) if record is not None else None

    async def history(self, context: str, limit: int = 100) -> list[SavedContext]:
        """Versions newest first."""
        query = (
            select(RuleSetVersion)
            .where(RuleSetVersion.name == PREFIX + context)
            .order_by(RuleSetVersion.version.desc())
            .limit(limit)
        )
        async with self.sessionmaker() as session:
            return [_saved(r) for r in (await session.scalars(query)).all()]

    async def in_force(self) -> dict[str, SavedContext]:
        """The newest version of every saved context."""
        newest = (
            select(RuleSetVersion.name, func.max(RuleSetVersion.version).label("version"))
            .where(RuleSetVersion.name.startswith(PREFIX))
            .group_by(RuleSetVersion.name)
            .subquery()
        )
        query = select(RuleSetVersion).join(
            newest,
            (RuleSetVersion.name == newest.c.name) & (RuleSetVersion.version == newest.c.version),
        )
        async with self.sessionmaker() as session:
            records = (await session.scalars(query)).all()
        return {saved.context: saved for saved in map(_saved, records)}

    async def claim(
        self,
        context: str,
        base_version: int,
        new: NewVersion,
        *,
        author: str,
        action: str,
        details: Mapping[str, Any],
    ) -> int:
        """Store ``new`` as version ``base_version + 1`` (after an import when given), audited.

        Raises:
            EditConflict: ``base_version`` is not the newest version (any more).
        """
        name = PREFIX + context
        first = base_version + 1
        rows = []
        if new.imported is not None and base_version == 0:
            rows.append((new.imported, f"as found in {new.file} before the first edit"))
        rows.append((new.text, new.comment))
        version = first + len(rows) - 1
        try:
            async with self.sessionmaker.begin() as session:
                for offset, (text, comment) in enumerate(rows):
                    session.add(
                        RuleSetVersion(
                            name=name,
                            version=first + offset,
                            body={"text": text, "file": new.file},
                            author=author,
                            comment=comment[:255],
                        )
                    )
                await session.flush()
                below = await session.scalar(
                    select(func.max(RuleSetVersion.version)).where(
                        RuleSetVersion.name == name, RuleSetVersion.version < first
                    )
                )
                if int(below or 0) != base_version:
                    raise _Stale()
                await AuditRepository(session).record(
                    actor=author,
                    action=action,
                    target=f"{name}@{version}",
                    details={**details, "before_version": base_version, "after_version": version},
                )
        except (IntegrityError, _Stale):
            newest = await self.newest(context)
            raise EditConflict(
                context,
                base_version,
                newest.version if newest else 0,
                newest.author if newest else "",
                newest.saved_at if newest else None,
            ) from None
        return version

    async def withdraw(
        self, context: str, version: int, *, actor: str, action: str, details: Mapping[str, Any]
    ) -> None:
        """Remove a version Asterisk did not take (the previous one stays in force); audited."""
        name = PREFIX + context
        async with self.sessionmaker.begin() as session:
            await session.execute(
                delete(RuleSetVersion).where(
                    RuleSetVersion.name == name, RuleSetVersion.version == version
                )
            )
            await AuditRepository(session).record(
                actor=actor, action=action, target=f"{name}@{version}", details=dict(details)
            )

    async def audit(
        self, *, actor: str, action: str, target: str, details: Mapping[str, Any]
    ) -> None:
        """Append one audit entry of its own."""
        async with self.sessionmaker.begin() as session:
            await AuditRepository(session).record(
                actor=actor, action=action, target=PREFIX + target, details=dict(details)
            )


class _Stale(Exception):
    """The version below the claimed one is not the base the editor started from."""
