"""A context's text in and out of its ``dialplans/`` file, and diffs between versions.

A context's text is the lines under its ``[name]`` header up to the next header, less
trailing blank lines; rendering puts a new text there and leaves every other line of
the file as it was. Pure: strings in, strings out.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from cti.dialplan.config import parse_config


@dataclass(frozen=True, slots=True)
class Block:
    """Where one context sits in a file: header index, end of its text (0-based)."""

    name: str
    header: int
    end: int


def normalize(text: str) -> str:
    """Unix line ends, no trailing blank lines, one final newline (empty stays empty)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    return f"{text}\n" if text else ""


def blocks(file_text: str, path: str = "<file>") -> list[Block]:
    """Every section of a file with the lines it spans.

    Raises:
        ConfigSyntaxError: the file does not parse (Asterisk would refuse it too).
    """
    lines = file_text.split("\n")
    headers = [(s.name, s.line - 1) for s in parse_config(file_text, path).sections]
    found = []
    for index, (name, header) in enumerate(headers):
        end = headers[index + 1][1] if index + 1 < len(headers) else len(lines)
        while end > header + 1 and not lines[end - 1].strip():
            end -= 1
        found.append(Block(name, header, end))
    return found


def context_text(file_text: str, name: str, path: str = "<file>") -> str | None:
    """The text of context ``name`` in a file, None when the file has no such section."""
    lines = file_text.split("\n")
    for block in blocks(file_text, path):
        if block.name == name:
            return normalize("\n".join(lines[block.header + 1 : block.end]))
    return None


def render(file_text: str | None, name: str, text: str, path: str = "<file>") -> str:
    """The file with context ``name`` holding ``text`` (added at the end when new)."""
    text = normalize(text)
    if not file_text or not file_text.strip():
        return f"[{name}]\n{text}"
    lines = file_text.split("\n")
    for block in blocks(file_text, path):
        if block.name == name:
            body = text.split("\n")[:-1] if text else []
            out = [*lines[: block.header + 1], *body, *lines[block.end :]]
            return "\n".join(out)
    return f"{file_text.rstrip()}\n\n[{name}]\n{text}"


def unified_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    """A unified diff of two texts (empty when they are equal)."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_label, new_label, lineterm=""
    )
    out = "\n".join(lines)
    return f"{out}\n" if out else ""
