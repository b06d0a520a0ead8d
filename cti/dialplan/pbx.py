"""What Asterisk 22's ``pbx_config`` registers from parsed sections, as pure code.

The rules follow ``pbx/pbx_config.c`` (``pbx_load_config``) and ``main/pbx.c``
(``ast_add_extension2``, ``add_priority``, ``ext_cmp``, ``_extension_match_core``) of
Asterisk 22: how ``exten``/``same`` lines become priorities, which lines a reload skips
with a warning, the order extensions are kept (and shown) in, and pattern matching.
The validator uses it to refuse what Asterisk would drop, the editor to know what
``dialplan show`` must list after a reload, the simulator to answer like Asterisk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cti.dialplan.config import Section

PRIORITY_HINT = -1
REGISTRAR = "pbx_config"
NOT_CONTEXTS = frozenset({"general", "globals"})
"""Sections pbx_config never reads as contexts (compared without case)."""
_NUMBER = re.compile(r"\s*[+-]?\d+")
_VARIABLE = re.compile(r"\$\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Priority:
    """One registered priority, with the file and line it came from."""

    context: str
    exten: str
    """The extension as Asterisk keeps its name (blanks outside ``[]`` removed)."""
    priority: int
    label: str | None
    app: str
    data: str
    cid: str | None
    file: str
    line: int

    @property
    def step(self) -> str:
        """The priority as ``dialplan show`` prints it (``print_ext``)."""
        if self.priority == PRIORITY_HINT:
            return f"hint: {self.app}"
        return f"{self.priority}. {self.app}({self.data})"


@dataclass(slots=True)
class Extension:
    """One extension (with its caller ID match) and its priorities in order."""

    name: str
    match: str
    cid: str | None
    cid_match: str | None
    priorities: list[Priority] = field(default_factory=list)


@dataclass(slots=True)
class Context:
    """One context: extensions in Asterisk's order, includes, ignore patterns, switches."""

    name: str
    registrar: str = REGISTRAR
    extensions: list[Extension] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    ignorepats: list[str] = field(default_factory=list)
    switches: list[tuple[str, str]] = field(default_factory=list)
    autohints: bool = False

    def priorities(self) -> list[Priority]:
        """Every priority, extension by extension, as ``dialplan show`` lists them."""
        return [p for extension in self.extensions for p in extension.priorities]

    def find_label(self, exten: str, label: str, cid: str | None = None) -> int | None:
        """The priority of ``label`` in the extension matching ``exten``, if any."""
        for extension in self.extensions:
            if extension_match(extension.name, exten) and (cid is None or extension.cid == cid):
                for priority in extension.priorities:
                    if priority.label == label:
                        return priority.priority
        return None

    def has(self, exten: str, priority: int) -> bool:
        """Whether a call to ``exten`` at ``priority`` finds a step (patterns included)."""
        return any(
            extension_match(e.name, exten) and any(p.priority == priority for p in e.priorities)
            for e in self.extensions
        )


@dataclass(frozen=True, slots=True)
class LoadWarning:
    """A line a reload skips or changes, with the message Asterisk logs for it."""

    error_id: str
    file: str
    line: int
    message: str
    skipped: bool = True
    """False for a line that is loaded all the same (a dropped label, a missing ``)``)."""


@dataclass(slots=True)
class Dialplan:
    """What a reload leaves in force: contexts by name and what it warned about."""

    contexts: dict[str, Context] = field(default_factory=dict)
    warnings: list[LoadWarning] = field(default_factory=list)
    globals: dict[str, str] = field(default_factory=dict)

    def context(self, name: str) -> Context:
        found = self.contexts.get(name)
        if found is None:
            found = self.contexts[name] = Context(name)
        return found


def load_dialplan(sections: Iterable[tuple[str, Section]]) -> Dialplan:
    """Register ``(file, section)`` pairs, in the order Asterisk reads them, as pbx_config.

    ``file`` is the name Asterisk reports a priority's origin by (the file's base name).
    """
    ordered = list(sections)
    dialplan = Dialplan()
    for _, section in ordered:
        if section.name.lower() == "globals":
            for item in section.items:
                dialplan.globals[item.key] = substitute(unescape(item.value), dialplan.globals)
    for file, section in ordered:
        if section.name.lower() in NOT_CONTEXTS or section.template:
            continue
        _Loader(dialplan, dialplan.context(section.name), file).load(section)
    return dialplan


def unescape(value: str) -> str:
    """A value as Asterisk's config reader hands it on: ``\\;`` becomes ``;``."""
    return value.replace("\\;", ";")


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``${NAME}`` replaced by a global's value (empty when unset), as at load time."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text)


class _Loader:
    """``pbx_load_config``'s loop over one section's lines."""

    def __init__(self, dialplan: Dialplan, context: Context, file: str) -> None:
        self.dialplan = dialplan
        self.context = context
        self.file = file
        self.last_extension = ""
        self.last_priority = -2

    def warn(self, error_id: str, line: int, message: str, *, skipped: bool = True) -> None:
        self.dialplan.warnings.append(LoadWarning(error_id, self.file, line, message, skipped))

    def load(self, section: Section) -> None:
        for item in section.items:
            key, value = item.key.lower(), unescape(item.value)
            if key.startswith("same"):
                if not self.last_extension:
                    self.warn(
                        "dialplan.same_first",
                        item.line,
                        f"No previous pattern in the first entry of context "
                        f"'{self.context.name}' to match '{item.key}' at line {item.line} "
                        f"of {self.file}!",
                    )
                    continue
                self.extension(self.last_extension, value, item.line)
            elif key == "exten":
                head, rest = split_exten(value)
                real = substitute(head, self.dialplan.globals)
                self.last_extension = real
                self.extension(real, rest, item.line)
            elif key == "include":
                self.include(substitute(value, self.dialplan.globals), item.line)
            elif key == "ignorepat":
                pattern = substitute(value, self.dialplan.globals)
                if pattern in self.context.ignorepats:
                    self.warn(
                        "dialplan.ignorepat",
                        item.line,
                        f"Unable to include ignorepat '{value}' in context "
                        f"'{self.context.name}' at line {item.line} of {self.file}",
                    )
                else:
                    self.context.ignorepats.append(pattern)
            elif key in ("switch", "lswitch", "eswitch"):
                text = substitute(value, self.dialplan.globals) if key == "switch" else value
                name, _, data = text.partition("/")
                self.context.switches.append((name, data))
            elif key == "autohints":
                self.context.autohints = value.strip().lower() in {"yes", "true", "y", "on", "1"}
            else:
                self.warn(
                    "dialplan.unknown_directive",
                    item.line,
                    f"==!!== Unknown directive: {item.key} at line {item.line} of {self.file} "
                    "-- IGNORING!!!",
                )

    def include(self, value: str, line: int) -> None:
        if any(value.lower() == existing.lower() for existing in self.context.includes):
            self.warn(
                "dialplan.include_twice",
                line,
                f"Context '{value}' already included in '{self.context.name}' context on "
                f"include at line {line} of {self.file}",
            )
            return
        self.context.includes.append(value)

    def extension(self, real: str, rest: str | None, line: int) -> None:
        exten, cid = real, None
        if "/" in exten:
            exten, _, cid = exten.partition("/")
            cid = shrink_phone_number(cid)
        pri_text, _, after = (rest or "").partition(",")
        appl = after if rest is not None and "," in rest else ""
        pri = pri_text.strip()
        label: str | None = None
        if "(" in pri:
            pri, _, label = pri.partition("(")
            if ")" not in label:
                self.warn(
                    "dialplan.label_paren",
                    line,
                    f"Label missing trailing ')' at line {line} of {self.file}",
                )
                return
            label = label.partition(")")[0]
        plus = None
        if "+" in pri:
            pri, _, plus = pri.partition("+")
        number = self.priority_number(pri, exten, cid, line)
        if number is None:
            return
        app, data = split_application(appl)
        if data is not None and data.endswith("\0"):
            data = data[:-1]
            self.warn(
                "dialplan.paren",
                line,
                f"No closing parenthesis found? '{app}({data}' at line {line} of {self.file}",
                skipped=False,
            )
        app = app.lstrip("".join(chr(c) for c in range(33)))
        if not number:
            return
        if plus is not None:
            number += atoi(plus)
        self.last_priority = number
        if exten in ("_.", "_!"):
            self.warn(
                "dialplan.match_all",
                line,
                f"The use of '{exten}' for an extension is strongly discouraged and can have "
                f"unexpected behavior.  Please use '_X{exten[1]}' instead at line {line} of "
                f"{self.file}",
                skipped=False,
            )
        if number == PRIORITY_HINT and "${" in app and not exten.startswith("_"):
            app = substitute(app, self.dialplan.globals)
        self.add(exten, number, label or None, cid, app, data or "", line)

    def priority_number(self, pri: str, exten: str, cid: str | None, line: int) -> int | None:
        """The priority a line gets, or None (with Asterisk's warning) when it is skipped."""
        if pri == "hint":
            return PRIORITY_HINT
        if pri in ("next", "n", "same", "s"):
            if self.last_priority > -2:
                return self.last_priority + (1 if pri in ("next", "n") else 0)
            word = "next" if pri in ("next", "n") else "same"
            self.warn(
                "dialplan.priority_first",
                line,
                f"Can't use '{word}' priority on the first entry at line {line} of {self.file}!",
            )
            return None
        match = _NUMBER.match(pri[:30])
        if match is None:
            found = self.context.find_label(exten, pri, cid)
            if found is None or found < 1:
                self.warn(
                    "dialplan.priority",
                    line,
                    f"Invalid priority/label '{pri}' at line {line} of {self.file}",
                )
                return None
            return found
        number = int(match.group())
        if number < 1:
            self.warn(
                "dialplan.priority",
                line,
                f"Invalid priority '{pri}' at line {line} of {self.file}",
            )
            return None
        return number

    def add(
        self,
        exten: str,
        number: int,
        label: str | None,
        cid: str | None,
        app: str,
        data: str,
        line: int,
    ) -> None:
        """``ast_add_extension2`` without replace: sorted in, or refused when taken."""
        name = exten_name(exten, number)
        if not name:
            self.warn(
                "dialplan.empty_extension",
                line,
                f"You have to be kidding-- add exten '' to context {self.context.name}? "
                "Figure out a name and call me back. Action ignored.",
            )
            return
        match = exten_name(exten, number, fluff=False)
        cid_name = exten_name(cid, 0) if cid is not None else None
        cid_match = exten_name(cid, 0, fluff=False) if cid is not None else None
        step = Priority(self.context.name, name, number, label, app, data, cid, self.file, line)
        extensions = self.context.extensions
        position = len(extensions)
        for index, existing in enumerate(extensions):
            order = _exten_order(existing, match, cid_match)
            if order >= 0:
                position = index
                if order == 0:
                    self.add_priority(existing, step)
                    return
                break
        extensions.insert(position, Extension(name, match, cid_name, cid_match, [step]))

    def add_priority(self, extension: Extension, step: Priority) -> None:
        """``add_priority``: refuse a taken priority, drop a label already in use."""
        peers = extension.priorities
        position = len(peers)
        repeated = None
        for index, peer in enumerate(peers):
            if (
                peer.label is not None
                and step.label is not None
                and peer.priority != step.priority
                and peer.label == step.label
            ):
                repeated = peer
            if peer.priority >= step.priority:
                position = index
                break
        if repeated is not None:
            self.warn(
                "dialplan.label_twice",
                step.line,
                f"Extension '{step.exten}' priority {step.priority} in '{self.context.name}', "
                f"label '{step.label}' already in use at priority {repeated.priority}",
                skipped=False,
            )
            step = Priority(
                step.context,
                step.exten,
                step.priority,
                None,
                step.app,
                step.data,
                step.cid,
                step.file,
                step.line,
            )
        if position < len(peers) and peers[position].priority == step.priority:
            self.warn(
                "dialplan.priority_taken",
                step.line,
                f"Unable to register extension '{step.exten}' priority {step.priority} in "
                f"'{self.context.name}', already in use",
            )
            return
        peers.insert(position, step)


def _exten_order(existing: Extension, match: str, cid_match: str | None) -> int:
    """``ext_cmp`` of an existing extension against a new one, caller ID match included."""
    order = ext_cmp(existing.match, match)
    if order:
        return order
    if existing.cid_match is None and cid_match is None:
        return 0
    if existing.cid_match is None:
        return 1
    if cid_match is None:
        return -1
    return ext_cmp(existing.cid_match, cid_match)


def split_exten(value: str) -> tuple[str, str | None]:
    """``pbx_strsep`` on ``,``: the extension (commas inside ``[]`` kept), then the rest."""
    square = 0
    index = 0
    while index < len(value):
        char = value[index]
        if char == "[":
            square += 1
        elif char == "]":
            square = max(0, square - 1)
        elif char == "\\":
            index += 1
        elif char == "," and not square:
            return value[:index], value[index + 1 :]
        index += 1
    return value, None


def split_application(appl: str) -> tuple[str, str | None]:
    """Application and data as pbx_config splits them; data ends in NUL when ``)`` is missing."""
    if "(" not in appl:
        return appl, None
    name, _, data = appl.partition("(")
    if "${" in name or "$[" in name:
        return appl, None
    end = data.rfind(")")
    if end < 0:
        return name, data + "\0"
    return name, data[:end]


def shrink_phone_number(number: str) -> str:
    """``ast_shrink_phone_number``: drop blanks, parentheses, ``-`` and ``.`` as Asterisk does."""
    out = []
    bracketed = 0
    for index, char in enumerate(number):
        if char == "[":
            bracketed += 1
            out.append(char)
        elif char == "]":
            bracketed -= 1
            out.append(char)
        elif char == "-":
            if bracketed:
                out.append(char)
        elif char == ".":
            if index == len(number) - 1:
                out.append(char)
        elif char not in "( )":
            out.append(char)
    return "".join(out)


def exten_name(exten: str, priority: int, *, fluff: bool = True) -> str:
    """``ext_strncpy``: blanks outside ``[]`` go; without ``fluff``, ``-`` outside ``[]`` too."""
    if not fluff and priority == PRIORITY_HINT:
        fluff = True
    pattern = exten.startswith("_")
    out = []
    in_squares = False
    for char in exten:
        if char == "[":
            in_squares = in_squares or pattern
        elif char == "]":
            in_squares = False
        elif not in_squares and (char == " " or (char == "-" and not fluff)):
            continue
        out.append(char)
    return "".join(out)


def atoi(text: str) -> int:
    """C's ``atoi``: leading blanks, a sign, digits; 0 when there are none."""
    match = _NUMBER.match(text)
    return int(match.group()) if match else 0


# -- ordering and matching (main/pbx.c) ----------------------------------------------------


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _cmp_exten(left: bytes, right: bytes) -> int:
    """``ext_cmp_exten``: byte order with ``-`` ignored."""
    a = [b for b in left if b != 0x2D] + [0]
    b = [c for c in right if c != 0x2D] + [0]
    for x, y in zip(a, b, strict=False):
        if x != y or not x:
            return _signed(x) - _signed(y)
    return 0


def _pattern_pos(text: bytes, index: int, bits: bytearray) -> tuple[int, int | None]:
    """``ext_cmp_pattern_pos``: the weight of the next pattern element, and where it ends."""
    while True:
        char = 0
        while True:
            char = text[index] if index < len(text) else 0
            index += 1
            if char != 0x2D:
                break
        if char in b"nN":
            bits[6], bits[7] = 0x3F, 0xC0
            return 0x0800 | ord("2"), index
        if char in b"xX":
            bits[6], bits[7] = 0xFF, 0xC0
            return 0x0A00 | ord("0"), index
        if char in b"zZ":
            bits[6], bits[7] = 0x7F, 0xC0
            return 0x0900 | ord("1"), index
        if char == 0x2E:
            return 0x18000, index
        if char == 0x21:
            return 0x28000, index
        if char == 0:
            return 0x30000, None
        if char != 0x5B:
            bits[char // 8] = 1 << (7 - char % 8)
            return 0x0100 | char, index
        end = text.find(b"]", index)
        if end < 0:
            return 0x40000, index
        count, lowest = 0, 0xFF
        while index < end:
            first = last = text[index]
            if index + 2 < end and text[index + 1] == 0x2D:
                last = text[index + 2]
                index += 2
            lowest = min(lowest, first)
            for member in range(first, last + 1):
                mask = 1 << (7 - member % 8)
                if not bits[member // 8] & mask:
                    bits[member // 8] |= mask
                    count += 0x100
            index += 1
        index += 1
        if count:
            return count | lowest, index


def _cmp_pattern(left: bytes, right: bytes) -> int:
    """``ext_cmp_pattern``: more specific patterns first."""
    left_at: int | None = 0
    right_at: int | None = 0
    while True:
        left_bits, right_bits = bytearray(32), bytearray(32)
        left_pos, left_at = _pattern_pos(left, left_at or 0, left_bits)
        right_pos, right_at = _pattern_pos(right, right_at or 0, right_bits)
        order = left_pos - right_pos
        if not order:
            order = (right_bits > left_bits) - (right_bits < left_bits)
        if order or left_at is None:
            return order


def ext_cmp(left: str, right: str) -> int:
    """``ext_cmp``: the order Asterisk keeps extensions in (plain names before patterns)."""
    a, b = left.encode(), right.encode()
    if not a.startswith(b"_"):
        return -1 if b.startswith(b"_") else _cmp_exten(a, b)
    if not b.startswith(b"_"):
        return 1
    return _cmp_pattern(a[1:], b[1:])


def extension_match(pattern: str, data: str) -> bool:
    """``ast_extension_match``: whether extension ``data`` runs ``pattern`` (exact match)."""
    if not pattern.startswith("_"):
        return _cmp_exten(pattern.encode(), data.encode()) == 0
    if data.startswith("_") and _cmp_pattern(pattern[1:].encode(), data[1:].encode()) == 0:
        return True
    p, d = pattern[1:], data
    i = j = 0
    while True:
        while j < len(d) and d[j] == "-":
            j += 1
        while i < len(p) and p[i] == "-":
            i += 1
        if j >= len(d) or i >= len(p) or p[i] == "/":
            break
        char = p[i]
        if char == "[":
            end = p.find("]", i + 1)
            if end < 0:
                return False
            if end == i + 1:
                i += 2
                continue
            k = i + 1
            found = False
            while k < end:
                if k + 2 < end and p[k + 1] == "-":
                    if p[k] <= d[j] <= p[k + 2]:
                        found = True
                        break
                    k += 3
                    continue
                if d[j] == p[k]:
                    found = True
                    break
                k += 1
            if not found:
                return False
            i = end
        elif char in "nN":
            if not "2" <= d[j] <= "9":
                return False
        elif char in "xX":
            if not "0" <= d[j] <= "9":
                return False
        elif char in "zZ":
            if not "1" <= d[j] <= "9":
                return False
        elif char in ".!":
            return True
        elif d[j] != char:
            return False
        i += 1
        j += 1
    if j < len(d):
        return False
    return i >= len(p) or p[i] in "/!"
