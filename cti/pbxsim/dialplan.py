"""The simulator's dialplan: extensions.conf and its includes read as pbx_config reads them.

``dialplan reload`` re-reads the files (a file Asterisk's config reader refuses as a
whole leaves the old dialplan in force, as there); ``dialplan show [[exten@]context]``
prints what is loaded exactly as ``handle_show_dialplan`` and ``show_dialplan_helper``
of Asterisk 22's ``main/pbx.c`` do. Contexts are listed newest first (as pbx_config's
list is built), an order a real Asterisk mixes with other modules' contexts.
"""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from pathlib import Path

from cti.dialplan.config import ConfigFile, ConfigSyntaxError, parse_config
from cti.dialplan.pbx import REGISTRAR, Context, Dialplan, Priority, extension_match, load_dialplan
from cti.dialplan.validate import Source, asterisk_order

log = logging.getLogger(__name__)

MAX_INCLUDE_DEPTH = 128
"""``AST_PBX_MAX_STACK``: how deep ``dialplan show exten@context`` follows includes."""
BUFFER = 1023
"""Both printed columns are written into 1024-byte buffers."""
SHOW_USAGE = ["Usage: dialplan show [[exten@]context]", "       Show dialplan"]
RELOAD_USAGE = [
    "Usage: dialplan reload",
    "       Reload extensions.conf without reloading any other",
    "       modules.  This command does not delete global variables",
    "       unless clearglobalvars is set to yes in extensions.conf",
]


def read_dialplan(extensions_conf: Path) -> Dialplan:
    """Read extensions.conf and the files it ``#include``s (relative to its folder).

    Raises:
        ConfigSyntaxError: a file Asterisk's config reader refuses as a whole.
        OSError: extensions.conf or a plain (not globbed) include is missing.
    """
    folder = extensions_conf.parent
    main = Source(extensions_conf.name, _parse(extensions_conf))
    included: list[Source] = []
    for pattern in main.config.includes:
        where = folder / pattern
        if any(c in pattern for c in "*?["):
            paths = [Path(p) for p in sorted(glob.glob(str(where)))]
        else:
            paths = [where]
        included.extend(Source(path.name, _parse(path)) for path in paths)
    return load_dialplan(asterisk_order(main, included))


def _parse(path: Path) -> ConfigFile:
    config = parse_config(path.read_text("utf-8"), path.name, lenient=True)
    for line, message in config.skipped:
        log.warning("simulated Asterisk: %s (line %s of %s)", message, line, path.name)
    return config


@dataclass
class _Counters:
    """``struct dialplan_counters``."""

    contexts: int = 0
    extensions: int = 0
    priorities: int = 0
    context_existence: bool = False
    extension_existence: bool = False


@dataclass
class SimDialplan:
    """The dialplan a simulated Asterisk has in force, and its ``dialplan`` CLI commands."""

    extensions_conf: Path | None = None
    loaded: Dialplan = field(default_factory=Dialplan)

    def reload(self) -> bool:
        """Re-read the files; False (old dialplan kept) when Asterisk would refuse them."""
        if self.extensions_conf is None:
            return False
        try:
            self.loaded = read_dialplan(self.extensions_conf)
        except (ConfigSyntaxError, OSError, UnicodeDecodeError) as exc:
            log.warning("simulated Asterisk: dialplan not reloaded: %s", exc)
            return False
        for warning in self.loaded.warnings:
            log.warning("simulated Asterisk: %s", warning.message)
        return True

    def command(self, command: str, words: list[str]) -> tuple[bool, list[str]] | None:
        """The answer to a ``dialplan`` CLI command: success and output lines (None: unknown)."""
        lowered = [w.lower() for w in words]
        if lowered[:2] == ["dialplan", "reload"]:
            if len(words) != 2:
                return False, list(RELOAD_USAGE)
            self.reload()
            return True, ["Dialplan reloaded."]
        if lowered[:2] == ["dialplan", "show"]:
            ok, lines = self.show(words[2:])
            if not ok and lines != SHOW_USAGE:
                lines.append(f"Command '{command}' failed.")
            return ok, lines
        return None

    def show(self, arguments: list[str]) -> tuple[bool, list[str]]:
        """``handle_show_dialplan``: its output lines and whether it succeeded."""
        if len(arguments) > 1:
            return False, list(SHOW_USAGE)
        context: str | None = None
        exten: str | None = None
        if arguments:
            if "@" in arguments[0]:
                exten, _, context = arguments[0].partition("@")
                exten = exten or None
            else:
                context = arguments[0]
            context = context or None
        out: list[str] = []
        counters = _Counters()
        self._helper(out, context, exten, counters, None, [])
        if context and not counters.context_existence:
            return False, [*out, f"There is no existence of '{context}' context"]
        if exten and not counters.extension_existence:
            where = f"{exten}@{context}" if context else f"'{exten}'"
            tail = " extension" if context else " extension in all contexts"
            return False, [*out, f"There is no existence of {where}{tail}"]
        out.append(
            f"-= {counters.extensions} {_plural(counters.extensions, 'extension')} "
            f"({counters.priorities} {_plural(counters.priorities, 'priority', 'priorities')}) "
            f"in {counters.contexts} {_plural(counters.contexts, 'context')}. =-"
        )
        return True, out

    def _helper(
        self,
        out: list[str],
        context: str | None,
        exten: str | None,
        counters: _Counters,
        included: str | None,
        stack: list[str],
    ) -> None:
        """``show_dialplan_helper``."""
        for found in reversed(list(self.loaded.contexts.values())):
            if context is not None and found.name != context:
                continue
            counters.context_existence = True
            printed = False
            if exten is None:
                counters.contexts += 1
                out.extend(_header(found))
                printed = True
            for extension in found.extensions:
                if exten is not None and not extension_match(extension.name, exten):
                    continue
                counters.extension_existence = True
                if not printed:
                    counters.contexts += 1
                    if included is not None:
                        out.append(
                            f"[ Included context '{found.name}' created by '{found.registrar}' ]"
                        )
                    else:
                        out.extend(_header(found))
                    printed = True
                first, *peers = extension.priorities
                if extension.cid is not None:
                    name = f"'{extension.name}' (CID match '{extension.cid_match}') => "
                else:
                    name = f"'{extension.name}' =>"
                counters.priorities += 1
                out.append(_line(name, first))
                counters.extensions += 1
                for peer in peers:
                    counters.priorities += 1
                    out.append(_line(f"   [{peer.label}]" if peer.label else "", peer))
            for include in found.includes:
                if exten is None:
                    quoted = f"'{include}'"
                    out.append(f"  Include =>        {quoted:<45} [{REGISTRAR}]")
                elif len(stack) >= MAX_INCLUDE_DEPTH:
                    log.warning("simulated Asterisk: Maximum include depth exceeded!")
                elif any(include.lower() == seen.lower() for seen in stack):
                    log.warning(
                        "simulated Asterisk: Avoiding circular include of %s within %s",
                        include,
                        context,
                    )
                else:
                    self._helper(out, include, exten, counters, include, [*stack, include])
            for pattern in found.ignorepats:
                if exten is None or extension_match(f"_{pattern}.", exten):
                    quoted = f"'{pattern}'"
                    out.append(f"  Ignore pattern => {quoted:<45} [{REGISTRAR}]")
            if included is None:
                for name, data in found.switches:
                    quoted = f"'{name}/{data}'"
                    out.append(f"  Alt. Switch =>    {quoted:<45} [{REGISTRAR}]")
            if printed:
                out.append("")


def _header(context: Context) -> list[str]:
    lines = [f"[ Context '{context.name}' created by '{context.registrar}' ]"]
    if context.autohints:
        lines.append("Autohints support enabled")
    return lines


def _line(name: str, priority: Priority) -> str:
    """``show_dialplan_helper_extension_output`` for a priority with a registrar file."""
    return f"  {name[:BUFFER]:<17} {priority.step[:BUFFER]:<45} [{priority.file}:{priority.line}]"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else (many or f"{one}s")
