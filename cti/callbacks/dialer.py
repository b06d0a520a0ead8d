"""Agent-first outbound calls over AMI, and what became of each.

The server asks Asterisk to ring the agent's phone (``Originate``, asynchronous); once the
agent answers, that channel runs the outbound context (dialplans/outbound.conf), which
dials the customer. The agent's channel is given the ``Uniqueid`` ``cti-out-<attempt>``
(``ChannelId``), so every channel of the call carries it as ``Linkedid``, and the
``Originate``'s ``ActionID`` is the same: the events of an attempt are recognised by
name, in whichever process reads AMI, with nothing to look up.

``AttemptWatch`` follows them, as Asterisk 22 sends them:

- the originate's own ``DialEnd`` to the agent's channel (``DestUniqueid`` is the attempt;
  no calling channel) says ``BUSY`` when the phone refused the call (PJSIP's 486 gives
  ``OriginateResponse`` ``Reason`` 0, so this is the only sign of a busy phone);
- ``OriginateResponse`` says whether the agent answered (``Success``, ``Reason`` 4) or
  not (3: no answer; 5: busy, from drivers that signal it; 0, 1, 8: unreachable), always
  after the agent channel's ``Hangup`` when it failed;
- the agent channel's ``DialEnd`` to the customer (``Uniqueid`` is the attempt) says what
  the customer's phone did (``DialStatus``);
- the agent channel's ``Hangup`` ends it. When Asterisk could not even create the
  customer's channel (the trunk unreachable) there is no ``DialEnd``, only that hangup,
  with the cause the dial failed with (3, 20, 27, 34, 38: unavailable; 17: busy).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger(__name__)

PREFIX = "cti-out-"
EVENTS = frozenset({"OriginateResponse", "DialEnd", "Hangup"})
LOST_AFTER = 180.0
"""Seconds after which an attempt Asterisk said nothing more about is closed as failed."""


class Result(StrEnum):
    """What one attempt came to."""

    ANSWERED = "answered"
    AGENT_NOANSWER = "agent_noanswer"
    AGENT_BUSY = "agent_busy"
    AGENT_UNAVAILABLE = "agent_unavailable"
    BUSY = "busy"
    NOANSWER = "noanswer"
    UNAVAILABLE = "unavailable"
    CANCELLED = "cancelled"
    """The agent hung up before the customer answered."""
    REFUSED = "refused"
    """Asterisk refused the ``Originate`` (or nobody reads AMI)."""
    FAILED = "failed"
    """Asterisk said nothing more about it (lost)."""

    @property
    def agent_side(self) -> bool:
        """The agent, not the customer, is why it failed: not the customer's attempt."""
        return self in AGENT_SIDE

    @property
    def words(self) -> str:
        return WORDS[self]


AGENT_SIDE = frozenset(
    {Result.AGENT_NOANSWER, Result.AGENT_BUSY, Result.AGENT_UNAVAILABLE, Result.REFUSED}
)
WORDS = {
    Result.ANSWERED: "the customer answered",
    Result.AGENT_NOANSWER: "the agent's phone was not answered",
    Result.AGENT_BUSY: "the agent's phone was busy",
    Result.AGENT_UNAVAILABLE: "the agent's phone could not be reached",
    Result.BUSY: "the customer's line was busy",
    Result.NOANSWER: "the customer did not answer",
    Result.UNAVAILABLE: "the customer's number could not be reached",
    Result.CANCELLED: "the agent hung up before the customer answered",
    Result.REFUSED: "Asterisk refused the call",
    Result.FAILED: "Asterisk said nothing more about the call",
}
ORIGINATE_REASONS = {
    "3": Result.AGENT_NOANSWER,
    "5": Result.AGENT_BUSY,
}
"""``OriginateResponse`` ``Reason`` (``AST_CONTROL_*``) to result; any other: unavailable."""
HANGUP_CAUSES = {
    "17": Result.BUSY,
    **dict.fromkeys(("1", "3", "20", "27", "34", "38", "41", "42"), Result.UNAVAILABLE),
}
"""The agent channel's hangup cause when the customer was never reached (no ``DialEnd``)."""
DIAL_STATUSES = {
    "ANSWER": Result.ANSWERED,
    "BUSY": Result.BUSY,
    "NOANSWER": Result.NOANSWER,
    "CONGESTION": Result.UNAVAILABLE,
    "CHANUNAVAIL": Result.UNAVAILABLE,
    "CANCEL": Result.CANCELLED,
}


ORIGINATE_VARIABLES = (
    "CTI_CUSTOMER",
    "CTI_CUSTOMER_NAME",
    "CTI_CONTACT_ID",
    "CTI_OUTBOUND_ID",
    "CTI_OUTBOUND_KIND",
    "CTI_CALLER_ID",
    "CTI_CALLER_NAME",
    "CTI_ANNOUNCE",
    "CTI_DIAL_SECONDS",
)
"""The channel variables an ``Originate`` sets for dialplans/outbound.conf."""


def linkedid_of(attempt_id: int) -> str:
    """The ``Uniqueid`` (and ``ActionID``) of an attempt's agent channel."""
    return f"{PREFIX}{attempt_id}"


def attempt_of(name: str) -> int | None:
    """The attempt a ``cti-out-<id>`` name belongs to, if it is one."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :]
    return int(rest) if rest.isdigit() else None


@dataclass(frozen=True, slots=True)
class Call:
    """What to originate: the agent's phone first, then the customer."""

    attempt_id: int
    agent: str
    """The agent's interface (``PJSIP/1001``)."""
    number: str
    """The customer's number, E.164."""
    name: str
    """The customer's name (or number), shown on the agent's phone."""
    kind: str
    context: str
    agent_ring_seconds: int
    customer_ring_seconds: int
    caller_id: str = ""
    caller_name: str = ""
    announce: str = ""
    contact_id: int | None = None

    def action(self) -> dict[str, str]:
        """The ``Originate`` action's fields."""
        name = linkedid_of(self.attempt_id)
        values = (
            self.number,
            _plain(self.name),
            str(self.contact_id or ""),
            str(self.attempt_id),
            self.kind,
            self.caller_id,
            _plain(self.caller_name),
            self.announce,
            str(self.customer_ring_seconds),
        )
        variables = dict(zip(ORIGINATE_VARIABLES, values, strict=True))
        display = _plain(f"Call-back: {self.name}" if self.kind == "callback" else self.name)
        return {
            "ActionID": name,
            "Channel": self.agent,
            "Context": self.context,
            "Exten": self.number,
            "Priority": "1",
            "CallerID": f'"{display}" <{self.number}>' if display else self.number,
            "Timeout": str(self.agent_ring_seconds * 1000),
            "ChannelId": name,
            "Variable": ",".join(f"{k}={v}" for k, v in variables.items()),
            "Async": "true",
        }


def _plain(text: str) -> str:
    """A name safe inside ``CallerID`` and the comma-separated ``Variable`` header."""
    return "".join(c for c in text if c not in '",<>\r\n;=|\\')[:64].strip()


@dataclass(slots=True)
class _Attempt:
    started: float
    agent_busy: bool = False
    agent_answered: bool = False
    result: Result | None = None
    ended: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """An attempt's result (``ended``: its agent channel is gone too)."""

    attempt_id: int
    result: Result
    agent_answered: bool
    ended: bool
    detail: str = ""


@dataclass
class AttemptWatch:
    """Follows the AMI events of outbound attempts; reports each result, then each end.

    ``on_outcome`` is called once when the result is known (``ended`` False if the call
    goes on: the customer answered and they talk) and once more when it ends, or once in
    all when both are known together.
    """

    on_outcome: Callable[[Outcome], None]
    clock: Callable[[], float] = time.time
    _live: dict[int, _Attempt] = field(default_factory=dict)

    def expect(self, attempt_id: int) -> None:
        """An ``Originate`` for this attempt is about to be sent."""
        self._live.setdefault(attempt_id, _Attempt(self.clock()))

    def on_event(self, msg: Mapping[str, str], _now: float) -> None:
        """An AMI event (a bridge watcher): only outbound attempts' are looked at."""
        kind = msg.get("Event")
        if kind == "OriginateResponse":
            self._originated(msg)
        elif kind == "DialEnd":
            attempt_id = attempt_of(msg.get("Uniqueid", ""))
            if attempt_id is not None:  # the agent's phone dialled the customer
                status = msg.get("DialStatus", "")
                self._settle(attempt_id, DIAL_STATUSES.get(status, Result.UNAVAILABLE), status)
                return
            attempt_id = attempt_of(msg.get("DestUniqueid", ""))
            if attempt_id is not None and msg.get("DialStatus") == "BUSY":
                self._attempt(attempt_id).agent_busy = True  # the originate ringing the agent
        elif kind == "Hangup":
            attempt_id = attempt_of(msg.get("Uniqueid", ""))
            if attempt_id is not None:
                self._hung_up(attempt_id, msg.get("Cause", ""), msg.get("Cause-txt", ""))

    def sweep(self) -> None:
        """Close attempts Asterisk has said nothing about for ``LOST_AFTER`` seconds."""
        now = self.clock()
        for attempt_id, attempt in list(self._live.items()):
            if now - attempt.started > LOST_AFTER and attempt.result is None:
                attempt.ended = True
                self._settle(attempt_id, Result.FAILED, "no word from Asterisk")

    def _attempt(self, attempt_id: int) -> _Attempt:
        return self._live.setdefault(attempt_id, _Attempt(self.clock()))

    def _originated(self, msg: Mapping[str, str]) -> None:
        attempt_id = attempt_of(msg.get("ActionID", "")) or attempt_of(msg.get("Uniqueid", ""))
        if attempt_id is None:
            return
        attempt = self._attempt(attempt_id)
        if msg.get("Response") == "Success":
            attempt.agent_answered = True
            return
        reason = msg.get("Reason", "")
        attempt.ended = True  # the agent's channel is gone, or never was
        result = ORIGINATE_REASONS.get(reason, Result.AGENT_UNAVAILABLE)
        if attempt.agent_busy:
            result = Result.AGENT_BUSY
        self._settle(attempt_id, result, f"reason {reason}")

    def _settle(self, attempt_id: int, result: Result, detail: str) -> None:
        attempt = self._attempt(attempt_id)
        if attempt.result is not None:
            return
        attempt.result = result
        if attempt.ended:
            self._live.pop(attempt_id, None)
        self.on_outcome(Outcome(attempt_id, result, attempt.agent_answered, attempt.ended, detail))

    def _hung_up(self, attempt_id: int, cause: str, words: str) -> None:
        attempt = self._live.get(attempt_id)
        if attempt is None or attempt.ended:
            return
        attempt.ended = True
        if attempt.result is None and not attempt.agent_answered:
            return  # OriginateResponse, just behind, says why
        self._live.pop(attempt_id)
        if attempt.result is None:  # the customer's phone was never reached, or the agent left
            attempt.result = HANGUP_CAUSES.get(cause, Result.CANCELLED)
            detail = f"cause {cause} {words}".strip() if cause else words
            self.on_outcome(Outcome(attempt_id, attempt.result, True, True, detail))
            return
        self.on_outcome(Outcome(attempt_id, attempt.result, attempt.agent_answered, True, words))
