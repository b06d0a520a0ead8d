"""pbx_config's rules as pure code, and ``dialplan show`` printed and read back.

Expected texts follow Asterisk 22's pbx/pbx_config.c and main/pbx.c (print formats,
warning messages, extension order).
"""

from __future__ import annotations

import functools

import pytest

from cti.dialplan.config import parse_config
from cti.dialplan.pbx import PRIORITY_HINT, Dialplan, ext_cmp, extension_match, load_dialplan
from cti.dialplan.show import check_loaded, parse_show, rendered_priorities, same_steps
from cti.pbxsim.dialplan import SimDialplan

pytestmark = pytest.mark.unit


def loaded(text: str, file: str = "x.conf") -> Dialplan:
    return load_dialplan((file, s) for s in parse_config(text, file).sections)


def steps(text: str, context: str = "c") -> list[tuple[str, int, str | None, str]]:
    return [
        (p.exten, p.priority, p.label, p.step) for p in loaded(text).contexts[context].priorities()
    ]


def test_priorities_count_on_with_n_labels_offsets_and_hints() -> None:
    text = (
        "[c]\n"
        "exten => s,1,Answer()\n"
        " same => n(top),NoOp(x\\;y)\n"
        " same => top+2,Wait(1)\n"
        "exten => 1001,hint,PJSIP/1001\n"
        "exten => 1001,1,Dial(PJSIP/1001)\n"
    )
    assert steps(text) == [
        ("1001", PRIORITY_HINT, None, "hint: PJSIP/1001"),
        ("1001", 1, None, "1. Dial(PJSIP/1001)"),
        ("s", 1, None, "1. Answer()"),
        ("s", 2, "top", "2. NoOp(x;y)"),
        ("s", 4, None, "4. Wait(1)"),
    ]


def test_n_carries_on_from_the_previous_extension_as_asterisk_does() -> None:
    assert steps("[c]\nexten => s,1,NoOp()\nexten => t,n,NoOp()\n")[0] == (
        "s",
        1,
        None,
        "1. NoOp()",
    )
    assert ("t", 2, None, "2. NoOp()") in steps("[c]\nexten => s,1,NoOp()\nexten => t,n,NoOp()\n")


def test_data_ends_at_the_last_parenthesis_and_blanks_leave_names() -> None:
    assert steps("[c]\nexten => 1 2 3,1, Set(A=(1)) tail\n") == [("123", 1, None, "1. Set(A=(1))")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            " same => n,NoOp()",
            "No previous pattern in the first entry of context 'c' to match "
            "'same' at line 2 of x.conf!",
        ),
        (
            "exten => s,n,NoOp()",
            "Can't use 'next' priority on the first entry at line 2 of x.conf!",
        ),
        (
            "exten => s,s,NoOp()",
            "Can't use 'same' priority on the first entry at line 2 of x.conf!",
        ),
        ("exten => s,oops,NoOp()", "Invalid priority/label 'oops' at line 2 of x.conf"),
        ("exten => s,-1,NoOp()", "Invalid priority '-1' at line 2 of x.conf"),
        ("exten => s,1(a,NoOp()", "Label missing trailing ')' at line 2 of x.conf"),
        ("foo => bar", "==!!== Unknown directive: foo at line 2 of x.conf -- IGNORING!!!"),
    ],
)
def test_lines_a_reload_skips_say_why_as_asterisk_logs_it(line: str, message: str) -> None:
    dialplan = loaded(f"[c]\n{line}\n")
    (warning,) = dialplan.warnings
    assert (warning.message, warning.line, warning.skipped) == (message, 2, True)
    assert dialplan.contexts["c"].priorities() == []


def test_a_taken_priority_is_refused_and_a_repeated_label_dropped() -> None:
    dialplan = loaded(
        "[c]\nexten => s,1(a),NoOp(1)\nexten => s,1,NoOp(2)\nexten => s,2(a),NoOp(3)\n"
    )
    assert [w.message for w in dialplan.warnings] == [
        "Unable to register extension 's' priority 1 in 'c', already in use",
        "Extension 's' priority 2 in 'c', label 'a' already in use at priority 1",
    ]
    assert [(p.priority, p.label, p.data) for p in dialplan.contexts["c"].priorities()] == [
        (1, "a", "1"),
        (2, None, "3"),
    ]


def test_same_named_contexts_of_two_files_merge_and_the_first_registration_wins() -> None:
    first = parse_config("[c]\nexten => 7000,1,NoOp(pbx)\n", "extensions.conf")
    second = parse_config("[c]\nexten => 7000,1,NoOp(ours)\n same => n,Hangup()\n", "d.conf")
    dialplan = load_dialplan(
        [("extensions.conf", first.sections[0]), ("d.conf", second.sections[0])]
    )
    assert [(p.step, p.file) for p in dialplan.contexts["c"].priorities()] == [
        ("1. NoOp(pbx)", "extensions.conf"),
        ("2. Hangup()", "d.conf"),
    ]


def test_extensions_are_kept_in_asterisks_order() -> None:
    names = ["_X.", "_[+0-9].", "s", "T", "_NXX", "_1XX", "_X!", "1000", "_[1-5]XX", "h", "_."]
    assert sorted(names, key=functools.cmp_to_key(ext_cmp)) == [
        "1000",
        "T",
        "h",
        "s",
        "_1XX",
        "_[1-5]XX",
        "_NXX",
        "_X.",
        "_X!",
        "_[+0-9].",
        "_.",
    ]
    assert ext_cmp("555-1212", "5551212") == 0, "dashes are fluff"


@pytest.mark.parametrize(
    ("pattern", "exten", "matches"),
    [
        ("s", "s", True),
        ("555-1212", "5551212", True),
        ("_NXX", "212", True),
        ("_NXX", "112", False),
        ("_X.", "1", False),
        ("_X.", "12", True),
        ("_X!", "1", True),
        ("_[+0-9].", "+79161234567", True),
        ("_[1-3]X", "42", False),
        ("_ZXX", "099", False),
        ("_10XX", "1001", True),
        ("_10XX", "10011", False),
    ],
)
def test_extension_matching(pattern: str, exten: str, matches: bool) -> None:
    assert extension_match(pattern, exten) is matches


DIALPLAN = (
    "[route]\n"
    "exten => s,1,NoOp(start)\n"
    " same => n(queue),Queue(${Q},t)\n"
    " same => n,Hangup()\n"
    "exten => 100/123,1,Dial(PJSIP/100)\n"
    "include => other\n"
    "[other]\n"
    "exten => 200,1,Answer()\n"
)


def sim() -> SimDialplan:
    dialplan = SimDialplan()
    dialplan.loaded = loaded(DIALPLAN, "route.conf")
    return dialplan


def row(name: str, step: str, origin: str) -> str:
    """A line as ``show_dialplan_helper_extension_output`` prints it: ``"  %-17s %-45s [%s]"``."""
    return f"  {name:<17} {step:<45} [{origin}]"


def test_dialplan_show_prints_a_context_as_asterisk_22_does() -> None:
    ok, lines = sim().show(["route"])
    assert ok
    assert lines == [
        "[ Context 'route' created by 'pbx_config' ]",
        row("'100' (CID match '123') => ", "1. Dial(PJSIP/100)", "route.conf:5"),
        row("'s' =>", "1. NoOp(start)", "route.conf:2"),
        row("   [queue]", "2. Queue(${Q},t)", "route.conf:3"),
        row("", "3. Hangup()", "route.conf:4"),
        row("Include =>", "'other'", "pbx_config"),
        "",
        "-= 2 extensions (4 priorities) in 1 context. =-",
    ]
    assert lines[2] == "  's' =>" + " " * 12 + "1. NoOp(start)" + " " * 32 + "[route.conf:2]"


def test_dialplan_show_exten_at_context_follows_includes_and_refuses_what_is_not_there() -> None:
    ok, lines = sim().show(["200@route"])
    assert ok and lines == [
        "[ Included context 'other' created by 'pbx_config' ]",
        row("'200' =>", "1. Answer()", "route.conf:8"),
        "",
        "-= 1 extension (1 priority) in 1 context. =-",
    ]
    assert sim().show(["nope"]) == (False, ["There is no existence of 'nope' context"])
    assert sim().show(["9@route"]) == (False, ["There is no existence of 9@route extension"])
    assert sim().show(["route@"]) == (
        False,
        ["There is no existence of 'route' extension in all contexts"],
    )
    assert sim().show(["a", "b"])[0] is False


def test_the_cli_commands_answer_with_asterisks_texts() -> None:
    dialplan = sim()
    assert dialplan.command("dialplan reload", ["dialplan", "reload"]) == (
        True,
        ["Dialplan reloaded."],
    )
    ok, lines = dialplan.command("dialplan show nope", ["dialplan", "show", "nope"]) or (True, [])
    assert not ok and lines[-1] == "Command 'dialplan show nope' failed."
    assert dialplan.command("core show version", ["core", "show", "version"]) is None


def test_what_show_prints_reads_back_as_the_rendered_priorities() -> None:
    _, lines = sim().show(["route"])
    shown = parse_show(lines, "route")
    assert shown.exists and shown.includes == ["other"]
    assert [(s.exten, s.label) for s in shown.steps] == [
        ("100", None),
        ("s", None),
        ("s", "queue"),
        ("s", None),
    ]
    expected = rendered_priorities("route", "route.conf", DIALPLAN)
    check = check_loaded("route", expected, shown)
    assert check.ok and check.summary() == "Asterisk loaded 4 of 4 priorities of route"
    assert same_steps(shown, parse_show(lines, "route"))


def test_a_priority_missing_from_show_is_named() -> None:
    _, lines = sim().show(["route"])
    dropped = [line for line in lines if "Queue(" not in line]
    check = check_loaded(
        "route", rendered_priorities("route", "route.conf", DIALPLAN), parse_show(dropped, "route")
    )
    assert not check.ok
    assert check.summary() == "Asterisk loaded 3 of 4 priorities of route"
    assert [(p.exten, p.priority, p.line) for p in check.missing] == [("s", 2, 3)]


def test_an_older_file_at_other_lines_does_not_pass_for_the_new_one() -> None:
    _, lines = sim().show(["route"])
    moved = "\n" + DIALPLAN  # the same steps one line lower
    check = check_loaded(
        "route", rendered_priorities("route", "route.conf", moved), parse_show(lines, "route")
    )
    assert check.loaded == 0


def test_an_unknown_context_reads_back_as_absent() -> None:
    shown = parse_show(["There is no existence of 'x' context"], "x")
    assert not shown.exists and shown.steps == []
