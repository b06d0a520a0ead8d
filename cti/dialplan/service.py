"""The admins' dialplan editor: check, save as a version, render, push, confirm or restore.

A save is checked against the whole dialplan on disk, claimed as the next version (a
concurrent save of the same context loses with ``EditConflict``), written atomically
into its ``dialplans/`` file, and pushed with AMI ``Command: dialplan reload``. Then
``dialplan show <context>`` must list every rendered priority from its file and line;
otherwise the previous file is written back and reloaded, the version is withdrawn,
and the error says what Asterisk dropped. One save at a time per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cti.ami.client import AmiActions
from cti.ami.exceptions import AmiError
from cti.dialplan.config import ConfigSyntaxError, Section, parse_config
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
from cti.dialplan.pbx import NOT_CONTEXTS
from cti.dialplan.render import context_text, normalize, render, unified_diff
from cti.dialplan.show import (
    LoadCheck,
    ShownContext,
    check_loaded,
    command_output,
    parse_show,
    rendered_priorities,
    same_steps,
)
from cti.dialplan.validate import (
    EDITED,
    Problem,
    Source,
    asterisk_order,
    validate_context,
)
from cti.settings import DialplanSettings
from cti.store.dialplans import DialplanVersions, NewVersion, SavedContext

log = logging.getLogger(__name__)

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.conf")
RELOADED = "Dialplan reloaded."
"""What ``dialplan reload`` prints (pbx/pbx_config.c)."""


@dataclass(frozen=True, slots=True)
class DialplanFiles:
    """The dialplan on disk: each directory file's text and every section in reading order."""

    texts: dict[str, str]
    sections: list[tuple[str, Section]]
    where: dict[str, str]
    """The directory file each context is defined in (the first, if several)."""

    def text_of(self, context: str) -> str | None:
        file = self.where.get(context)
        return context_text(self.texts[file], context, file) if file else None


def read_files(settings: DialplanSettings) -> DialplanFiles:
    """Read and parse the directory's ``*.conf`` and extensions.conf (blocking).

    Raises:
        DialplanFileError: a file cannot be read or does not parse.
    """
    texts: dict[str, str] = {}
    included: list[Source] = []
    where: dict[str, str] = {}
    try:
        paths = sorted(settings.directory.glob("*.conf")) if settings.directory.is_dir() else []
        for path in paths:
            text = texts[path.name] = path.read_text("utf-8")
            config = parse_config(text, path.name)
            included.append(Source(path.name, config))
            for section in config.sections:
                if section.name.lower() not in NOT_CONTEXTS and not section.template:
                    where.setdefault(section.name, path.name)
        main = None
        conf = settings.extensions_conf
        if conf is not None and conf.is_file():
            main = Source(conf.name, parse_config(conf.read_text("utf-8"), conf.name))
    except ConfigSyntaxError as exc:
        raise DialplanFileError(f"{exc}; fix the file before editing.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DialplanFileError(f"Cannot read the dialplan files: {exc}") from exc
    return DialplanFiles(texts, asterisk_order(main, included), where)


def write_atomically(path: Path, text: str | None) -> None:
    """Replace ``path`` by ``text`` at once (temp file + rename); None removes it (blocking).

    The temp file's name does not end in ``.conf``, so ``#include dialplans/*.conf``
    never reads a half-written file.
    """
    if text is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


class DialplanEditor:
    """Versions, files and Asterisk, kept in step for each edited context."""

    def __init__(
        self, settings: DialplanSettings, store: DialplanVersions, ami: AmiActions | None
    ) -> None:
        self.settings = settings
        self.store = store
        self.ami = ami
        self._lock = asyncio.Lock()

    # -- reading ----------------------------------------------------------------------

    async def files(self) -> DialplanFiles:
        """The dialplan as it is on disk now."""
        return await asyncio.to_thread(read_files, self.settings)

    async def contexts(self) -> list[dict[str, Any]]:
        """Every editable context with the version in force and whether its file agrees."""
        files = await self.files()
        saved = await self.store.in_force()
        names = [name for name in files.where if files.where[name] in files.texts]
        names += sorted(name for name in saved if name not in files.where)
        return [self._summary(name, files, saved.get(name)) for name in names]

    def _summary(
        self, name: str, files: DialplanFiles, saved: SavedContext | None
    ) -> dict[str, Any]:
        in_file = files.text_of(name)
        if saved is None:
            return {
                "context": name,
                "file": files.where[name],
                "version": 0,
                "author": "",
                "comment": f"as found in {files.where[name]}",
                "saved_at": None,
                "drift": False,
            }
        view = saved.view(text=False)
        view["drift"] = in_file is None or normalize(in_file) != saved.text
        return view

    async def current(self, name: str) -> dict[str, Any]:
        """The context in force: its text, version, author and comment.

        Raises:
            ContextNotFound: neither saved nor in a directory file.
        """
        files = await self.files()
        saved = await self.store.newest(name)
        in_file = files.text_of(name)
        if saved is None and in_file is None:
            raise ContextNotFound(f"No context {name} in {self.settings.directory}.")
        view = self._summary(name, files, saved)
        view["text"] = saved.text if saved is not None else in_file
        return view

    async def versions(self, name: str) -> list[dict[str, Any]]:
        """Saved versions, newest first (empty before the first save)."""
        history = await self.store.history(name)
        if not history and (await self.files()).text_of(name) is None:
            raise ContextNotFound(f"No context {name}.")
        return [saved.view(text=False) for saved in history]

    async def version(self, name: str, version: int) -> dict[str, Any]:
        """One saved version with its text."""
        return (await self._saved(name, version)).view()

    async def _saved(self, name: str, version: int) -> SavedContext:
        saved = await self.store.get(name, version)
        if saved is None:
            raise VersionNotFound(f"No version {version} of {name}.")
        return saved

    async def diff(self, name: str, old: int | None, new: int | None) -> dict[str, Any]:
        """A unified diff between two saved versions (default: the newest and the one before)."""
        if new is None:
            newest = await self.store.newest(name)
            if newest is None:
                raise VersionNotFound(f"{name} has no saved version yet.")
            new = newest.version
        old = max(1, new - 1) if old is None else old
        before, after = await self._saved(name, old), await self._saved(name, new)
        text = unified_diff(before.text, after.text, f"{name}@{old}", f"{name}@{new}")
        return {"context": name, "from": old, "to": new, "diff": text}

    # -- checking ---------------------------------------------------------------------

    async def check(self, name: str, text: str, file: str | None = None) -> dict[str, Any]:
        """Validate without saving; a summary of what Asterisk would load.

        Raises:
            InvalidDialplan: every problem, with its line.
        """
        text = normalize(text)
        files = await self.files()
        saved = await self.store.newest(name)
        self._refuse(self._problems(files, name, text, self._file_for(files, name, file, saved)))
        steps = rendered_priorities(name, EDITED, f"[{name}]\n{text}")
        return {
            "ok": True,
            "context": name,
            "extensions": sorted({p.exten for p in steps}),
            "priorities": len(steps),
        }

    def _file_for(
        self, files: DialplanFiles, name: str, asked: str | None, saved: SavedContext | None
    ) -> str:
        existing = files.where.get(name) or (saved.file if saved is not None else None)
        if asked is not None and not FILE_NAME.fullmatch(asked):
            self._refuse([Problem("dialplan.file", f"{asked!r} is not a .conf file name.")])
        if asked is not None and existing is not None and asked != existing:
            self._refuse(
                [Problem("dialplan.file", f"{name} lives in {existing}; moving it is not done.")]
            )
        return existing or asked or f"{name}.conf"

    def _problems(self, files: DialplanFiles, name: str, text: str, file: str) -> list[Problem]:
        return validate_context(
            name, text, files.sections, file=file, allowed=self.settings.allowed_applications
        )

    @staticmethod
    def _refuse(problems: Sequence[Problem]) -> None:
        if problems:
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            raise InvalidDialplan(f"The dialplan has {count}; nothing was saved.", problems)

    # -- saving -----------------------------------------------------------------------

    async def save(
        self,
        name: str,
        text: str,
        *,
        base_version: int,
        author: str,
        comment: str = "",
        file: str | None = None,
    ) -> dict[str, Any]:
        """Check, store as the next version, render, push and confirm; audited.

        Raises:
            EditConflict: the context changed since ``base_version``.
            InvalidDialplan: the text has problems (nothing changed).
            AsteriskUnavailable: no AMI connection (nothing changed).
            NotLoaded: Asterisk did not take it; the previous version is back.
            CommandRefused: Asterisk refused the AMI command.
        """
        return await self._apply(
            name, normalize(text), base_version, author, comment, file, "dialplan.save", {}
        )

    async def rollback(
        self,
        name: str,
        version: int,
        *,
        author: str,
        comment: str = "",
        base_version: int | None = None,
    ) -> dict[str, Any]:
        """Save an old version's text again as the newest version, pushed like any save."""
        target = await self._saved(name, version)
        if base_version is None:
            newest = await self.store.newest(name)
            base_version = newest.version if newest is not None else 0
        return await self._apply(
            name,
            target.text,
            base_version,
            author,
            comment or f"rollback to version {version}",
            None,
            "dialplan.rollback",
            {"rollback_to": version},
        )

    async def _apply(
        self,
        name: str,
        text: str,
        base: int,
        author: str,
        comment: str,
        file: str | None,
        action: str,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        async with self._lock:
            newest = await self.store.newest(name)
            current = newest.version if newest is not None else 0
            if base != current:
                raise EditConflict(
                    name,
                    base,
                    current,
                    newest.author if newest else "",
                    newest.saved_at if newest else None,
                )
            files = await self.files()
            where = self._file_for(files, name, file, newest)
            self._refuse(self._problems(files, name, text, where))
            if self.settings.reload and self.ami is None:
                raise AsteriskUnavailable("Asterisk is not connected (AMI); nothing was saved.")
            in_file = files.text_of(name)
            before_text = newest.text if newest is not None else (in_file or "")
            old_file = files.texts.get(where)
            new_file = render(old_file, name, text, where)
            before = await self._show(name) if self.settings.reload else None
            details = {
                "context": name,
                "file": where,
                "comment": comment,
                "diff": unified_diff(before_text, text, f"{name}@{current}", f"{name}@new"),
                **extra,
            }
            version = await self.store.claim(
                name,
                base,
                NewVersion(text, where, comment, in_file if newest is None else None),
                author=author,
                action=action,
                details=details,
            )
            try:
                check = await self._push(name, where, old_file, new_file, before)
            except DialplanError as exc:
                await self.store.withdraw(
                    name,
                    version,
                    actor=author,
                    action="dialplan.withdrawn",
                    details={"error": exc.error_id, "reason": exc.message, "file": where},
                )
                log.warning("dialplan %s@%s not in force: %s", name, version, exc.message)
                raise
            if check is not None:
                await self.store.audit(
                    actor=author,
                    action="dialplan.pushed",
                    target=f"{name}@{version}",
                    details={"file": where, "loaded": check.summary()},
                )
            log.info("dialplan %s@%s saved by %s (%s)", name, version, author, where)
            return {
                "context": name,
                "version": version,
                "file": where,
                "pushed": check is not None,
                "loaded": check.summary() if check is not None else None,
            }

    async def _push(
        self,
        name: str,
        file: str,
        old_file: str | None,
        new_file: str,
        before: ShownContext | None,
    ) -> LoadCheck | None:
        """Write, reload and confirm; on failure put the old file back and reload again."""
        path = self.settings.directory / file
        try:
            await asyncio.to_thread(write_atomically, path, new_file)
        except OSError as exc:
            raise DialplanFileError(f"Cannot write {path}: {exc}") from exc
        if not self.settings.reload:
            return None
        try:
            await self._reload()
            shown = await self._show(name)
        except (AsteriskUnavailable, CommandRefused) as exc:
            restored = await self._restore(name, path, old_file, before)
            state = "reloaded it" if restored else "could not confirm it is in force"
            raise type(exc)(
                f"{exc.message} The previous file is back and Asterisk {state}."
            ) from exc
        check = check_loaded(name, rendered_priorities(name, file, new_file), shown)
        if not check.ok:
            raise NotLoaded(check, await self._restore(name, path, old_file, before))
        return check

    async def _restore(
        self, name: str, path: Path, old_file: str | None, before: ShownContext | None
    ) -> bool:
        """Put the previous file back and reload; whether Asterisk shows what it showed before."""
        try:
            await asyncio.to_thread(write_atomically, path, old_file)
            await self._reload()
            shown = await self._show(name)
        except (OSError, AsteriskUnavailable, CommandRefused) as exc:
            log.error("dialplan %s: restoring %s failed: %s", name, path, exc)
            return False
        return before is not None and same_steps(before, shown)

    async def _command(self, command: str) -> tuple[bool, list[str], str]:
        if self.ami is None:
            raise AsteriskUnavailable("Asterisk is not connected (AMI).")
        try:
            reply = await self.ami.action("Command", Command=command)
        except AmiError as exc:
            raise AsteriskUnavailable(f"Asterisk did not answer {command!r}: {exc}.") from exc
        first = reply[0] if isinstance(reply, list) and reply else reply
        response = first.get("Response", "") if isinstance(first, dict) else ""
        message = str(first.get("Message", "")) if isinstance(first, dict) else ""
        return response == "Success", command_output(reply), message

    async def _reload(self) -> None:
        ok, lines, message = await self._command("dialplan reload")
        if not ok or RELOADED not in lines:
            said = " ".join(line for line in lines if line) or message
            raise CommandRefused(f"Asterisk refused 'dialplan reload': {said}.")

    async def _show(self, name: str) -> ShownContext:
        ok, lines, message = await self._command(f"dialplan show {name}")
        if not ok and not any(line.startswith("There is no existence of") for line in lines):
            said = " ".join(line for line in lines if line) or message
            raise CommandRefused(f"Asterisk refused 'dialplan show {name}': {said}.")
        return parse_show(lines, name)


__all__ = ["DialplanEditor", "DialplanFiles", "read_files", "write_atomically"]
