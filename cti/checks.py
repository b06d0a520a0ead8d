"""Checked input: every problem of a document or form named by its place, all at once.

Contacts, dossier rules, routing rules and IVR flows are all checked the same way: the
schema first (pydantic), then what a schema cannot see (references between parts). The
caller gets every problem in one go, each starting with where it is
(``rules.vip.target: unknown skill 'magic'``), never just the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class Problems(ValueError):
    """Input that cannot be used; ``problems`` names every faulty place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validation_problems(exc: ValidationError) -> list[str]:
    """Pydantic's errors as ``field: message`` lines."""
    lines = []
    for error in exc.errors(include_url=False):
        place = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if ":" in message.split(" ", 1)[0]:
            lines.append(message)
        else:
            lines.append(f"{place}: {message}" if place else message)
    return lines


def check_document(
    model: type[M],
    document: Any,
    error: type[Problems],
    references: Callable[[M], list[str]] | None = None,
    *,
    context: dict[str, Any] | None = None,
) -> M:
    """``document`` as a checked ``model``; ``error`` lists every problem found."""
    try:
        checked = model.model_validate(document, context=context)
    except ValidationError as exc:
        raise error(validation_problems(exc)) from None
    problems = references(checked) if references is not None else []
    if problems:
        raise error(problems)
    return checked
