"""A context's text in and out of its file, and the diff between two versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.dialplan.config import ConfigSyntaxError
from cti.dialplan.render import blocks, context_text, normalize, render, unified_diff

pytestmark = pytest.mark.unit

INBOUND = (Path(__file__).parents[2] / "dialplans" / "inbound.conf").read_text()
FILE = "; header comment\n\n[one](+)\nexten => s,1,NoOp(1)\n\n\n[two]\nexten => s,1,NoOp(2)\n"


@pytest.mark.parametrize("context", ["cti-inbound", "cti-direct", "cti-route"])
def test_rendering_a_context_with_its_own_text_changes_nothing(context: str) -> None:
    text = context_text(INBOUND, context)
    assert text is not None and text.endswith("\n") and not text.endswith("\n\n")
    assert render(INBOUND, context, text) == INBOUND


def test_a_new_text_replaces_only_its_context_and_keeps_header_and_spacing() -> None:
    out = render(FILE, "one", "exten => s,1,NoOp(new)\n same => n,Hangup()")
    assert out == (
        "; header comment\n\n[one](+)\nexten => s,1,NoOp(new)\n same => n,Hangup()\n\n\n"
        "[two]\nexten => s,1,NoOp(2)\n"
    )
    assert context_text(out, "two") == "exten => s,1,NoOp(2)\n"


def test_a_new_context_goes_at_the_end_or_into_a_new_file() -> None:
    out = render(FILE, "three", "exten => s,1,NoOp(3)\n")
    assert out.endswith("NoOp(2)\n\n[three]\nexten => s,1,NoOp(3)\n")
    assert [b.name for b in blocks(out)] == ["one", "two", "three"]
    assert render(None, "three", "exten => s,1,NoOp(3)") == "[three]\nexten => s,1,NoOp(3)\n"


def test_an_emptied_context_keeps_its_header() -> None:
    assert context_text(render(FILE, "two", ""), "two") == ""
    assert "[two]" in render(FILE, "two", "")


def test_text_is_normalized_to_unix_lines_and_one_final_newline() -> None:
    assert normalize("a\r\nb\r\n\r\n  \n") == "a\nb\n"
    assert normalize("\n\n") == ""
    assert context_text(FILE, "missing") is None


def test_a_file_that_does_not_parse_is_refused() -> None:
    with pytest.raises(ConfigSyntaxError):
        blocks("[a]\nnot an item\n")


def test_diff_is_unified_and_empty_for_equal_texts() -> None:
    old, new = "a\nb\nc\n", "a\nB\nc\n"
    assert unified_diff(old, new, "x@1", "x@2") == (
        "--- x@1\n+++ x@2\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
    )
    assert unified_diff(old, old, "x@1", "x@1") == ""
