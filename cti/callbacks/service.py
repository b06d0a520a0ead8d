"""Outbound calls and call-backs: asked for anywhere, dialled and followed by the AMI reader.

- **Click-to-call** (``click_to_call``): an agent calls a customer from the dossier.
- **Virtual hold** (``hold_place``): a caller waiting in a queue pressed 1; the promise is
  stored with their place in line (when they joined the queue), and the scheduler, in
  the process reading AMI, calls them back when an agent of that queue is free and
  nobody is ahead of them: it pauses the agent in their queues (reason ``Call-back``),
  rings the agent, then the customer, and unpauses the agent when the call ends.
- **Abandoned callers** (``on_call_event``): a caller who hung up waiting goes on the
  call-back list for people to take, dial with one click and close.

Every number goes through caller identification's normalisation and is refused if
invalid, on ``CTI_OUTBOUND_BLOCKED_PREFIXES`` or marked do-not-call by its contact. Every
attempt is stored before it is dialled (``outbound_attempts``) and its result, whatever
process hears it, is stored, put on the customer's timeline and told to whoever asked.
A call-back stays owed until an attempt reaches the customer, a person gives it up, or
``max_attempts`` failures do; failures on the agent's side (no answer, busy) are not the
customer's and do not count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Protocol

from cti.ami.exceptions import AmiError
from cti.auth.model import User
from cti.callbacks.dialer import AttemptWatch, Call, Outcome, Result
from cti.callbacks.rules import RULES_NAME, CallbackRules, parse_callback_rules
from cti.callbacks.scheduler import Decision, Owed, Scheduler
from cti.calls.model import CallEvent, CallEventType, CallOutcome
from cti.contacts.facts import Channel, InteractionFact
from cti.contacts.phone import PhoneRules, normalize_phone
from cti.routing.board import AgentBoard
from cti.settings import OutboundSettings, Settings
from cti.store.callbacks import CallbackRepository, NewCallback
from cti.store.contacts import ContactRepository
from cti.store.db import Sessionmaker
from cti.store.rulesets import RuleSetStore

log = logging.getLogger(__name__)

OUTBOUND_TOPIC = "screenpop.outbound"
TIMELINE_TOPIC = "timeline.entry"
RELOAD_SECONDS = 2.0
"""How often the scheduler rereads owed call-backs (some are owed by other processes)."""
STALE_DIALING = 300.0
"""A call-back left ``dialing`` this long by a process that died is owed again."""
AGENT_RETRY = 10.0
"""Seconds before a call-back whose agent did not answer is offered to an agent again."""
PAUSE_REASON = "Call-back"


class Actions(Protocol):
    async def action(self, name: str, **fields: str) -> Any: ...


class Publisher(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...


class OutboundRefused(Exception):
    """An outbound call that will not be made: ``status`` and ``code`` for the API."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class HoldAnswer:
    """What the IVR tells a caller who pressed 1: owed (with its id), or why not."""

    callback_id: int | None
    refused: str | None = None
    """``closed``, ``not_offered``, ``short_wait``, ``number``, ``limit`` or ``storage``."""


class OutboundService:
    """Click-to-call, call-backs and their scheduler (see the module's description)."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: Sessionmaker,
        ami: Actions | None,
        board: AgentBoard,
        rule_store: RuleSetStore,
        bus: Publisher | None,
        *,
        username_of: Callable[[str], str | None],
        reading: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings.outbound
        self.phone_rules = PhoneRules(
            region=settings.contacts.region, outside_prefix=settings.contacts.outside_prefix
        )
        self.store = CallbackRepository(sessionmaker)
        self.contacts = ContactRepository(sessionmaker)
        self.ami = ami
        self.board = board
        self.rule_store = rule_store
        self.bus = bus
        self.username_of = username_of
        self.reading = reading
        self.clock = clock
        self.scheduler = Scheduler()
        self.watch = AttemptWatch(self._outcome, clock=clock)
        self.ticks = 0
        self.served = 0
        self._rules: CallbackRules | None = None
        self._loaded_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    # -- rules -----------------------------------------------------------------------

    async def rules(self) -> CallbackRules:
        """The call-back rules in force (the newest saved, else the shipped ones)."""
        if self._rules is None:
            saved = await self.rule_store.get(RULES_NAME)
            self._rules = parse_callback_rules(saved["body"] if saved else shipped_rules())
        return self._rules

    def forget_rules(self) -> None:
        """Rules were saved: read them again."""
        self._rules = None

    # -- numbers ---------------------------------------------------------------------

    def normalise(self, raw: str) -> str | None:
        """``raw`` as E.164, as caller identification reads numbers; None if invalid."""
        return normalize_phone(raw, self.phone_rules).e164

    async def dialable(self, raw: str) -> str:
        """``raw`` as E.164 if it may be called.

        Raises:
            OutboundRefused: invalid (422), blocked or do-not-call (403).
        """
        number = normalize_phone(raw, self.phone_rules)
        if number.e164 is None:
            raise OutboundRefused(
                422, "outbound.invalid_number", f"{raw[:64]!r} is not a phone number we can dial."
            )
        e164 = number.e164
        if any(e164.startswith(prefix) for prefix in self.settings.blocked_prefixes):
            raise OutboundRefused(
                403, "outbound.blocked_number", f"Numbers starting {e164[:5]}… are not dialled."
            )
        if await self.store.do_not_call(e164):
            raise OutboundRefused(
                403, "outbound.do_not_call", "The customer asked not to be called on this number."
            )
        return e164

    # -- click-to-call ---------------------------------------------------------------

    async def click_to_call(
        self, user: User, raw: str, contact_id: int | None = None
    ) -> dict[str, Any]:
        """Ring ``user``'s phone, then the customer; the attempt as stored.

        Raises:
            OutboundRefused: no phone, a number that may not be called, Asterisk refusing.
        """
        if not user.agent_interface:
            raise OutboundRefused(
                422, "outbound.no_phone", "Your user has no phone (agent_interface) to ring."
            )
        number = await self.dialable(raw)
        if contact_id is None:
            contact_id = await self._contact_of(number)
        display = await self._display(contact_id, number)
        rules = await self.rules()
        attempt_id = await self.store.start_attempt(
            kind="click_to_call",
            requested_by=user.username,
            agent=user.agent_interface,
            number=number,
            contact_id=contact_id,
        )
        await self._originate(
            outbound_call(
                self.settings,
                rules,
                attempt_id=attempt_id,
                agent=user.agent_interface,
                number=number,
                name=display,
                kind="click_to_call",
                contact_id=contact_id,
            )
        )
        return await self._attempt(attempt_id)

    # -- call-backs: asked for ----------------------------------------------------------

    async def hold_place(
        self,
        *,
        raw_number: str,
        queue: str,
        joined: float,
        source_call: str,
        contact_id: int | None = None,
    ) -> HoldAnswer:
        """A caller in ``queue`` pressed 1: owe them a call-back at their place in line,
        if the rules allow it now."""
        now = self.clock()
        rules = await self.rules()
        if not rules.open_at(now):
            return HoldAnswer(None, "closed")
        if not rules.offered_in(queue):
            return HoldAnswer(None, "not_offered")
        if self.expected_wait(queue, now) < rules.offer_after_wait:
            return HoldAnswer(None, "short_wait")
        try:
            number = await self.dialable(raw_number)
        except OutboundRefused:
            return HoldAnswer(None, "number")
        if await self.store.attempts_since(number, rules.day_start(now)) >= (
            rules.daily_attempts_per_number
        ):
            return HoldAnswer(None, "limit")
        if contact_id is None:
            contact_id = await self._contact_of(number)
        callback_id = await self.store.owe(
            NewCallback(
                number=number,
                queue=queue,
                place=joined,
                source="virtual_hold",
                contact_id=contact_id,
                source_call=source_call,
                wait_seconds=max(0.0, now - joined),
            )
        )
        self._wake.set()
        if callback_id is None:  # the same call asked twice: the first promise stands
            return HoldAnswer(await self.store.of_call(source_call))
        if self.reading():
            self.scheduler.add(Owed(callback_id, queue, joined))
        log.info("call-back owed to a caller of %s (their place: %.0f)", queue, joined)
        return HoldAnswer(callback_id)

    async def worth_offering(self, queue: str) -> bool:
        """Whether a caller about to wait in ``queue`` should be offered a call-back now."""
        now = self.clock()
        rules = await self.rules()
        return (
            rules.open_at(now)
            and rules.offered_in(queue)
            and self.expected_wait(queue, now) >= max(rules.offer_after_wait, 1)
        )

    def expected_wait(self, queue: str, now: float) -> float:
        """Seconds a caller of ``queue`` can expect to wait: Asterisk's average hold time,
        or the longest wait there now if longer."""
        oldest = self.board.oldest_joined().get(queue)
        return max(float(self.board.holdtime(queue)), now - oldest if oldest else 0.0)

    def on_call_event(self, event: CallEvent) -> None:
        """Call events (in the AMI reader): abandoned callers go on the call-back list; a
        caller who got through closes their open entries."""
        call = event.call
        if call.get("direction") != "inbound" or not call.get("caller_num"):
            return
        if event.type is CallEventType.ENDED and call.get("outcome") == CallOutcome.ABANDONED:
            self._spawn(self._abandoned(call))
        elif event.type is CallEventType.ANSWERED:
            self._spawn(self._got_through(call))

    async def _abandoned(self, call: dict[str, Any]) -> None:
        number = normalize_phone(call.get("caller_num"), self.phone_rules).e164
        if number is None or not call.get("queue"):
            return
        contact = str(call.get("contact_id") or "")
        place = float(call.get("queued_at") or call.get("started_at") or self.clock())
        await self.store.owe(
            NewCallback(
                number=number,
                queue=str(call["queue"]),
                place=place,
                source="abandoned",
                contact_id=int(contact) if contact.isdigit() else await self._contact_of(number),
                source_call=str(call["linkedid"]),
                wait_seconds=call.get("wait_seconds"),
            )
        )

    async def _got_through(self, call: dict[str, Any]) -> None:
        number = normalize_phone(call.get("caller_num"), self.phone_rules).e164
        if number is None:
            return
        for callback_id in await self.store.open_for(number):
            self.scheduler.remove(callback_id)
            await self.store.move(
                callback_id,
                expect=("owed",),
                state="done",
                last_result="called_again",
                closed_by="system",
            )

    # -- call-backs: people ------------------------------------------------------------

    async def take(self, callback_id: int, user: User) -> bool:
        """Put a call-back on ``user``'s name, unless someone else has taken it."""
        taken = await self.store.take(callback_id, user.username)
        if taken:
            self.scheduler.remove(callback_id)  # a person has it now, not the scheduler
        return taken

    async def call_back(self, callback_id: int, user: User) -> dict[str, Any]:
        """Dial an owed call-back now from ``user``'s phone; the attempt.

        Raises:
            OutboundRefused: not owed (409), taken by someone else (409), no phone (422),
                a number that may not be called (403/422), the daily limit (429),
                Asterisk refusing (409/503).
        """
        found = await self.store.get(callback_id)
        if found is None:
            raise OutboundRefused(404, "callback.not_found", f"No call-back {callback_id}.")
        if found["state"] != "owed":
            raise OutboundRefused(409, "callback.not_owed", f"It is {found['state']}.")
        if found["taken_by"] not in (None, user.username):
            raise OutboundRefused(409, "callback.taken", f"{found['taken_by']} has taken it.")
        if not user.agent_interface:
            raise OutboundRefused(
                422, "outbound.no_phone", "Your user has no phone (agent_interface) to ring."
            )
        number = await self.dialable(found["number"])
        rules = await self.rules()
        if await self.store.attempts_since(number, rules.day_start(self.clock())) >= (
            rules.daily_attempts_per_number
        ):
            raise OutboundRefused(
                429,
                "callback.daily_limit",
                f"{rules.daily_attempts_per_number} attempts to this number today already.",
            )
        if not await self.store.move(
            callback_id, expect=("owed",), state="dialing", taken_by=user.username
        ):
            raise OutboundRefused(409, "callback.not_owed", "Someone else is dialling it.")
        self.scheduler.remove(callback_id)
        return await self._dial_callback(found, user.agent_interface, user.username, rules)

    async def close(self, callback_id: int, user: User, state: str, note: str) -> bool:
        """Close a call-back by hand: ``done`` or ``given_up``, with a note."""
        closed = await self.store.move(
            callback_id,
            expect=("owed",),
            state=state,
            closed_by=user.username,
            note=note,
        )
        if closed:
            self.scheduler.remove(callback_id)
        return closed

    # -- the scheduler -------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="callback-scheduler")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._settling):
            with contextlib.suppress(Exception):
                await task

    def on_agent(self, _agent: object) -> None:
        """An agent's state changed (a routing watcher): decide now, not at the next tick.

        The moment an agent comes free, Asterisk's queue looks for its next caller too
        (each waiting caller checks about once a second); a call-back first in line must
        have the agent paused before that, or a caller who joined later gets them.
        """
        if len(self.scheduler):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.tick_seconds)
            self._wake.clear()
            try:
                await self.tick()
            except Exception:  # a database or AMI hiccup: the next tick tries again
                log.exception("the call-back scheduler's tick failed")

    async def tick(self) -> list[Decision]:
        """One round: reread the owed call-backs now and then, and serve who can be."""
        if not self.reading():
            self._loaded_at = 0.0
            return []
        now = self.clock()
        self.watch.sweep()
        if now - self._loaded_at >= RELOAD_SECONDS:
            await self._reload(now)
        rules = await self.rules()
        if not len(self.scheduler) or not rules.open_at(now):
            return []
        self.ticks += 1
        decisions = self.scheduler.tick(
            now, self.board.free_by_queue(now), self.board.oldest_joined()
        )
        for decision in decisions:
            await self._serve(decision, rules)
        return decisions

    async def _reload(self, now: float) -> None:
        rows = await self.store.owed_for_scheduler(now - STALE_DIALING)
        self.scheduler = Scheduler(
            Owed(
                row.id,
                row.queue,
                row.place_at.timestamp(),
                row.next_attempt_at.timestamp() if row.next_attempt_at else 0.0,
            )
            for row in rows
        )
        self._loaded_at = now

    async def _serve(
        self, decision: Decision, rules: CallbackRules, *, rest: float | None = None
    ) -> bool:
        """Pause the agent, claim the call-back, ring the agent once rested; False if it
        was not to be dialled after all (gone, refused, or the day's attempts used up).

        ``rest`` given: the agent is paused already (their call-back just ended).
        """
        agent, owed = decision.agent, decision.owed
        if rest is None:  # first, before any lookup: the queue may want them any moment
            await self._pause(agent, True)
        if not await self._claim(owed, agent, rules):
            if rest is None:
                await self._pause(agent, False)
            return False
        self.served += 1
        if rest is None:
            rest = self.board.last_call(agent) + rules.agent_rest_seconds - self.clock()
        found = await self.store.get(owed.id)
        assert found is not None
        self._spawn(self._ring_after(max(0.0, rest), found, agent, rules))
        return True

    async def _claim(self, owed: Owed, agent: str, rules: CallbackRules) -> bool:
        """Mark a call-back ``dialing`` for ``agent`` if it is still to be dialled now."""
        found = await self.store.get(owed.id)
        if found is None or found["state"] != "owed":
            return False
        try:
            number = await self.dialable(found["number"])
        except OutboundRefused as exc:
            await self.store.move(
                owed.id, expect=("owed",), state="given_up", last_result="refused", note=exc.message
            )
            return False
        now = self.clock()
        if await self.store.attempts_since(number, rules.day_start(now)) >= (
            rules.daily_attempts_per_number
        ):
            tomorrow = rules.day_start(now) + 86400 + 3600
            await self.store.move(
                owed.id, expect=("owed",), next_attempt_at=datetime.fromtimestamp(tomorrow, UTC)
            )
            self.scheduler.add(Owed(owed.id, owed.queue, owed.place, tomorrow))
            return False
        username = self.username_of(agent) or agent
        return await self.store.move(owed.id, expect=("owed",), state="dialing", taken_by=username)

    async def _ring_after(
        self, rest: float, found: dict[str, Any], agent: str, rules: CallbackRules
    ) -> None:
        """Ring the agent for a call-back once their rest after the last call is over."""
        if rest:
            await asyncio.sleep(rest)
        try:
            await self._dial_callback(found, agent, "scheduler", rules)
        except OutboundRefused as exc:  # settled as refused: owed again, agent unpaused
            log.warning("a call-back could not be dialled: %s", exc.message)

    async def _next_for(self, agent: str) -> bool:
        """An agent's call-back has ended: if a call-back of their queues is first in
        line, it is theirs, without unpausing them (the queue would ring them at once
        for a caller who joined later); False if none is."""
        if not self.reading():
            return False
        now = self.clock()
        rules = await self.rules()
        if not rules.open_at(now):
            return False
        free = {queue: [agent] for queue in self.board.queues_of(agent)}
        for decision in self.scheduler.tick(now, free, self.board.oldest_joined()):
            if await self._serve(decision, rules, rest=rules.agent_rest_seconds):
                return True
        return False

    async def _dial_callback(
        self, found: dict[str, Any], agent: str, requested_by: str, rules: CallbackRules
    ) -> dict[str, Any]:
        attempt_id = await self.store.start_attempt(
            kind="callback",
            requested_by=requested_by,
            agent=agent,
            number=found["number"],
            contact_id=found["contact_id"],
            callback_id=found["id"],
        )
        await self._originate(
            outbound_call(
                self.settings,
                rules,
                attempt_id=attempt_id,
                agent=agent,
                number=found["number"],
                name=found["contact_name"] or found["number"],
                kind="callback",
                contact_id=found["contact_id"],
            )
        )
        return await self._attempt(attempt_id)

    # -- dialling and results ------------------------------------------------------------

    async def _originate(self, call: Call) -> None:
        """Send the ``Originate``; a refusal is the attempt's result at once.

        Raises:
            OutboundRefused: Asterisk refused (409) or cannot be reached (503).
        """
        self.watch.expect(call.attempt_id)
        problem: OutboundRefused | None = None
        if self.ami is None:
            problem = OutboundRefused(503, "asterisk.unavailable", "Not connected to Asterisk.")
        else:
            try:
                reply = await self.ami.action("Originate", **call.action())
            except AmiError as exc:
                problem = OutboundRefused(503, "asterisk.unavailable", str(exc))
            else:
                if isinstance(reply, dict) and reply.get("Response") == "Error":
                    message = f"Asterisk refused: {reply.get('Message', 'refused')}"
                    problem = OutboundRefused(409, "asterisk.refused", message)
        if problem is None:
            return
        await self.settle(Outcome(call.attempt_id, Result.REFUSED, False, True, problem.message))
        raise problem

    def _outcome(self, outcome: Outcome) -> None:
        self._spawn(self.settle(outcome))

    async def settle(self, outcome: Outcome) -> None:
        """Store an attempt's result, put it on the timeline, settle its call-back, tell
        whoever asked; when the call has ended, unpause an agent the scheduler paused."""
        attempt = await self.store.attempt(outcome.attempt_id)
        if attempt is None:
            log.warning("an outbound attempt nobody stored: %s", outcome.attempt_id)
            return
        first = await self.store.finish_attempt(
            outcome.attempt_id, outcome.result.value, outcome.detail
        )
        if first:
            await self._record(attempt, outcome.result)
            if attempt["callback_id"] is not None:
                await self._settle_callback(attempt, outcome.result)
            await self._tell(attempt, outcome.result)
        scheduled = outcome.ended and attempt["requested_by"] == "scheduler"
        if scheduled and not await self._next_for(attempt["agent"]):
            await self._pause(attempt["agent"], False)

    async def _record(self, attempt: dict[str, Any], result: Result) -> None:
        contact_id = attempt["contact_id"]
        if contact_id is None:
            return
        kind = "Call-back" if attempt["kind"] == "callback" else "Outbound call"
        entry = InteractionFact(
            at=datetime.now(UTC),
            channel=Channel.VOICE,
            direction="outbound",
            reason=None,
            agent=self.username_of(attempt["agent"]) or attempt["requested_by"],
            summary=f"{kind} to {attempt['number']}: {result.words}",
            outcome=result.value,
        )
        ref = f"outbound:{attempt['id']}"
        await self.contacts.add_interaction(
            contact_id, entry, ref=ref, details={"linkedid": attempt["linkedid"]}
        )
        await self._publish(TIMELINE_TOPIC, {"contact_id": contact_id, "at": entry.at.isoformat()})

    async def _settle_callback(self, attempt: dict[str, Any], result: Result) -> None:
        callback_id = int(attempt["callback_id"])
        found = await self.store.get(callback_id)
        if found is None or found["state"] != "dialing":
            return
        if result is Result.ANSWERED:
            await self.store.move(
                callback_id,
                expect=("dialing",),
                state="done",
                attempts=found["attempts"] + 1,
                last_result=result.value,
            )
            return
        virtual = found["source"] == "virtual_hold"
        if result.agent_side:  # not the customer's attempt: owed again, as it was
            due = self.clock() + AGENT_RETRY
            await self.store.move(
                callback_id,
                expect=("dialing",),
                state="owed",
                taken_by=None if virtual else found["taken_by"],
                last_result=result.value,
                next_attempt_at=datetime.fromtimestamp(due, UTC),
            )
            if virtual and self.reading():
                place = datetime.fromisoformat(found["place_at"]).timestamp()
                self.scheduler.add(Owed(callback_id, found["queue"], place, due))
            return
        failures = found["attempts"] + 1
        rules = await self.rules()
        wait = rules.retry_after(failures)
        if wait is None:
            await self.store.move(
                callback_id,
                expect=("dialing",),
                state="given_up",
                attempts=failures,
                last_result=result.value,
                closed_by="retry limit",
            )
            return
        due = self.clock() + wait
        await self.store.move(
            callback_id,
            expect=("dialing",),
            state="owed",
            attempts=failures,
            last_result=result.value,
            taken_by=None if virtual else found["taken_by"],
            next_attempt_at=datetime.fromtimestamp(due, UTC),
        )
        if virtual and self.reading():
            place = datetime.fromisoformat(found["place_at"]).timestamp()
            self.scheduler.add(Owed(callback_id, found["queue"], place, due))

    async def _tell(self, attempt: dict[str, Any], result: Result) -> None:
        """The result on the screens of whoever asked (or the agent the scheduler chose)."""
        asker = attempt["requested_by"]
        user = self.username_of(attempt["agent"]) if asker == "scheduler" else asker
        if not user:
            return
        message = {
            "type": "outbound",
            "version": 1,
            "attempt_id": attempt["id"],
            "callback_id": attempt["callback_id"],
            "kind": attempt["kind"],
            "number": attempt["number"],
            "contact_id": attempt["contact_id"],
            "result": result.value,
            "text": result.words,
        }
        await self._publish(OUTBOUND_TOPIC, {"agent": user, "message": message})

    async def _publish(self, topic: str, message: dict[str, Any]) -> None:
        if self.bus is None:
            return
        try:
            await self.bus.publish(topic, message)
        except Exception as exc:  # screens miss a notice; the database has it all
            log.warning("could not publish %s: %s", topic, exc)

    async def _pause(self, agent: str, paused: bool) -> None:
        if self.ami is None:
            return
        fields = {"Interface": agent, "Paused": "true" if paused else "false"}
        if paused:
            fields["Reason"] = PAUSE_REASON
        try:
            await self.ami.action("QueuePause", **fields)
        except AmiError as exc:
            log.warning("could not %s %s: %s", "pause" if paused else "unpause", agent, exc)

    # -- helpers -------------------------------------------------------------------------

    async def _attempt(self, attempt_id: int) -> dict[str, Any]:
        found = await self.store.attempt(attempt_id)
        assert found is not None
        return found

    async def _contact_of(self, number: str) -> int | None:
        candidates = await self.contacts.by_phone(number)
        return candidates[0].contact_id if len(candidates) == 1 else None

    async def _display(self, contact_id: int | None, number: str) -> str:
        if contact_id is None:
            return number
        contact = await self.contacts.get(contact_id)
        return str(contact.get("display_name") or number) if contact else number

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._settling.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._settling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an outbound step failed", exc_info=task.exception())


def outbound_call(
    settings: OutboundSettings,
    rules: CallbackRules,
    *,
    attempt_id: int,
    agent: str,
    number: str,
    name: str,
    kind: str,
    contact_id: int | None,
) -> Call:
    """What to originate for one attempt, as this site's settings and rules say (a
    call-back's customer hears the rules' announcement)."""
    return Call(
        attempt_id=attempt_id,
        agent=agent,
        number=number,
        name=name,
        kind=kind,
        context=settings.context,
        agent_ring_seconds=rules.agent_ring_seconds,
        customer_ring_seconds=rules.customer_ring_seconds,
        caller_id=settings.caller_id,
        caller_name=settings.caller_name,
        announce=rules.announce if kind == "callback" else "",
        contact_id=contact_id,
    )


def shipped_rules() -> dict[str, Any]:
    """The call-back rules the server ships with (``cti/callbacks/default_rules.json``)."""
    document: dict[str, Any] = json.loads(
        resources.files("cti.callbacks").joinpath("default_rules.json").read_text("utf-8")
    )
    return document
