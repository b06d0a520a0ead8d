"""Versioned rule documents: every save is a new version, audited; the newest is in force."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select

from cti.store.db import Sessionmaker
from cti.store.models import RuleSetVersion
from cti.store.repositories import AuditRepository

log = logging.getLogger(__name__)
T = TypeVar("T")


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
                details={
                    "comment": comment[:255],
                    "before": {"version": int(current or 0)},
                    "after": {"version": version},
                },
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


class LiveDocument(Generic[T]):
    """The newest saved version of one rule document, built into ``T`` (an evaluator, a
    router), re-read from the store at most every ``refresh`` seconds.

    Before any save, and without a store, the shipped ``default`` is in force. A saved
    version that no longer builds (rules of an older release) is logged and skipped.
    """

    def __init__(
        self,
        store: RuleSetStore | None,
        name: str,
        build: Callable[[Any], T],
        default: T,
        *,
        refresh: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.name = name
        self.build = build
        self.value = default
        self.version = 0
        self.refresh = refresh
        self.clock = clock
        self._checked_at: float | None = None

    async def current(self) -> T:
        """The built newest version."""
        now = self.clock()
        if self.store is None or (
            self._checked_at is not None and now - self._checked_at < self.refresh
        ):
            return self.value
        self._checked_at = now
        latest = self.version
        try:
            latest = await self.store.latest_version(self.name)
            if latest != self.version:
                saved = await self.store.get(self.name, latest)
                if saved is not None:
                    self.value = self.build(saved["body"])
                    self.version = latest
        except ValueError as exc:
            log.error(
                "%s rules version %s no longer load, keeping the old: %s", self.name, latest, exc
            )
            self.version = latest
        except Exception as exc:
            log.warning("cannot read the %s rules, keeping the old: %s", self.name, exc)
        return self.value

    def forget(self) -> None:
        """Re-read on the next use (after a save in this process)."""
        self._checked_at = None
