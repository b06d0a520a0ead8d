"""``dialplan show <context>`` output read back, and compared with what was rendered.

Asterisk 22 prints each priority as ``print_ext`` and ``show_dialplan_helper`` do in
``main/pbx.c``: the first of an extension as ``  'exten' =>`` padded to 17 columns,
later ones with ``[label]`` or blanks, then ``N. App(data)`` padded to 45 and the origin
``[file:line]``. Pure: lines in, steps out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cti.dialplan.config import parse_config
from cti.dialplan.pbx import Priority, load_dialplan

STEP_WIDTH = 1023
"""``print_ext`` writes into a 1024-byte buffer: longer steps are cut."""

_HEADER = re.compile(r"\[ (?:Included )?[Cc]ontext '(?P<name>.*)' created by '(?P<by>.*)' \]")
_FIRST = re.compile(r"  '(?P<exten>.*?)'(?: \(CID match '(?P<cid>.*?)'\))? =>\s?(?P<rest>.*)")
_PEER = re.compile(r"  (?: {3}\[(?P<label>[^\]]*)\])?\s+(?P<rest>(?:\d+\. |hint: ).*)")
_ORIGIN = re.compile(r"(?P<step>.*?)\s+\[(?P<origin>[^\[\]]+)\]")
_INCLUDE = re.compile(r"  Include =>\s+'(?P<name>.*)'\s+\[[^\[\]]*\]")


@dataclass(frozen=True, slots=True)
class ShownStep:
    """One priority as ``dialplan show`` printed it."""

    exten: str
    step: str
    origin: str
    label: str | None = None


@dataclass(slots=True)
class ShownContext:
    """What ``dialplan show <context>`` said about one context."""

    name: str
    exists: bool = False
    steps: list[ShownStep] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)


def command_output(reply: object) -> list[str]:
    """The ``Output`` lines of an AMI ``Command`` reply (joined by ``\\n`` or a list)."""
    if isinstance(reply, list):
        reply = reply[0] if reply else {}
    if not isinstance(reply, dict):
        return []
    output = reply.get("Output", "")
    if isinstance(output, list):
        return [str(line) for line in output]
    return str(output).split("\n") if output else []


def parse_show(lines: Iterable[str], context: str) -> ShownContext:
    """The steps of ``context`` in the output of ``dialplan show <context>``."""
    shown = ShownContext(context)
    current: str | None = None
    exten = ""
    for line in lines:
        header = _HEADER.fullmatch(line)
        if header:
            current = header.group("name")
            shown.exists = shown.exists or current == context
            continue
        if current != context:
            continue
        first = _FIRST.fullmatch(line)
        if first:
            exten = first.group("exten")
            step = _step(first.group("rest"), exten)
            if step is not None:
                shown.steps.append(step)
            continue
        include = _INCLUDE.fullmatch(line)
        if include:
            shown.includes.append(include.group("name"))
            continue
        peer = _PEER.fullmatch(line)
        if peer and exten:
            step = _step(peer.group("rest"), exten, peer.group("label"))
            if step is not None:
                shown.steps.append(step)
    return shown


def _step(rest: str, exten: str, label: str | None = None) -> ShownStep | None:
    found = _ORIGIN.fullmatch(rest.rstrip())
    if found is None:
        return None
    return ShownStep(exten, found.group("step").strip(), found.group("origin"), label)


def expected_step(priority: Priority) -> ShownStep:
    """How ``dialplan show`` prints a priority pbx_config registered."""
    return ShownStep(
        priority.exten, priority.step[:STEP_WIDTH].rstrip(), f"{priority.file}:{priority.line}"
    )


@dataclass(frozen=True, slots=True)
class LoadCheck:
    """Whether Asterisk holds every rendered priority, and which ones it lacks."""

    context: str
    expected: int
    missing: tuple[Priority, ...]

    @property
    def loaded(self) -> int:
        return self.expected - len(self.missing)

    @property
    def ok(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        return f"Asterisk loaded {self.loaded} of {self.expected} priorities of {self.context}"


def check_loaded(context: str, expected: Sequence[Priority], shown: ShownContext) -> LoadCheck:
    """Compare rendered priorities with what ``dialplan show`` lists (extra ones ignored)."""
    have = Counter((s.exten, s.step, s.origin) for s in shown.steps)
    missing = []
    for priority in expected:
        step = expected_step(priority)
        key = (step.exten, step.step, step.origin)
        if have[key]:
            have[key] -= 1
        else:
            missing.append(priority)
    return LoadCheck(context, len(expected), tuple(missing))


def same_steps(before: ShownContext, after: ShownContext) -> bool:
    """Whether two readings of one context list the same steps from the same origins."""
    return Counter(before.steps) == Counter(after.steps) and before.exists == after.exists


def rendered_priorities(context: str, file: str, file_text: str) -> list[Priority]:
    """The priorities a reload registers for ``context`` from one rendered file."""
    config = parse_config(file_text, file)
    dialplan = load_dialplan((file, section) for section in config.sections)
    found = dialplan.contexts.get(context)
    return found.priorities() if found is not None else []
