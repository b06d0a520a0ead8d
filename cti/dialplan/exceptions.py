"""Errors of the dialplan editor, each with a stable ``error_id`` and the data behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cti.dialplan.show import LoadCheck
from cti.dialplan.validate import Problem


class DialplanError(Exception):
    """Base of every dialplan editor error."""

    error_id = "dialplan.error"

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)


class ContextNotFound(DialplanError):
    """No editable context of that name (in ``dialplans/`` or saved)."""

    error_id = "dialplan.not_found"


class VersionNotFound(DialplanError):
    """No saved version of that number."""

    error_id = "dialplan.version_not_found"


class InvalidDialplan(DialplanError):
    """The text would not load as written, or breaks the rest of the dialplan."""

    error_id = "dialplan.invalid"


class DialplanFileError(DialplanError):
    """A file in ``dialplans/`` (or extensions.conf) cannot be read or parsed."""

    error_id = "dialplan.file_invalid"


class EditConflict(DialplanError):
    """Someone saved the context after the version the editor started from."""

    error_id = "dialplan.conflict"

    def __init__(
        self,
        context: str,
        base_version: int,
        newest: int,
        author: str = "",
        saved_at: datetime | None = None,
    ) -> None:
        by = f" by {author}" if author else ""
        when = f" at {saved_at.isoformat(timespec='seconds')}" if saved_at else ""
        super().__init__(
            f"{context} is at version {newest} (saved{by}{when}), not {base_version} as this "
            "edit started from; load the newest version and apply the change again."
        )
        self.context = context
        self.base_version = base_version
        self.newest = newest
        self.author = author
        self.saved_at = saved_at


class NotLoaded(DialplanError):
    """Asterisk did not load every rendered priority; the previous files were put back."""

    error_id = "dialplan.not_loaded"

    def __init__(self, check: LoadCheck, restored: bool) -> None:
        tail = (
            "the previous version is back in force."
            if restored
            else "restoring the previous version did not take either; check Asterisk's log."
        )
        problems = [
            Problem(
                "dialplan.not_loaded",
                f"Not in force: '{p.exten}' {p.step} (line {p.line} of {p.file}).",
                p.line,
                p.file,
            )
            for p in check.missing
        ]
        super().__init__(f"{check.summary()}; {tail}", problems)
        self.check = check
        self.restored = restored
        if not restored:
            self.error_id = "dialplan.restore_failed"


class AsteriskUnavailable(DialplanError):
    """No AMI connection to push a dialplan through (nothing was changed)."""

    error_id = "asterisk.unavailable"


class CommandRefused(DialplanError):
    """Asterisk refused an AMI ``Command`` (the AMI user lacks the ``command`` class?)."""

    error_id = "asterisk.command_refused"
