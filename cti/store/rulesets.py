"""Versioned rule documents: every save is a new version, audited; the newest is in force."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cti.store.db import Sessionmaker
from cti.store.models import RuleSetVersion
from cti.store.repositories import AuditRepository


class VersionNotFound(LookupError):
    """No such version of a rule document."""


class RuleSetStore:
    """Rule documents by name (``dossier``, later ``routing``), with their whole history."""

    def __init__(self, sessionmaker: Sessionmaker) -> None:
        self.sessionmaker = sessionmaker

    async def latest_version(self, name: str) -> int:
        """The version in force, 0 when none was ever saved."""
        async with self.sessionmaker() as session:
            found = await session.scalar(
                select(func.max(RuleSetVersion.version)).where(RuleSetVersion.name == name)
            )
        return int(found or 0)

    async def get(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """One version (the newest by default) with who saved it and when; None if none."""
        query = select(RuleSetVersion).where(RuleSetVersion.name == name)
        if version is None:
            query = query.order_by(RuleSetVersion.version.desc()).limit(1)
        else:
            query = query.where(RuleSetVersion.version == version)
        async with self.sessionmaker() as session:
            record = await session.scalar(query)
        return _view(record, body=True) if record is not None else None

    async def history(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """Versions newest first, without their bodies."""
        query = (
            select(RuleSetVersion)
            .where(RuleSetVersion.name == name)
            .order_by(RuleSetVersion.version.desc())
            .limit(limit)
        )
        async with self.sessionmaker() as session:
            return [_view(r, body=False) for r in (await session.scalars(query)).all()]

    async def save(self, name: str, body: dict[str, Any], *, author: str, comment: str = "") -> int:
        """Store ``body`` (already checked by the caller) as the next version; audited."""
        async with self.sessionmaker.begin() as session:
            current = await session.scalar(
                select(func.max(RuleSetVersion.version)).where(RuleSetVersion.name == name)
            )
            version = int(current or 0) + 1
            session.add(
                RuleSetVersion(
                    name=name, version=version, body=body, author=author, comment=comment[:255]
                )
            )
            await AuditRepository(session).record(
                actor=author,
                action=f"rules.{name}.save",
                target=f"{name}@{version}",
                details={"comment": comment[:255]},
            )
        return version


def _view(record: RuleSetVersion, *, body: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": record.name,
        "version": record.version,
        "author": record.author,
        "comment": record.comment,
        "created_at": record.created_at.isoformat(),
    }
    if body:
        view["body"] = record.body
    return view
