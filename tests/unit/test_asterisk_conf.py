"""The shipped Asterisk configuration parses and agrees with what the server consumes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cti.ami.events import SERVER_EVENTS
from cti.calls.tracker import CallTracker
from cti.dialplan.config import ConfigFile, ConfigSyntaxError, parse_config

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
CONF = ROOT / "asterisk-conf"
APPLICATIONS = {"Answer", "NoOp", "Set", "AGI", "GotoIf", "Goto", "Dial", "Queue", "Hangup"}


def load(path: Path) -> ConfigFile:
    return parse_config(path.read_text(), str(path.relative_to(ROOT)))


def dialplan() -> list[ConfigFile]:
    return [
        load(CONF / "extensions.conf"),
        *(load(p) for p in sorted((ROOT / "dialplans").glob("*.conf"))),
    ]


@pytest.mark.parametrize(
    "path", sorted(CONF.glob("*.conf")) + sorted((ROOT / "dialplans").glob("*.conf"))
)
def test_every_file_parses(path: Path) -> None:
    assert load(path).sections


def test_manager_filters_are_exactly_the_server_events() -> None:
    (user,) = load(CONF / "manager.conf").section("cti")
    names = set()
    for item in user.items:
        match = re.fullmatch(r"eventfilter\(action\(include\),name\((\w+)\).*\)", item.key)
        if item.key.startswith("eventfilter"):
            assert match, item.key
            names.add(match.group(1))
    assert names == SERVER_EVENTS
    varset = [i for i in user.items if "name(VarSet)" in i.key]
    assert varset[0].value == "CTI_" and "starts_with" in varset[0].key


def test_server_events_cover_what_the_call_tracker_handles() -> None:
    assert CallTracker().handled_events | {"FullyBooted", "Shutdown"} <= SERVER_EVENTS


def test_manager_user_reads_the_classes_of_those_events() -> None:
    (user,) = load(CONF / "manager.conf").section("cti")
    read = set(user.get("read")[0].split(","))
    assert {"call", "agent", "agi", "dialplan", "system"} <= read
    assert "secret" in {i.key for i in user.items}


def test_dialplan_references_exist() -> None:
    files = dialplan()
    assert files[0].includes == ["dialplans/*.conf"]
    contexts = {s.name for f in files for s in f.sections}
    queues = {s.name for s in load(CONF / "queues.conf").sections if not s.template} - {"general"}
    (globals_,) = files[0].section("globals")
    assert globals_.get("CTI_DEFAULT_QUEUE")[0] in queues
    for config in files:
        for section in config.sections:
            for item in section.items:
                if item.key not in ("exten", "same"):
                    continue
                step = item.value.split(",", 2 if item.key == "exten" else 1)[-1]
                application = step.split("(", 1)[0].strip()
                assert application in APPLICATIONS, item.value
                for target in re.findall(r"Goto\((\w[\w-]*),", item.value):
                    assert target in contexts or target == "s", item.value
    endpoint_contexts = {v for s in load(CONF / "pjsip.conf").sections for v in s.get("context")}
    assert endpoint_contexts <= contexts


def test_no_queue_is_named_general() -> None:
    sections = load(CONF / "queues.conf").section("general")
    assert len(sections) == 1 and not any(i.key == "member" for i in sections[0].items)


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(ConfigSyntaxError, match=r"x\.conf:2"):
        parse_config("[a]\nthis is not an item\n", "x.conf")
    with pytest.raises(ConfigSyntaxError, match="not allowed"):
        parse_config("#exec /bin/sh\n", "x.conf")
    parsed = parse_config("[a](!)\nk = v ; comment\n[b](a)\nexten => s,1,NoOp(x\\;y)\n")
    assert parsed.sections[0].template and parsed.sections[1].inherits == ["a"]
    assert parsed.sections[1].items[0].value == "s,1,NoOp(x\\;y)"
