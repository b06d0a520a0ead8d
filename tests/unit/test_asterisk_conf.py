"""The shipped Asterisk configuration parses and agrees with the server and with Asterisk 22.

pyst2's ``asterisk.config`` cannot read templates (``[1001](agent-phone)``) or
``#include``, so the files are read with the project's own parser, ``cti.dialplan.config``.
The Asterisk facts below (event classes, action privileges, filter grammar, queue keywords)
were read from Asterisk 22.10.1's main/manager.c, apps/app_queue.c and res/res_agi.c.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cti.ami.events import SERVER_EVENTS, VARSET_PREFIX
from cti.callbacks.dialer import ORIGINATE_VARIABLES
from cti.calls.tracker import CallTracker
from cti.dialplan.config import ConfigFile, ConfigSyntaxError, Section, parse_config
from cti.dialplan.pbx import Priority, load_dialplan
from cti.dialplan.validate import Source, asterisk_order, check_dialplan, jump_targets
from ivr.callback import HANDED_OVER as CALLBACK_HANDED_OVER
from ivr.caller import HANDED_OVER

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
CONF = ROOT / "asterisk-conf"
DIALPLANS = ROOT / "dialplans"
QUEUES = {"frontdesk", "sales", "support", "billing", "complaints"}
AGENTS = {"1001", "1002", "1003", "1004"}

EVENT_CLASS = {
    **dict.fromkeys(
        ["Newchannel", "NewCallerid", "Hangup", "DialBegin", "DialEnd", "BridgeEnter"], "call"
    ),
    **dict.fromkeys(
        ["BridgeLeave", "BlindTransfer", "AttendedTransfer", "OriginateResponse"], "call"
    ),
    "AGIExecStart": "agi",
    "VarSet": "dialplan",
    **dict.fromkeys(
        [
            "QueueCallerJoin",
            "QueueCallerLeave",
            "QueueCallerAbandon",
            "AgentCalled",
            "AgentRingNoAnswer",
            "AgentConnect",
            "AgentComplete",
            "AgentDump",
            "QueueMemberStatus",
            "QueueMemberAdded",
            "QueueMemberRemoved",
            "QueueMemberPause",
        ],
        "agent",
    ),
    **dict.fromkeys(["FullyBooted", "Shutdown", "Reload"], "system"),
}
"""The class Asterisk 22 raises each event under; a user must have it in ``read``."""

ACTION_CLASSES: dict[str, set[str]] = {
    "Originate": {"originate"},
    "Redirect": {"call"},
    "QueueAdd": {"agent"},
    "QueueRemove": {"agent"},
    "QueuePause": {"agent"},
    "QueueStatus": set(),
    "QueueSummary": set(),
    "CoreShowChannels": {"system", "reporting"},
    "CoreSettings": {"system", "reporting"},
    "Command": {"command"},
    "Ping": set(),
}
"""Any one of these classes in ``write`` lets the user run the action; none: anyone may."""

QUEUE_KEYWORDS = {
    "member",
    "strategy",
    "timeout",
    "retry",
    "wrapuptime",
    "ringinuse",
    "autofill",
    "servicelevel",
    "announce-frequency",
    "announce-holdtime",
    "announce-position",
    "musicclass",
    "reportholdtime",
    "joinempty",
    "leavewhenempty",
    "weight",
    "maxlen",
    "timeoutrestart",
    "periodic-announce",
    "periodic-announce-frequency",
    "setinterfacevar",
    "setqueuevar",
    "setqueueentryvar",
    "autopause",
    "penaltymemberslimit",
    "context",
}
"""Per-queue keywords app_queue 22 accepts (a subset); others only draw warnings."""

APPLICATIONS = {
    *("Answer", "NoOp", "Set", "AGI", "GotoIf", "Goto", "Dial", "Queue", "Hangup"),
    "MusicOnHold",
}
FUNCTIONS = {"CALLERID", "TIMEOUT", "DEVICE_STATE", "QUEUE_EXISTS", "IF"}
SET_BY_IVR = (
    set(HANDED_OVER)
    | {"CTI_WAIT", "CTI_QUEUE_JOINED"}
    | set(ORIGINATE_VARIABLES)
    | set(CALLBACK_HANDED_OVER)
)


def load(path: Path) -> ConfigFile:
    return parse_config(path.read_text(), str(path.relative_to(ROOT)))


def manager_user() -> Section:
    (user,) = load(CONF / "manager.conf").section("cti")
    return user


def effective(config: ConfigFile, section: Section) -> dict[str, list[str]]:
    """A section's settings with its templates applied first, as Asterisk does."""
    values: dict[str, list[str]] = {}
    for parent in section.inherits:
        (template,) = config.section(parent)
        for key, items in effective(config, template).items():
            values.setdefault(key, []).extend(items)
    for item in section.items:
        values.setdefault(item.key, []).append(item.value)
    return values


@pytest.mark.parametrize(
    "path", sorted(CONF.glob("*.conf")) + sorted(DIALPLANS.glob("*.conf")), ids=lambda p: p.name
)
def test_every_file_parses(path: Path) -> None:
    assert load(path).sections


# --- manager.conf ---------------------------------------------------------------------------


@dataclass
class EventFilter:
    """One ``eventfilter(...) = pattern`` line, read by Asterisk 22's rules."""

    options: dict[str, str] = field(default_factory=dict)
    pattern: str = ""


def parse_filter(key: str, pattern: str) -> EventFilter:
    """Apply the checks of manager_add_filter(); a line it would refuse fails here."""
    match = re.fullmatch(r"eventfilter\((?P<options>.*)\)", key)
    assert match, f"not an advanced filter: {key}"
    parsed = EventFilter(pattern=pattern)
    for option in match.group("options").split(","):
        name, _, value = option.partition("(")
        assert value.endswith(")") and value[:-1].strip(), f"malformed option {option!r}"
        assert name in {"action", "name", "header", "method"}, f"unknown option {name!r}"
        assert name not in parsed.options, f"{name} given twice in {key}"
        parsed.options[name] = value[:-1].strip()
    assert parsed.options.get("action", "include") in {"include", "exclude"}
    method = parsed.options.get("method", "none")
    methods = {"regex", "exact", "starts_with", "ends_with", "contains", "none"}
    assert method in methods
    assert (method == "none") == (pattern == ""), f"method {method} with pattern {pattern!r}"
    assert "name" in parsed.options or "header" in parsed.options or pattern
    return parsed


def test_only_the_server_events_pass_the_manager_filters() -> None:
    filters = [
        parse_filter(item.key, item.value)
        for item in manager_user().items
        if item.key.startswith("eventfilter")
    ]
    assert all(f.options.get("action") == "include" for f in filters)
    by_name = [f.options["name"] for f in filters if "header" not in f.options]
    assert len(by_name) == len(set(by_name))
    (varset,) = [f for f in filters if "header" in f.options]
    assert set(by_name) | {varset.options["name"]} == SERVER_EVENTS
    assert varset.options == {
        "action": "include",
        "name": "VarSet",
        "header": "Variable",
        "method": "starts_with",
    }
    assert varset.pattern == VARSET_PREFIX
    assert "eventfilter" not in {item.key for item in manager_user().items}, "legacy filter"


def test_the_ami_user_has_exactly_the_classes_its_events_and_actions_need() -> None:
    user = manager_user()
    (read,) = user.get("read")
    (write,) = user.get("write")
    assert set(read.split(",")) == {EVENT_CLASS[event] for event in SERVER_EVENTS}
    granted = set(write.split(","))
    for action, classes in ACTION_CLASSES.items():
        assert not classes or classes & granted, f"{action} needs one of {classes}"
    needed = {min(c & granted) for c in ACTION_CLASSES.values() if c & granted}
    assert granted == needed, f"more than needed: {granted - needed}"
    assert "system" not in granted


def test_the_ami_user_is_locked_down() -> None:
    user = manager_user()
    (secret,) = user.get("secret")
    assert "CHANGE-ME" in secret
    assert user.items[[i.key for i in user.items].index("deny")].value == "0.0.0.0/0.0.0.0"
    assert user.get("permit")[0] == "127.0.0.1/255.255.255.255"
    keys = [i.key for i in user.items]
    assert keys.index("deny") < keys.index("permit")


def test_every_server_process_may_log_in_beside_the_event_reader() -> None:
    """One session reads events, each process keeps one for actions (``Events: off``)."""
    assert manager_user().get("allowmultiplelogin") == ["yes"]


def test_server_events_cover_what_the_call_tracker_handles() -> None:
    assert CallTracker().handled_events <= SERVER_EVENTS


# --- queues.conf and pjsip.conf -------------------------------------------------------------


def test_queues_are_the_contact_centers_with_sane_settings() -> None:
    config = load(CONF / "queues.conf")
    queues = {s.name: s for s in config.sections if not s.template and s.name != "general"}
    assert set(queues) == QUEUES
    endpoints = {s.name for s in load(CONF / "pjsip.conf").sections if not s.template}
    for name, queue in queues.items():
        values = effective(config, queue)
        assert set(values) <= QUEUE_KEYWORDS, f"{name}: {set(values) - QUEUE_KEYWORDS}"
        assert values["ringinuse"][-1] == "no" and values["servicelevel"][-1] == "20"
        assert len(values["strategy"]) == 1, f"{name}: app_queue takes the first strategy"
        assert int(values["wrapuptime"][-1]) > 0 and values["announce-holdtime"][-1] != "no"
        members = [m.split(",")[0] for m in values["member"]]
        assert members and all(m.startswith("PJSIP/") for m in members)
        assert {m.removeprefix("PJSIP/") for m in members} <= endpoints & AGENTS
    assert effective(config, queues["frontdesk"])["joinempty"][-1] == "yes"


def test_no_queue_is_named_general() -> None:
    (general,) = load(CONF / "queues.conf").section("general")
    assert not general.get("member")


def test_agents_phones_are_complete_endpoints() -> None:
    config = load(CONF / "pjsip.conf")
    for agent in AGENTS:
        kinds = {effective(config, s)["type"][-1] for s in config.section(agent)}
        assert kinds == {"endpoint", "auth", "aor"}, agent


# --- the dialplan ---------------------------------------------------------------------------


def sections() -> list[tuple[str, Section]]:
    """The shipped dialplan in the order Asterisk reads it (extensions.conf includes the rest)."""
    main = Source("extensions.conf", load(CONF / "extensions.conf"))
    included = [Source(p.name, load(p)) for p in sorted(DIALPLANS.glob("*.conf"))]
    return asterisk_order(main, included)


def dialplan() -> list[ConfigFile]:
    return [load(CONF / "extensions.conf"), *(load(p) for p in sorted(DIALPLANS.glob("*.conf")))]


def steps() -> list[Priority]:
    """Every priority as pbx_config registers it (``cti.dialplan.pbx``)."""
    loaded = load_dialplan(sections())
    return [step for context in loaded.contexts.values() for step in context.priorities()]


def targets(step: Priority) -> list[tuple[str, str, str]]:
    """``(context, extension, label or priority)`` for each place a jump may land."""
    return [tuple(target) for target in jump_targets(step)]


def test_extensions_conf_includes_the_dialplans_folder() -> None:
    assert load(CONF / "extensions.conf").includes == ["dialplans/*.conf"]


def test_every_application_and_function_is_known() -> None:
    for step in steps():
        assert step.app in APPLICATIONS, step
        for function in re.findall(r"\$\{([A-Z_]+)\(", step.data):
            assert function in FUNCTIONS, step


def test_the_dialplan_passes_the_editors_checks() -> None:
    """Every line loads, every jump and include lands, nothing forbidden (cti.dialplan)."""
    assert [t for step in steps() for t in targets(step)], "the check would be empty"
    assert check_dialplan(sections()) == []


def test_the_inbound_context_fails_open_to_the_default_queue() -> None:
    inbound = [s for s in steps() if s.context == "cti-inbound"]
    route = [(s.app, s.data) for s in steps() if s.context == "cti-route"]
    flow = [(s.app, s.data) for s in inbound if s.exten == "s"]
    applications = [a for a, _ in flow]
    assert applications.index("AGI") < applications.index("Goto")
    (agi,) = [args for app, args in flow if app == "AGI"]
    assert agi == "agi://${CTI_AGI_HOST}:${CTI_AGI_PORT}/ivr"
    checks = " ".join(args for app, args in flow + route if app == "GotoIf")
    assert '"${AGISTATUS}" != "SUCCESS"' in checks and "QUEUE_EXISTS" in checks
    assert ("Set", "CTI_QUEUE=${CTI_DEFAULT_QUEUE}") in route
    assert ("Set", "AGIEXITONHANGUP=yes") in flow
    assert [a for a, _ in route].index("Dial") < [a for a, _ in route].index("Queue")
    assert ("Dial", "${CTI_AGENT},15") in route
    timeout = [s for s in inbound if s.exten == "T"]
    assert timeout and targets(timeout[-1]) == [("cti-route", "s", "queue")]


def test_overflow_moves_a_waiting_caller_to_the_next_queue() -> None:
    route = [s for s in steps() if s.context == "cti-route"]
    (first, *_) = [s for s in route if s.app == "Queue"]
    chosen = route.index(next(s for s in route if s.label == "chosen"))
    assert route[chosen].data == "CTI_QUEUE_JOINED=${EPOCH}", "the caller's place in line"
    assert route[chosen + 1] is first and "${CTI_OVERFLOW_AFTER}" in first.data
    (overflow,) = [s for s in route if s.label == "overflow"]
    assert overflow.data == "CTI_QUEUE=${CTI_OVERFLOW_QUEUE}"
    checks = [s.data for s in route if s.app == "GotoIf"]
    assert any('"${QUEUESTATUS}" = "TIMEOUT"' in c and c.endswith("?overflow") for c in checks)


def test_a_direct_call_waits_for_the_servers_redirect_then_fails_open() -> None:
    direct = [s for s in steps() if s.context == "cti-direct" and s.exten == "s"]
    assert ("Set", "CTI_WAIT=routing") in [(s.app, s.data) for s in direct]
    assert ("MusicOnHold", ",${CTI_ROUTE_WAIT_SECONDS}") in [(s.app, s.data) for s in direct]
    (last,) = direct[-1:]
    assert targets(last) == [("cti-route", "s", "queue")]


def test_every_cti_variable_read_is_defined() -> None:
    (globals_,) = load(CONF / "extensions.conf").section("globals")
    defined = {item.key for item in globals_.items} | SET_BY_IVR
    assert globals_.get("CTI_DEFAULT_QUEUE") == ["frontdesk"]
    for step in steps():
        for name in re.findall(r"\$\{(CTI_\w+)\}", step.data):
            assert name in defined, f"line {step.line}: ${{{name}}} is never set"


def test_every_endpoint_context_exists() -> None:
    contexts = {s.name for f in dialplan() for s in f.sections}
    pjsip = load(CONF / "pjsip.conf")
    used = {v for s in pjsip.sections for v in effective(pjsip, s).get("context", [])}
    assert used and used <= contexts


# --- the parser these tests rely on ---------------------------------------------------------


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(ConfigSyntaxError, match=r"x\.conf:2"):
        parse_config("[a]\nthis is not an item\n", "x.conf")
    with pytest.raises(ConfigSyntaxError, match="not allowed"):
        parse_config("#exec /bin/sh\n", "x.conf")
    parsed = parse_config("[a](!)\nk = v ; comment\n[b](a)\nexten => s,1,NoOp(x\\;y)\n")
    assert parsed.sections[0].template and parsed.sections[1].inherits == ["a"]
    assert parsed.sections[1].items[0].value == "s,1,NoOp(x\\;y)"
