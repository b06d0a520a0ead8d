"""Checks of a dialplan context before it is saved: pure, every problem with its line.

A context's text is checked the way Asterisk 22 would load it (``cti.dialplan.pbx``):
a line a reload would skip or change is refused, as are jumps (``Goto``, ``GotoIf``,
``Gosub``, ``GosubIf``) and ``include``s naming contexts, extensions or labels that do
not exist, applications that run shell commands (``System``, ``TrySystem``, the
``SHELL()`` function) unless a setting allows them, and ``#exec``/``#include``. Jumps
from other contexts into the edited one must still land after the edit.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cti.dialplan.config import ConfigFile, ConfigSyntaxError, Section, parse_config, strip_comment
from cti.dialplan.pbx import (
    NOT_CONTEXTS,
    PRIORITY_HINT,
    Dialplan,
    Priority,
    load_dialplan,
    split_exten,
)

FORBIDDEN_APPLICATIONS = ("System", "TrySystem")
"""Applications that run a shell command on the PBX."""
FORBIDDEN_FUNCTIONS = ("SHELL",)
"""Dialplan functions that run a shell command on the PBX."""
EXEC_APPLICATIONS = frozenset({"exec", "execif", "tryexec"})
"""Applications that run another application named in their arguments."""
JUMP_APPLICATIONS = frozenset({"goto", "gotoif", "gosub", "gosubif"})
EDITED = "<edited>"
"""The file name the edited text is loaded under while it is checked."""
MAX_CONTEXT_NAME = 55
"""Longest context name: ``dialplan:<name>`` must fit the versions table's 64 characters."""
CONTEXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
APPLICATION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
KEYS = frozenset({"exten", "same", "include", "ignorepat", "switch", "lswitch", "eswitch"})


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a context cannot be saved: a stable id, a message, where (file None: the text)."""

    error_id: str
    message: str
    line: int | None = None
    file: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON form the API answers with."""
        found: dict[str, object] = {"id": self.error_id, "message": self.message}
        if self.line is not None:
            found["line"] = self.line
        if self.file is not None:
            found["file"] = self.file
        return found


@dataclass(frozen=True, slots=True)
class Source:
    """One parsed configuration file, named as Asterisk names it in ``[file:line]``."""

    file: str
    config: ConfigFile


class Target(NamedTuple):
    """Where a jump goes: context, extension, priority number or label."""

    context: str
    exten: str
    priority: str


# -- reading order ----------------------------------------------------------------------


def asterisk_order(main: Source | None, included: Sequence[Source]) -> list[tuple[str, Section]]:
    """Sections in the order a reload reads them: ``main``'s, with ``included`` at its
    first ``#include`` line (after everything when it has none)."""
    if main is None:
        return [(s.file, section) for s in included for section in s.config.sections]
    at = main.config.include_lines[0] if main.config.include_lines else None
    before = [(main.file, s) for s in main.config.sections if at is None or s.line < at]
    after = [(main.file, s) for s in main.config.sections if at is not None and s.line > at]
    inner = [(s.file, section) for s in included for section in s.config.sections]
    return [*before, *inner, *after]


def with_context(
    sections: Sequence[tuple[str, Section]], name: str, file: str, edited: Section
) -> list[tuple[str, Section]]:
    """``sections`` with ``name`` in ``file`` replaced by ``edited`` (added when new)."""
    out: list[tuple[str, Section]] = []
    placed = False
    for where, section in sections:
        if where == file and section.name == name:
            if not placed:
                out.append((EDITED, edited))
                placed = True
            continue
        out.append((where, section))
    if not placed:
        last = max((i for i, (where, _) in enumerate(out) if where == file), default=None)
        out.insert(len(out) if last is None else last + 1, (EDITED, edited))
    return out


# -- the edited text --------------------------------------------------------------------


def check_name(name: str) -> list[Problem]:
    """A context name the editor accepts (and Asterisk reads as a context)."""
    if name.lower() in NOT_CONTEXTS:
        return [Problem("dialplan.name", f"[{name}] holds settings, not a context.")]
    if len(name) > MAX_CONTEXT_NAME or not CONTEXT_NAME.fullmatch(name):
        return [
            Problem(
                "dialplan.name",
                f"A context name is 1 to {MAX_CONTEXT_NAME} letters, digits, '_', '-', '.' "
                "or '+', starting with a letter or digit.",
            )
        ]
    return []


def scan_text(text: str) -> list[Problem]:
    """Line-level syntax of a context's text: only ``key => value`` lines and comments."""
    problems = []
    in_block = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if "\0" in line:
            problems.append(Problem("dialplan.syntax", "A NUL character.", number))
            continue
        if in_block:
            in_block = "--;" not in line
            continue
        if line.startswith(";--"):
            in_block = "--;" not in line[3:]
            continue
        line = strip_comment(line)
        if not line:
            continue
        if line.startswith("#"):
            directive = line.split()[0]
            why = (
                "#exec runs a program on the PBX and is refused."
                if directive.lower() == "#exec"
                else f"{directive} is not allowed in a context's text."
            )
            problems.append(Problem("dialplan.directive", why, number))
            continue
        if line.startswith("["):
            problems.append(
                Problem(
                    "dialplan.section",
                    "A context's text cannot open another section; edit each context apart.",
                    number,
                )
            )
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        value = value.removeprefix(">").strip()
        if not key or "=" not in line:
            problems.append(
                Problem("dialplan.syntax", f"Not 'key => value': {line[:60]!r}.", number)
            )
            continue
        lowered = key.lower()
        if lowered not in KEYS and lowered != "autohints":
            problems.append(Problem("dialplan.unknown_key", f"Unknown key {key!r}.", number))
            continue
        if lowered in ("exten", "same"):
            problems.extend(_shape(lowered, value, number))
    return problems


def _shape(key: str, value: str, line: int) -> list[Problem]:
    """``exten => extension,priority,application(...)`` / ``same => priority,application(...)``."""
    if key == "exten":
        exten, rest = split_exten(value)
        if not exten.strip():
            return [Problem("dialplan.shape", "The extension is empty.", line)]
        if "$" in exten:
            return [
                Problem(
                    "dialplan.dynamic_extension",
                    "An extension named by a variable or expression cannot be checked.",
                    line,
                )
            ]
    else:
        rest = value
    priority, _, application = (rest or "").partition(",")
    if not priority.strip() or not application.strip():
        expected = (
            "exten => extension,priority,application(arguments)"
            if key == "exten"
            else "same => priority,application(arguments)"
        )
        return [Problem("dialplan.shape", f"Expected '{expected}'.", line)]
    return []


def parse_context(name: str, text: str) -> Section:
    """The text under its ``[name]`` header, lines counted from the header (line 1).

    Raises:
        ConfigSyntaxError: as ``parse_config`` (``scan_text`` reports those first).
    """
    (section,) = parse_config(f"[{name}]\n{text}", EDITED).sections
    return section


# -- checks over a loaded dialplan ------------------------------------------------------


def jump_targets(step: Priority) -> list[Target]:
    """Each place a ``Goto``/``GotoIf``/``Gosub``/``GosubIf`` step may jump to."""
    app = step.app.lower()
    if app not in JUMP_APPLICATIONS:
        return []
    places = [step.data]
    if app in ("gotoif", "gosubif"):
        _, mark, branches = _split_top(step.data, "?")
        places = _split_all(branches, ":") if mark else []
    targets = []
    for place in places:
        place = place.strip()
        if not place:
            continue
        if app.startswith("gosub"):
            place = place.partition("(")[0]
        parts = [p.strip() for p in place.split(",")]
        if len(parts) > 3:
            continue
        parts = [step.context, step.exten][: 3 - len(parts)] + parts
        targets.append(Target(parts[0], parts[1], parts[2]))
    return targets


def _split_top(text: str, mark: str) -> tuple[str, str, str]:
    """Split at the first ``mark`` outside ``${...}``, ``$[...]`` and parentheses."""
    depth = 0
    for index, char in enumerate(text):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth = max(0, depth - 1)
        elif char == mark and not depth:
            return text[:index], mark, text[index + 1 :]
    return text, "", ""


def _split_all(text: str, mark: str) -> list[str]:
    parts = []
    while True:
        head, found, text = _split_top(text, mark)
        parts.append(head)
        if not found:
            return parts


def _reaches(dialplan: Dialplan, context: str, exten: str, priority: str, seen: set[str]) -> bool:
    """Whether ``context`` (or a context it includes) has ``exten`` at ``priority``."""
    if context in seen:
        return False
    seen.add(context)
    found = dialplan.contexts.get(context)
    if found is None:
        return False
    label, _, _ = priority.partition("+")
    if label.isdigit():
        if found.has(exten, int(label)):
            return True
    elif found.find_label(exten, label) is not None:
        return True
    return any(
        _reaches(dialplan, _include_name(include), exten, priority, seen)
        for include in found.includes
    )


def _include_name(value: str) -> str:
    """The context an ``include =>`` names (its time condition cut off)."""
    return re.split(r"[,|]", value, maxsplit=1)[0].strip()


def check_jump(dialplan: Dialplan, step: Priority, target: Target) -> Problem | None:
    """Why ``target`` of ``step`` does not land, or None (unknowable targets pass)."""
    if any("$" in part for part in target) or re.fullmatch(r"[+-]\d+", target.priority):
        return None
    where = f"{step.app}({step.data})"
    if target.context not in dialplan.contexts:
        return Problem(
            "dialplan.unknown_context",
            f"{where} jumps to context '{target.context}', which does not exist.",
            step.line,
            step.file,
        )
    if not _reaches(dialplan, target.context, target.exten, target.priority, set()):
        kind = "priority" if target.priority.partition("+")[0].isdigit() else "label"
        return Problem(
            f"dialplan.unknown_{kind}",
            f"{where} jumps to {target.context},{target.exten},{target.priority}: no such "
            f"extension and {kind} there.",
            step.line,
            step.file,
        )
    return None


def check_step(dialplan: Dialplan, step: Priority, allowed: Collection[str]) -> list[Problem]:
    """Problems of one priority: its application, forbidden commands, its jumps."""
    allow = {name.lower() for name in allowed}
    if step.priority == PRIORITY_HINT:
        return []
    problems = []
    app = step.app.strip()
    if not APPLICATION_NAME.fullmatch(app):
        problems.append(
            Problem(
                "dialplan.application",
                f"{app!r} is not an application name"
                + (" (named at run time, so it cannot be checked)." if "$" in app else "."),
                step.line,
                step.file,
            )
        )
        return problems
    forbidden = {n.lower(): n for n in FORBIDDEN_APPLICATIONS if n.lower() not in allow}
    if app.lower() in forbidden:
        problems.append(_forbidden(forbidden[app.lower()], "application", step))
    if app.lower() in EXEC_APPLICATIONS:
        for name in forbidden.values():
            if re.search(rf"(?i)(?<![\w$]){name}\s*\(", step.data):
                problems.append(_forbidden(name, "application", step))
    for target in jump_targets(step):
        problem = check_jump(dialplan, step, target)
        if problem is not None:
            problems.append(problem)
    return problems


def _forbidden(name: str, kind: str, step: Priority) -> Problem:
    return _refused(name, kind, step.line, step.file)


def _refused(name: str, kind: str, line: int, file: str) -> Problem:
    return Problem(
        "dialplan.forbidden",
        f"The {kind} {name} runs shell commands on the PBX; it is refused unless "
        "CTI_DIALPLAN_ALLOWED_APPLICATIONS allows it.",
        line,
        file,
    )


def check_section(
    dialplan: Dialplan, file: str, section: Section, allowed: Collection[str] = ()
) -> list[Problem]:
    """Problems of a section as a whole: forbidden functions on any line (hints, includes
    and switches are expanded at load time), includes of unknown contexts, dead extensions.
    """
    allow = {name.lower() for name in allowed}
    problems = []
    for item in section.items:
        for function in FORBIDDEN_FUNCTIONS:
            if function.lower() not in allow and re.search(rf"(?i)\b{function}\s*\(", item.value):
                problems.append(_refused(function, "function", item.line, file))
        if item.key.lower() == "include":
            name = _include_name(item.value)
            if "$" not in name and name not in dialplan.contexts:
                problems.append(
                    Problem(
                        "dialplan.unknown_context",
                        f"include => {name}: no such context.",
                        item.line,
                        file,
                    )
                )
    context = dialplan.contexts.get(section.name)
    lines = {item.line for item in section.items}
    for extension in context.extensions if context is not None else []:
        mine = [p for p in extension.priorities if p.file == file and p.line in lines]
        steps = [p for p in extension.priorities if p.priority != PRIORITY_HINT]
        if mine and steps and not any(p.priority == 1 for p in steps):
            problems.append(
                Problem(
                    "dialplan.no_first_priority",
                    f"Extension '{extension.name}' has no priority 1: a call to it never starts.",
                    mine[0].line,
                    file,
                )
            )
    return problems


def check_dialplan(
    sections: Iterable[tuple[str, Section]], allowed: Collection[str] = ()
) -> list[Problem]:
    """Every problem of a whole dialplan (the shipped one must have none)."""
    ordered = list(sections)
    dialplan = load_dialplan(ordered)
    problems = [Problem(w.error_id, w.message, w.line, w.file) for w in dialplan.warnings]
    for context in dialplan.contexts.values():
        for step in context.priorities():
            problems.extend(check_step(dialplan, step, allowed))
    for file, section in ordered:
        if section.name.lower() not in NOT_CONTEXTS and not section.template:
            problems.extend(check_section(dialplan, file, section, allowed))
    return problems


def validate_context(
    name: str,
    text: str,
    sections: Sequence[tuple[str, Section]],
    *,
    file: str,
    allowed: Collection[str] = (),
) -> list[Problem]:
    """Every reason not to save ``text`` as context ``name`` of ``file``.

    ``sections`` is the dialplan as it stands (``asterisk_order``). Problems of the text
    have ``file`` None and lines counted in the text; problems the edit causes elsewhere
    (a jump into this context that no longer lands) name their file and line.
    """
    problems = check_name(name) + scan_text(text)
    if problems:
        return problems
    try:
        edited = parse_context(name, text)
    except ConfigSyntaxError as exc:
        return [Problem("dialplan.syntax", str(exc).partition(": ")[2], exc.line - 1)]
    for where, section in sections:
        if section.name == name and where != file:
            problems.append(
                Problem(
                    "dialplan.defined_twice",
                    f"[{name}] is also defined in {where} (line {section.line}); the editor "
                    "manages a context defined once.",
                )
            )
    after = with_context(sections, name, file, edited)
    dialplan = load_dialplan(after)
    found = [Problem(w.error_id, w.message, w.line, w.file) for w in dialplan.warnings]
    context = dialplan.contexts[name]
    for step in context.priorities():
        if step.file == EDITED:
            found.extend(check_step(dialplan, step, allowed))
    found.extend(check_section(dialplan, EDITED, edited, allowed))
    problems.extend(
        Problem(p.error_id, p.message, (p.line or 1) - 1) for p in found if p.file == EDITED
    )
    problems.extend(_broken_inbound(load_dialplan(sections), dialplan, name))
    return problems


def _broken_inbound(before: Dialplan, after: Dialplan, name: str) -> list[Problem]:
    """Jumps from other contexts into ``name`` that landed before the edit and not after."""

    def broken(dialplan: Dialplan) -> dict[tuple[str, int, Target], Problem]:
        found = {}
        for context in dialplan.contexts.values():
            for step in context.priorities():
                if step.file == EDITED:
                    continue
                for target in jump_targets(step):
                    if target.context != name:
                        continue
                    problem = check_jump(dialplan, step, target)
                    if problem is not None:
                        found[(step.file, step.line, target)] = problem
        return found

    was = broken(before)
    return [
        Problem(p.error_id, f"{p.message} This version removes it.", p.line, p.file)
        for key, p in broken(after).items()
        if key not in was
    ]


__all__ = [
    "EDITED",
    "FORBIDDEN_APPLICATIONS",
    "FORBIDDEN_FUNCTIONS",
    "Problem",
    "Source",
    "Target",
    "asterisk_order",
    "check_dialplan",
    "check_name",
    "jump_targets",
    "scan_text",
    "validate_context",
    "with_context",
]
