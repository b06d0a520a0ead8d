"""Asterisk's ``.conf`` syntax as pure code: sections, templates, items, includes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\](?:\((?P<options>[^)]*)\))?\s*$")


class ConfigSyntaxError(ValueError):
    """A line Asterisk's config parser would refuse."""

    error_id = "config.syntax"

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


@dataclass
class Item:
    """One ``key = value`` or ``key => value`` line."""

    key: str
    value: str
    line: int
    arrow: bool = False


@dataclass
class Section:
    """One ``[name]`` block, with the templates it inherits or declares."""

    name: str
    line: int
    template: bool = False
    inherits: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def get(self, key: str) -> list[str]:
        return [item.value for item in self.items if item.key == key]


@dataclass
class ConfigFile:
    """A parsed file: its sections in order and the files it ``#include``s."""

    path: str
    sections: list[Section] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    include_lines: list[int] = field(default_factory=list)
    """The line of each ``#include``, to place the included sections as Asterisk does."""
    skipped: list[tuple[int, str]] = field(default_factory=list)
    """Lines a lenient parse skipped, with Asterisk's warning: ``(line, message)``."""

    def section(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]


def strip_comment(line: str) -> str:
    """Cut a ``;`` comment, keeping an escaped ``\\;``."""
    out = []
    escaped = False
    for char in line:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == ";":
            break
        else:
            out.append(char)
    return "".join(out).strip()


def parse_config(text: str, path: str = "<text>", *, lenient: bool = False) -> ConfigFile:
    """Parse one file as Asterisk does.

    With ``lenient``, lines Asterisk 22's ``main/config.c`` only warns about (no ``=``,
    no name, an unknown or refused directive) are skipped and listed in ``skipped``,
    as a reload would; the others still raise, as they fail the whole file there.

    Raises:
        ConfigSyntaxError: a line that is neither a section, an item nor a directive,
            an item before any section, or a ``#exec`` (never allowed here).
    """
    config = ConfigFile(path)
    current: Section | None = None
    in_block_comment = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_block_comment:
            if "--;" in line:
                in_block_comment = False
            continue
        if line.startswith(";--"):
            in_block_comment = "--;" not in line[3:]
            continue
        line = strip_comment(line)
        if not line:
            continue
        if line.startswith("#"):
            directive, _, argument = line.partition(" ")
            if directive == "#include" or directive == "#tryinclude":
                config.includes.append(argument.strip().strip('"<>'))
                config.include_lines.append(number)
                continue
            if lenient:
                config.skipped.append((number, f"Unknown or refused directive '{directive}'"))
                continue
            raise ConfigSyntaxError(path, number, f"directive {directive} is not allowed")
        match = _SECTION.match(line)
        if match is None and line.startswith("["):
            if not lenient or "]" not in line or line.partition("]")[2].startswith("("):
                raise ConfigSyntaxError(path, number, f"not a section header: {line[:60]!r}")
            match = _SECTION.match(line.partition("]")[0] + "]")
        if match:
            options = [o.strip() for o in (match.group("options") or "").split(",") if o.strip()]
            current = Section(
                match.group("name").strip(),
                number,
                template="!" in options,
                inherits=[o for o in options if o != "!"],
            )
            config.sections.append(current)
            continue
        if current is None:
            raise ConfigSyntaxError(path, number, "an item before any [section]")
        key, arrow, value = _split_item(line)
        if key is None:
            if lenient:
                message = "No variable name" if "=" in line else "No '=' (equal sign)"
                config.skipped.append((number, f"{message} in line {number} of {path}"))
                continue
            raise ConfigSyntaxError(path, number, f"not 'name = value': {line[:60]!r}")
        current.items.append(Item(key, value, number, arrow))
    return config


def _split_item(line: str) -> tuple[str | None, bool, str]:
    equals_at = line.find("=")
    if equals_at <= 0:
        return None, False, ""
    arrow = line.startswith("=>", equals_at)
    key = line[:equals_at].strip()
    value = line[equals_at + (2 if arrow else 1) :].strip()
    return (key or None), arrow, value
