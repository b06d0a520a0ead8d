"""The IVR flow file: the shipped one is valid, and a faulty one is refused place by place."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ivr.flow import FlowError, every_prompt, load_flow, parse_flow, prompt_catalog

pytestmark = pytest.mark.unit


def shipped() -> dict[str, Any]:
    text = resources.files("ivr").joinpath("flows", "default.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def test_the_shipped_flow_is_valid_and_every_prompt_has_a_text() -> None:
    flow = load_flow()
    assert set(flow.languages) == {"en", "ru", "ko"}
    for language, prompts in every_prompt(flow).items():
        assert prompts <= set(prompt_catalog(language))


def test_an_unknown_language_gets_the_default_section() -> None:
    flow = load_flow()
    assert flow.for_language("de")[0] == "en"
    assert flow.for_language("ru")[0] == "ru"


def test_the_offers_cover_the_default_dossier_reasons() -> None:
    from cti.contacts.dossier import default_rules

    offered = set(load_flow().languages["en"].offers)
    reasons = {r.id for r in default_rules().reasons}
    assert offered == reasons - {"follow_up"}


def broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(shipped())
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["languages"]["en"].update(retry="cti/nope"), "no text for prompt 'cti/nope'"),
        (lambda d: d.update(default_language="de"), "'de' has no section"),
        (
            lambda d: d["languages"]["en"]["menu"]["choices"].update({"5": {"reason": "x"}}),
            "either a queue or a self_service",
        ),
        (
            lambda d: d["languages"]["en"]["menu"]["choices"].update(
                {"55": {"queue": "q", "reason": "x"}}
            ),
            "String should match pattern",
        ),
        (
            lambda d: d["languages"]["ko"]["menu"]["words"].update({"hi": "7"}),
            "key '7' is no choice",
        ),
        (
            lambda d: d["languages"]["en"]["offers"]["debt"]["say"].append(
                {"play": "a", "digits": "order.number"}
            ),
            "exactly one of play, digits or number",
        ),
        (lambda d: d["languages"]["en"].update(retry="../../etc/passwd"), "String should match"),
        (lambda d: d.update(default_queue="sales; Dial(x)"), "String should match"),
    ],
)
def test_a_faulty_flow_is_refused_naming_the_place(change: Any, problem: str) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(broken(change))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_an_unreadable_flow_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(FlowError, match="cannot read the IVR flow"):
        load_flow(path)
