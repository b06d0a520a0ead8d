"""The dialplan editor's checks: each refusal with its line, and what passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.dialplan.config import Section, parse_config
from cti.dialplan.render import context_text
from cti.dialplan.validate import Problem, Source, asterisk_order, validate_context

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
INBOUND = (ROOT / "dialplans" / "inbound.conf").read_text()
EXTENSIONS = (ROOT / "asterisk-conf" / "extensions.conf").read_text()


def shipped(inbound: str = INBOUND) -> list[tuple[str, Section]]:
    """The shipped dialplan in Asterisk's reading order."""
    main = Source("extensions.conf", parse_config(EXTENSIONS, "extensions.conf"))
    return asterisk_order(main, [Source("inbound.conf", parse_config(inbound, "inbound.conf"))])


def check(
    text: str, name: str = "cti-test", file: str = "test.conf", allowed: tuple[str, ...] = ()
) -> list[Problem]:
    return validate_context(name, text, shipped(), file=file, allowed=allowed)


def ids(problems: list[Problem]) -> list[tuple[str, int | None]]:
    return [(p.error_id, p.line) for p in problems]


GOOD = "exten => s,1,NoOp(hello)\n same => n,Goto(cti-route,s,queue)\n"


@pytest.mark.parametrize("context", ["cti-inbound", "cti-direct", "cti-route"])
def test_every_shipped_context_passes_as_it_is(context: str) -> None:
    text = context_text(INBOUND, context)
    assert text is not None
    assert check(text, context, "inbound.conf") == []


def test_a_new_context_may_jump_into_the_shipped_ones_and_include_them() -> None:
    text = GOOD + "include => agents-phones\nexten => 1000,hint,PJSIP/1000\n"
    assert check(text) == []


REFUSALS = [
    # (why, text, error id, line of the text)
    ("no '='", "exten => s,1,NoOp()\nthis is not a line\n", "dialplan.syntax", 2),
    ("#exec", "#exec /bin/cat /etc/passwd\n", "dialplan.directive", 1),
    ("#include", "#include other.conf\n", "dialplan.directive", 1),
    ("another section", "exten => s,1,NoOp()\n[other]\n", "dialplan.section", 2),
    ("unknown key", "extension => s,1,NoOp()\n", "dialplan.unknown_key", 1),
    ("exten without application", "exten => s,1\n", "dialplan.shape", 1),
    ("same without application", "exten => s,1,NoOp()\n same => n\n", "dialplan.shape", 2),
    ("empty extension", "exten => ,1,NoOp()\n", "dialplan.shape", 1),
    ("extension from a variable", "exten => ${X},1,NoOp()\n", "dialplan.dynamic_extension", 1),
    ("same before any exten", " same => n,NoOp()\n", "dialplan.same_first", 1),
    ("n first", "exten => s,n,NoOp()\n", "dialplan.priority_first", 1),
    ("priority 0", "exten => s,0,NoOp()\n", "dialplan.priority", 1),
    (
        "unknown label as priority",
        "exten => s,1,NoOp()\nexten => s,nope,NoOp()\n",
        "dialplan.priority",
        2,
    ),
    ("label without ')'", "exten => s,1(start,NoOp()\n", "dialplan.label_paren", 1),
    (
        "priority taken",
        "exten => s,1,NoOp()\nexten => s,1,Hangup()\n",
        "dialplan.priority_taken",
        2,
    ),
    ("label twice", "exten => s,1(a),NoOp()\n same => n(a),Hangup()\n", "dialplan.label_twice", 2),
    ("no ')'", "exten => s,1,NoOp(oops\n", "dialplan.paren", 1),
    ("match everything", "exten => _.,1,NoOp()\n", "dialplan.match_all", 1),
    ("no priority 1", "exten => s,2,NoOp()\n", "dialplan.no_first_priority", 1),
    ("bad application name", "exten => s,1,No Op()\n", "dialplan.application", 1),
    ("application from a variable", "exten => s,1,${APP}(x)\n", "dialplan.application", 1),
    ("System", "exten => s,1,System(rm -rf /)\n", "dialplan.forbidden", 1),
    ("TrySystem, any case", "exten => s,1,trysystem(reboot)\n", "dialplan.forbidden", 1),
    ("SHELL()", "exten => s,1,Set(X=${SHELL(id)})\n", "dialplan.forbidden", 1),
    (
        "SHELL() in a hint, run at reload",
        "exten => 1000,hint,${SHELL(id)}\n",
        "dialplan.forbidden",
        1,
    ),
    (
        "SHELL() in an include, run at reload",
        "exten => s,1,NoOp()\ninclude => ${shell(id)}\n",
        "dialplan.forbidden",
        2,
    ),
    ("System through Exec", "exten => s,1,ExecIf($[1]?System(id))\n", "dialplan.forbidden", 1),
    ("Goto an unknown context", "exten => s,1,Goto(nowhere,s,1)\n", "dialplan.unknown_context", 1),
    (
        "GotoIf an unknown label",
        "exten => s,1,GotoIf($[1]?cti-route,s,nope)\n",
        "dialplan.unknown_label",
        1,
    ),
    (
        "Goto an unknown priority",
        "exten => s,1,Goto(cti-route,s,99)\n",
        "dialplan.unknown_priority",
        1,
    ),
    (
        "Gosub an unknown context",
        "exten => s,1,Gosub(sub-none,s,1(a,b))\n",
        "dialplan.unknown_context",
        1,
    ),
    (
        "GosubIf an unknown label here",
        "exten => s,1,GosubIf($[1]?x:here)\n",
        "dialplan.unknown_label",
        1,
    ),
    (
        "include of an unknown context",
        "exten => s,1,NoOp()\ninclude => nowhere\n",
        "dialplan.unknown_context",
        2,
    ),
]


@pytest.mark.parametrize(
    ("why", "text", "error_id", "line"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_each_refusal_names_its_line(why: str, text: str, error_id: str, line: int) -> None:
    problems = check(text)
    assert (error_id, line) in ids(problems), problems
    assert all(p.message for p in problems)
    assert all(p.file is None for p in problems), "problems of the text are the text's"


def test_forbidden_commands_pass_when_the_setting_allows_them() -> None:
    text = "exten => s,1,System(true)\n same => n,Set(X=${SHELL(id)})\n same => n,Hangup()\n"
    assert {p.error_id for p in check(text)} == {"dialplan.forbidden"}
    assert len(check(text)) == 2
    assert ids(check(text, allowed=("System",))) == [("dialplan.forbidden", 2)]
    assert check(text, allowed=("system", "shell")) == []


def test_jumps_named_at_run_time_cannot_be_judged_and_pass() -> None:
    text = "exten => s,1,Goto(${CTI_ROUTE},s,1)\n same => n,Goto(cti-route,${X},1)\n"
    assert check(text) == []


def test_a_jump_into_an_included_context_lands() -> None:
    text = "exten => s,1,Goto(cti-test,1001,1)\ninclude => agents-phones\n"
    assert check(text) == []


def test_every_problem_is_reported_at_once() -> None:
    text = "exten => s,1,System(x)\n same => n,Goto(nowhere,s,1)\n same => n,NoOp(\n"
    assert ids(check(text)) == [
        ("dialplan.paren", 3),
        ("dialplan.forbidden", 1),
        ("dialplan.unknown_context", 2),
    ]


def test_an_edit_that_removes_a_label_others_jump_to_is_refused_where_they_jump() -> None:
    route = context_text(INBOUND, "cti-route")
    assert route is not None
    edited = route.replace("n(queue),", "n,")
    problems = validate_context("cti-route", edited, shipped(), file="inbound.conf")
    assert problems and {p.error_id for p in problems} == {"dialplan.unknown_label"}
    own = [p.line for p in problems if p.file is None]
    assert own == [n + 1 for n, line in enumerate(edited.splitlines()) if line.endswith("?queue)")]
    elsewhere = [p for p in problems if p.file is not None]
    assert {p.file for p in elsewhere} == {"inbound.conf"}, "cti-inbound and cti-direct"
    assert {p.line for p in elsewhere} == {
        n + 1 for n, line in enumerate(INBOUND.splitlines()) if "cti-route,s,queue" in line
    }
    assert all("This version removes it." in p.message for p in elsewhere)


def test_a_context_defined_in_another_file_is_refused() -> None:
    problems = check("exten => s,1,NoOp()\n", name="agents-phones")
    assert ids(problems) == [("dialplan.defined_twice", None)]
    assert "extensions.conf" in problems[0].message


@pytest.mark.parametrize("name", ["general", "GLOBALS", "", "a/b", "x" * 56, "-lead"])
def test_names_that_are_not_contexts_are_refused(name: str) -> None:
    assert ids(check(GOOD, name=name)) == [("dialplan.name", None)]


def test_comments_and_block_comments_are_fine() -> None:
    text = "; why\n;-- a block\n[not a section]\n--;\nexten => s,1,NoOp(a\\;b) ; trailing\n"
    assert check(text) == []
