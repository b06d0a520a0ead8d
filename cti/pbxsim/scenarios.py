"""Call scenarios as pure, deterministic generators of Asterisk 22 AMI traffic.

The four recorded scenarios (``answered``, ``abandoned``, ``ringnoanswer``,
``hangup-in-ivr``) and bursts of overlapping calls run on ``cti.pbxsim.engine.Pbx``
in virtual time with a seeded RNG: the same arguments give the same bytes, in
microseconds, with no socket. ``human_plan`` draws the realistic mix ``cti demo`` plays.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cti.pbxsim.engine import (
    DEFAULT_EPOCH,
    Call,
    CallerScript,
    CallPlan,
    Pbx,
    PbxConfig,
    ProbeScript,
    Shape,
)

SCENARIOS = ("answered", "abandoned", "ringnoanswer", "hangup-in-ivr", "unanswered")
"""Scenario names ``plan_for`` knows; the first four are the recordings'."""


def plan_for(
    scenario: str,
    *,
    caller: str = "+79161234567",
    name: str = "Ivan Petrov",
    digits: str | None = None,
    hold: float | None = None,
    talk: float | None = None,
) -> CallPlan:
    """The caller's behaviour in a named scenario, as the recording's caller script had it.

    ``answered``: key 2 (queue ``sales``), waits up to 12 s, an agent answers after 1 s
    and talks 3 s. ``abandoned``: key 3 (``support``, where nobody answers), hangs up
    after 8 s in the queue. ``ringnoanswer``: as ``abandoned`` but waits 24 s, past a
    15 s ring timeout and into a second ring. ``hangup-in-ivr``: hangs up 1 s after the
    key while the IVR still waits for another. ``unanswered``: never hangs up; the
    queue's own limit ends the call.

    Raises:
        ValueError: unknown scenario.
    """
    defaults: dict[str, tuple[str, float | None, tuple[float | None, ...], ProbeScript]] = {
        "answered": ("2", 12.0, (1.0,), ProbeScript()),
        "abandoned": ("3", 8.0, (), ProbeScript()),
        "ringnoanswer": ("3", 24.0, (), ProbeScript()),
        "hangup-in-ivr": ("2", None, (), ProbeScript(second_wait_ms=6000)),
        "unanswered": ("3", None, (), ProbeScript()),
    }
    if scenario not in defaults:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    keys, patience, rings, probe = defaults[scenario]
    return CallPlan(
        caller=caller,
        name=name,
        script=CallerScript(
            digits=keys if digits is None else digits,
            ivr_patience=1.0 if scenario == "hangup-in-ivr" else None,
        ),
        hold=patience if hold is None else hold,
        rings=rings,
        answered=scenario not in ("abandoned", "ringnoanswer", "unanswered"),
        talk=3.0 if talk is None and scenario == "answered" else talk,
        probe=probe,
    )


def config_for(shape: Shape = "local", **changes: object) -> PbxConfig:
    """The recordings' PBX (``local``) or the production-shaped one (``trunk``)."""
    if shape == "local":
        return PbxConfig.recordings(**changes)
    return PbxConfig.production(**changes)


@dataclass
class Run:
    """What a pure run produced: every AMI event in order, and how each call ended."""

    events: list[bytes] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    pbx: Pbx | None = None

    @property
    def raw(self) -> bytes:
        """All events as one byte stream, as the AMI socket would carry them."""
        return b"".join(self.events)


def run_calls(
    plans: Sequence[tuple[float, CallPlan]],
    *,
    config: PbxConfig | None = None,
    seed: int = 0,
    start: float = DEFAULT_EPOCH,
    prepare: Callable[[Pbx], None] | None = None,
) -> Run:
    """Play calls that start at the given offsets (seconds) to their end, in virtual time."""
    result = Run()
    pbx = Pbx(config, result.events.append, seed=seed, start=start)
    if prepare is not None:
        prepare(pbx)
    calls = []
    for offset, plan in sorted(plans, key=lambda item: item[0]):
        pbx.run_until(start + offset)
        calls.append(pbx.place_call(plan))
    pbx.run()
    result.outcomes = [call.outcome for call in calls]
    result.calls = calls
    result.pbx = pbx
    return result


def generate(
    scenario: str,
    *,
    shape: Shape = "local",
    config: PbxConfig | None = None,
    seed: int = 0,
    start: float = DEFAULT_EPOCH,
    **plan: str | float | None,
) -> Run:
    """One call of a named scenario on a fresh PBX; see ``plan_for`` for ``plan``."""
    call = plan_for(scenario, **plan)  # type: ignore[arg-type]
    return run_calls([(0.0, call)], config=config or config_for(shape), seed=seed, start=start)


def generate_burst(
    count: int = 30,
    *,
    gap: float = 0.1,
    digits: str = "2",
    hold: float = 10.0,
    shape: Shape = "local",
    config: PbxConfig | None = None,
    seed: int = 0,
    start: float = DEFAULT_EPOCH,
) -> Run:
    """``count`` overlapping calls ``gap`` seconds apart, callers ``+79161000000`` onwards.

    As the ``burst30`` recording: everyone presses 2 (queue ``sales``, two agents who
    talk 3 s) and hangs up ``hold`` seconds later, so most calls abandon.
    """
    plans = [
        (
            n * gap,
            CallPlan(
                caller=f"+7916100{n:04d}",
                name=f"Caller {n}",
                script=CallerScript(digits=digits),
                hold=hold,
            ),
        )
        for n in range(count)
    ]
    return run_calls(plans, config=config or config_for(shape), seed=seed, start=start)


# -- the demo's realistic mix -------------------------------------------------------------


@dataclass
class MixWeights:
    """How often each kind of caller turns up in ``run_mix``; outcomes follow from the load.

    ``answered``: patient (1–4 minutes in the queue). ``abandoned``: impatient (5–30 s).
    ``ringnoanswer``: the first agent rung does not pick up. ``hangup_in_ivr``: gives
    up in the IVR. ``unanswered``: nobody ever picks up; the queue's limit ends the call.
    """

    answered: float = 0.65
    abandoned: float = 0.15
    ringnoanswer: float = 0.1
    hangup_in_ivr: float = 0.1
    unanswered: float = 0.0


def human_plan(
    rng: random.Random,
    weights: MixWeights,
    callers: Sequence[tuple[str, str]],
    keys: Sequence[str] = ("1", "1", "2", "3", "21", "22", "23", "24", "0"),
) -> tuple[str, CallPlan]:
    """Draw one caller with human timings: a few seconds to press a key, minutes to talk.

    ``keys``: what callers press, one key each time the IVR listens: take the offer (1),
    ask for something else and pick from the menu (2, then a choice), or ask for a person.
    """
    kinds = ["answered", "abandoned", "ringnoanswer", "hangup-in-ivr", "unanswered"]
    chances = [
        weights.answered,
        weights.abandoned,
        weights.ringnoanswer,
        weights.hangup_in_ivr,
        weights.unanswered,
    ]
    kind = rng.choices(kinds, chances)[0]
    number, name = rng.choice(list(callers))
    plan = CallPlan(
        caller=number,
        name=name,
        script=CallerScript(digits=rng.choice(list(keys)), press_delay=rng.uniform(1.0, 3.0)),
        hold=rng.uniform(60.0, 240.0),
        talk=rng.uniform(20.0, 150.0),
        probe=ProbeScript(bogus=False),
    )
    if plan.talk is not None and rng.random() < 0.5:
        plan.caller_talk = plan.talk * rng.uniform(0.5, 0.95)
    if kind == "abandoned":
        plan.hold = rng.uniform(5.0, 30.0)
    elif kind == "ringnoanswer":
        plan.rings = (None,)
    elif kind == "hangup-in-ivr":
        plan.script.ivr_patience = rng.uniform(0.5, 2.0)
        plan.probe = ProbeScript(second_wait_ms=8000, bogus=False)
    elif kind == "unanswered":
        plan.hold = None
        plan.answered = False
    return kind, plan


def human_behaviour(rng: random.Random) -> tuple[float | None, float]:
    """How a human agent handles one ring: answers after 2–6 s, talks 20–150 s."""
    return rng.uniform(2.0, 6.0), rng.uniform(20.0, 150.0)
