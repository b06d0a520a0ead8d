"""The IVR flow as data: one checked JSON file per site, one section per language.

What the caller hears and where each key leads is data (``ivr/flows/default.json`` is
the shipped one, ``CTI_IVR_FLOW`` points at a site's own); the steps themselves (greet,
offer the likely reason, menu, self-service, a human) are fixed in ``ivr.caller``.
Every prompt a flow plays must have a text in the prompt catalog of its language
(``ivr/prompts/<language>.json``), so ``cti prompts generate`` can record it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cti.checks import Problems, validation_problems

PROMPT = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9/_-]{0,79}$")]
"""A sound file name as ``STREAM FILE`` takes it, without extension: ``cti/welcome``."""
DIGIT = Annotated[str, Field(pattern=r"^[0-9*#]$")]
NAME = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
QUEUE = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
FIELD_REF = Annotated[str, Field(pattern=r"^[a-z]+\.[a-z_]+$")]


class FlowError(Problems):
    """A flow file that cannot be used; ``problems`` names every faulty place."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """Where a choice leads: a queue with a reason, or a self-service step."""

    queue: QUEUE | None = None
    reason: NAME
    self_service: Literal["order_status"] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Target:
        if (self.queue is None) == (self.self_service is None):
            raise ValueError("a target has either a queue or a self_service step")
        return self


class Part(_Strict):
    """One piece of what the caller hears: a prompt, or a value read out by Asterisk."""

    play: PROMPT | None = None
    digits: FIELD_REF | None = None
    """``SAY DIGITS`` of a field the reason bound: ``order.number``."""
    number: FIELD_REF | None = None
    """``SAY NUMBER`` of a whole-unit amount: ``contact.debt`` (minor units / 100)."""

    @model_validator(mode="after")
    def _one_thing(self) -> Part:
        if sum(v is not None for v in (self.play, self.digits, self.number)) != 1:
            raise ValueError("a part is exactly one of play, digits or number")
        return self


class Offer(_Strict):
    """The likely reason offered first: what is said, and where ``1`` leads."""

    say: list[Part] = Field(min_length=1)
    accept: Target


class Menu(_Strict):
    prompt: PROMPT
    choices: dict[DIGIT, Target] = Field(min_length=1)
    words: dict[str, DIGIT] = Field(default_factory=dict)
    """Spoken keywords (the speech grammar) and the key each stands for."""


class LanguageFlow(_Strict):
    """Everything one language's callers hear."""

    greeting_known: list[Part] = Field(min_length=1)
    greeting_name: str = Field("", max_length=120)
    """Text-to-speech greeting, ``{name}`` is the caller's first name; empty: no TTS."""
    voice: str = Field("en", pattern=r"^[a-z]{2,3}(-[a-z0-9]+)?$")
    greeting_unknown: list[Part] = Field(min_length=1)
    offer_keys: list[Part] = Field(min_length=1)
    """Said after an offer: "press 1 for that, 2 for something else, 0 for a person"."""
    offers: dict[NAME, Offer] = Field(default_factory=dict)
    menu: Menu
    retry: PROMPT
    operator: Target
    order_intro: PROMPT
    order_statuses: dict[str, PROMPT]
    no_orders: PROMPT
    after_status: PROMPT
    goodbye: PROMPT
    callback_offer: PROMPT = "cti/callback-offer"
    """Offered before a long wait: "to be called back when it is your turn, press 1"."""
    callback_words: dict[str, DIGIT] = Field(default_factory=dict)
    """Spoken answers to the call-back offer (the speech grammar) and the key each means."""


class FlowFile(_Strict):
    """A site's flow: its languages, timeouts and the queue of last resort."""

    site: NAME
    default_language: str
    default_queue: QUEUE
    digit_timeout_ms: int = Field(5000, ge=1000, le=20000)
    lookup_budget_ms: int = Field(1500, ge=100, le=5000)
    languages: dict[str, LanguageFlow] = Field(min_length=1)

    def for_language(self, language: str) -> tuple[str, LanguageFlow]:
        """The caller's language if the flow has it, else the default one."""
        if language in self.languages:
            return language, self.languages[language]
        return self.default_language, self.languages[self.default_language]


def prompt_catalog(language: str) -> dict[str, str]:
    """The texts of every shipped prompt in a language: ``{"cti/welcome": "Welcome..."}``."""
    path = resources.files("ivr").joinpath("prompts", f"{language}.json")
    if not path.is_file():
        return {}
    data: dict[str, str] = json.loads(path.read_text("utf-8"))
    return data


def load_flow(path: Path | None = None) -> FlowFile:
    """The flow at ``path`` (the shipped default without one), checked; ``FlowError``."""
    try:
        if path is None:
            text = resources.files("ivr").joinpath("flows", "default.json").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        document = json.loads(text)
    except (OSError, ValueError) as exc:
        raise FlowError([f"cannot read the IVR flow {path or 'default'}: {exc}"]) from exc
    return parse_flow(document)


def parse_flow(document: Any, catalogs: Mapping[str, Mapping[str, str]] | None = None) -> FlowFile:
    """Check a flow document; ``catalogs`` (default: the shipped ones) hold prompt texts."""
    try:
        flow = FlowFile.model_validate(document)
    except ValidationError as exc:
        raise FlowError(validation_problems(exc)) from None
    problems: list[str] = []
    if flow.default_language not in flow.languages:
        problems.append(f"default_language: {flow.default_language!r} has no section")
    for language, section in flow.languages.items():
        catalog = (catalogs or {}).get(language) if catalogs is not None else None
        if catalog is None:
            catalog = prompt_catalog(language)
        for where, prompt in _prompts(section):
            if prompt not in catalog:
                problems.append(f"languages.{language}.{where}: no text for prompt {prompt!r}")
        for digit in section.menu.words.values():
            if digit not in section.menu.choices:
                problems.append(f"languages.{language}.menu.words: key {digit!r} is no choice")
    if problems:
        raise FlowError(problems)
    return flow


def _prompts(section: LanguageFlow) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def parts(where: str, items: list[Part]) -> None:
        found.extend((f"{where}[{i}]", p.play) for i, p in enumerate(items) if p.play)

    parts("greeting_known", section.greeting_known)
    parts("greeting_unknown", section.greeting_unknown)
    parts("offer_keys", section.offer_keys)
    for reason, offer in section.offers.items():
        parts(f"offers.{reason}.say", offer.say)
    found += [
        ("menu.prompt", section.menu.prompt),
        ("retry", section.retry),
        ("order_intro", section.order_intro),
        ("no_orders", section.no_orders),
        ("after_status", section.after_status),
        ("goodbye", section.goodbye),
    ]
    found += [(f"order_statuses.{k}", v) for k, v in section.order_statuses.items()]
    return found


SERVICE_PROMPTS = frozenset(
    {"cti/callback-offer", "cti/callback-owed", "cti/callback-unavailable", "cti/callback-hello"}
)
"""Prompts played outside the flow: to a caller asking for a call-back in a queue
(``ivr.callback``) and to a customer answering one (the call-back rules' ``announce``)."""


def every_prompt(flow: FlowFile) -> dict[str, set[str]]:
    """Language to the prompts its callers can hear (what the generator must record)."""
    return {
        language: {p for _, p in _prompts(s)} | (SERVICE_PROMPTS & prompt_catalog(language).keys())
        for language, s in flow.languages.items()
    }
