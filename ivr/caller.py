"""The caller-aware IVR: greet a known caller by name, offer what they most likely want.

One FastAGI session per call::

    known caller    greeting (by name when it can be made) → the top likely reason
                    ("Your order 1234 is ready: press 1...") → 1: that, 0: a person,
                    anything else: the menu
    unknown caller  greeting → the menu
    menu            one short list of reasons, by key or, where a speech model is
                    loaded, by voice; silence or a wrong key: one retry, then a person
    order status    read out by Asterisk (SAY DIGITS); 0: a person; else goodbye
    long wait       when the queue's expected wait passes the call-back rules' threshold
                    and no agent is free: "press 1 (or say so) to be called back"; 1:
                    the call-back is owed at this moment's place in line, the caller
                    is thanked and let go (``CTI_IVR_RESULT=callback``)

It always ends by setting ``CTI_QUEUE``, ``CTI_REASON``, ``CTI_CONTACT_ID``,
``CTI_AGENT`` and ``CTI_IVR_PATH`` for the dialplan (even after the caller hung up, so
the call record says how far they got). What is said and where keys lead comes from
the flow file (``ivr.flow``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cti.contacts.dossier import Dossier, DossierService
from cti.contacts.facts import OrderFact
from cti.routing.predict import predict_reason
from cti.routing.service import ROUTING_VARIABLES, RoutingService, call_facts, handover
from ivr.agi.server import AgiSession
from ivr.callback import OWED as CALLBACK_OWED
from ivr.callback import UNAVAILABLE as CALLBACK_UNAVAILABLE
from ivr.flow import FlowFile, Menu, Offer, Part, Target
from ivr.prompts import NameGreeter
from ivr.speech.exceptions import SpeechError
from ivr.speech.service import AudioSocketSpeech

log = logging.getLogger(__name__)

MAX_ORDERS_READ = 3
ANY_KEY = "0123456789*#"
"""Every key cuts a prompt short: a wrong key is heard (and retried), not ignored."""
SELF_SERVED = "self_served"
CALLBACK = "callback"
HANDED_OVER = (
    "CTI_QUEUE",
    "CTI_REASON",
    "CTI_CONTACT_ID",
    "CTI_IVR_PATH",
    "CTI_IVR_RESULT",
    *ROUTING_VARIABLES,
)
"""The channel variables every IVR session leaves for the dialplan."""


class CallbackOffers(Protocol):
    """Call-backs the IVR may offer (``cti.callbacks.service.OutboundService``)."""

    async def worth_offering(self, queue: str) -> bool: ...

    async def hold_place(
        self,
        *,
        raw_number: str,
        queue: str,
        joined: float,
        source_call: str,
        contact_id: int | None = None,
    ) -> Any: ...


@dataclass
class Outcome:
    """Where the call goes next, and the way it took through the IVR."""

    queue: str
    reason: str
    contact_id: int | None = None
    path: list[str] = field(default_factory=list)
    self_served: bool = False
    called_back: bool = False
    """The caller took a call-back instead of waiting."""
    routed: dict[str, str] = field(default_factory=dict)
    """Routing's decision as channel variables (``cti.routing.service.handover``)."""


class CallerIvr:
    """The FastAGI handler of the ``ivr`` script."""

    def __init__(
        self,
        flow: FlowFile,
        dossiers: DossierService | None = None,
        *,
        speech: AudioSocketSpeech | None = None,
        greeter: NameGreeter | None = None,
        listen_timeout: float = 5.0,
        routing: RoutingService | None = None,
        callbacks: CallbackOffers | None = None,
    ) -> None:
        self.flow = flow
        self.callbacks = callbacks
        self.dossiers = dossiers
        self.speech = speech
        self.greeter = greeter
        self.listen_timeout = listen_timeout
        self.routing = routing

    async def __call__(self, session: AgiSession) -> None:
        call = _Call(self, session)
        try:
            await call.run()
        finally:
            await call.hand_over()


class _Call:
    """One caller's way through the flow."""

    def __init__(self, ivr: CallerIvr, session: AgiSession) -> None:
        self.ivr = ivr
        self.session = session
        self.language, self.flow = ivr.flow.for_language(session.language)
        self.outcome = Outcome(queue=ivr.flow.default_queue, reason="operator")
        self.dossier: Dossier | None = None
        self.timeout_ms = ivr.flow.digit_timeout_ms
        self.speech_confidence: float | None = None

    @property
    def path(self) -> list[str]:
        return self.outcome.path

    async def run(self) -> None:
        self.dossier = await self._identify()
        if self.dossier is not None:
            self.outcome.contact_id = self.dossier.facts.contact_id
            await self._greet_known(self.dossier)
            offered = self._offer_for(self.dossier)
            if offered is not None:
                reason_id, offer, about = offered
                self.path.append(f"offer:{reason_id}")
                key = await self._offer(offer, about)
                self.path.append(f"key:{key or '-'}")
                if key == "1":
                    await self._go(offer.accept)
                    return
                if key == "0":
                    self._decide(self.flow.operator)
                    return
        else:
            self.path.append("unknown")
            await self._say(self.flow.greeting_unknown)
        await self._menu(self.flow.menu)

    # --- steps ----------------------------------------------------------------------------

    async def _identify(self) -> Dossier | None:
        if self.ivr.dossiers is None:
            return None
        budget = self.ivr.flow.lookup_budget_ms / 1000
        try:
            async with asyncio.timeout(budget):
                view = await self.ivr.dossiers.for_caller(self.session.callerid)
        except TimeoutError:
            log.warning("caller lookup took over %ss: treated as unknown", budget)
            return None
        except Exception as exc:
            log.warning("caller lookup failed, treated as unknown: %s", exc)
            return None
        return view.dossier

    async def _greet_known(self, dossier: Dossier) -> None:
        self.path.append("known")
        greeter = self.ivr.greeter
        if greeter is not None and self.flow.greeting_name:
            prompt = await greeter.prompt(
                self.flow.greeting_name, dossier.facts.display_name, self.language, self.flow.voice
            )
            if prompt is not None:
                _, played = await self.session.stream_file(prompt)
                if played:
                    self.path.append("greet:name")
                    return
        await self._say(self.flow.greeting_known)

    def _offer_for(self, dossier: Dossier) -> tuple[str, Offer, Mapping[str, Any]] | None:
        for reason in dossier.verdict.reasons:
            offer = self.flow.offers.get(reason.id)
            if offer is not None:
                about = {**reason.about, "contact": _contact(dossier)}
                return reason.id, offer, about
        return None

    async def _offer(self, offer: Offer, about: Mapping[str, Any]) -> str | None:
        key = await self._say(offer.say, ANY_KEY, about)
        if key is None:
            key = await self._say(self.flow.offer_keys, ANY_KEY, about)
        if key is None:
            key = await self.session.wait_for_digit(self.timeout_ms)
        return key

    async def _menu(self, menu: Menu) -> None:
        for attempt in range(2):
            self.path.append("menu")
            key = await self._ask(menu, ANY_KEY)
            if key in menu.choices:
                self.path.append(f"key:{key}")
                await self._go(menu.choices[key])
                return
            self.path.append("invalid" if key else "silence")
            if attempt == 0:
                await self.session.stream_file(self.flow.retry)
        self._decide(self.flow.operator, reason="no_choice")

    async def _ask(self, menu: Menu, keys: str) -> str | None:
        key, _ = await self.session.stream_file(menu.prompt, keys)
        if key is not None:
            return key
        if self.ivr.speech is not None and menu.words:
            return await self._listen(menu)
        return await self.session.wait_for_digit(self.timeout_ms)

    async def _listen(self, menu: Menu) -> str | None:
        speech = self.ivr.speech
        assert speech is not None
        call_id = uuid.uuid4()
        words = list(menu.words)
        listening = asyncio.create_task(
            speech.listen_for(call_id, words, timeout=self.ivr.listen_timeout)
        )
        try:
            reply = await self.session.exec("AudioSocket", speech.application_args(call_id))
            heard = await listening
        except SpeechError as exc:
            log.warning("speech step failed, keys only: %s", exc)
            listening.cancel()
            return await self.session.wait_for_digit(self.timeout_ms)
        finally:
            if not listening.done():
                listening.cancel()
        if reply.result is not None and reply.result < 0 and self.session.hung_up:
            return None
        if heard.digits:
            return heard.digits[0]
        if heard.result is not None and heard.result.word in menu.words:
            self.path.append(f"said:{heard.result.word}")
            self.speech_confidence = heard.result.confidence
            return menu.words[heard.result.word]
        return None

    async def _go(self, target: Target) -> None:
        if target.self_service == "order_status":
            await self._order_status(target)
            return
        self._decide(target)

    async def _order_status(self, target: Target) -> None:
        self.path.append("self:order_status")
        self.outcome.reason = target.reason
        orders = [o for o in self.dossier.facts.orders if o.open] if self.dossier else []
        key: str | None = None
        if not orders:
            key, _ = await self.session.stream_file(self.flow.no_orders, "0")
        for order in orders[:MAX_ORDERS_READ]:
            key = key or await self._read_order(order)
        if key is None:
            key, _ = await self.session.stream_file(self.flow.after_status, "0")
        if key is None:
            key = await self.session.wait_for_digit(self.timeout_ms)
        if key == "0":
            self._decide(self.flow.operator, reason=target.reason)
            return
        await self.session.stream_file(self.flow.goodbye)
        self.outcome.self_served = True
        self.path.append("goodbye")

    async def _read_order(self, order: OrderFact) -> str | None:
        """Read one order out; ``0`` (a person, please) cuts it short and is returned."""
        key, _ = await self.session.stream_file(self.flow.order_intro, "0")
        if key is None and _digits(order.number):
            key = await self.session.say_digits(_digits(order.number), "0")
        status = self.flow.order_statuses.get(order.status.value)
        if key is None and status is not None:
            key, _ = await self.session.stream_file(status, "0")
        return key

    def _decide(self, target: Target, reason: str | None = None) -> None:
        self.outcome.queue = target.queue or self.ivr.flow.default_queue
        self.outcome.reason = reason or target.reason
        self.path.append(f"queue:{self.outcome.queue}")

    async def _say(
        self, parts: list[Part], keys: str = "", about: Mapping[str, Any] | None = None
    ) -> str | None:
        """Play the parts in order; the key that cut one short, if any."""
        for part in parts:
            key: str | None
            if part.play is not None:
                key, _ = await self.session.stream_file(part.play, keys)
            elif part.digits is not None:
                value = _digits(str(_lookup(about, part.digits)))
                key = await self.session.say_digits(value, keys) if value else None
            else:
                amount = _lookup(about, part.number or "")
                key = (
                    await self.session.say_number(int(amount) // 100, keys)
                    if isinstance(amount, int)
                    else None
                )
            if key:
                return key
        return None

    async def _route(self) -> None:
        """Let routing pick the queue and, when one is free, the agent for this reason."""
        routing = self.ivr.routing
        if routing is None or self.outcome.self_served or self.session.hung_up:
            return
        prediction = predict_reason(
            self.outcome.reason,
            self.dossier,
            datetime.now(UTC),
            spoken=any(step.startswith("said:") for step in self.path),
            speech_confidence=self.speech_confidence,
        )
        try:
            decision = await routing.decide(call_facts(self.dossier, prediction.reason))
        except Exception as exc:  # the flow's own queue still stands
            log.warning("routing failed, the flow's queue stands: %s", exc)
            return
        self.outcome.queue = decision.queue
        if prediction.reason is not None:
            self.outcome.reason = prediction.reason
        self.outcome.routed = handover(prediction, decision)

    async def _offer_callback(self) -> None:
        """Before a long wait with nobody free, offer to call back instead."""
        callbacks, outcome = self.ivr.callbacks, self.outcome
        if callbacks is None or outcome.self_served or self.session.hung_up:
            return
        if outcome.routed.get("CTI_AGENT") or not await callbacks.worth_offering(outcome.queue):
            return
        self.path.append("callback_offer")
        offer = Menu(
            prompt=self.flow.callback_offer,
            choices={"1": self.flow.operator},
            words=self.flow.callback_words,
        )
        key = await self._ask(offer, ANY_KEY)
        if key != "1" or self.session.hung_up:
            return
        answer = await callbacks.hold_place(
            raw_number=self.session.callerid,
            queue=outcome.queue,
            joined=time.time(),
            source_call=self.session.uniqueid,
            contact_id=outcome.contact_id,
        )
        if answer.callback_id is None:
            self.path.append(f"callback_refused:{answer.refused}")
            await self.session.stream_file(CALLBACK_UNAVAILABLE)
            return
        self.path.append("callback")
        outcome.called_back = True
        await self.session.stream_file(CALLBACK_OWED)

    async def hand_over(self) -> None:
        """Tell the dialplan where the call goes; works after a hangup too."""
        await self._route()
        try:
            await self._offer_callback()
        except Exception as exc:  # the caller waits in the queue as they would have
            log.warning("the call-back offer failed: %s", exc)
        outcome = self.outcome
        variables = dict.fromkeys(HANDED_OVER, "")
        variables.update(outcome.routed)
        variables.update(
            CTI_QUEUE="" if outcome.self_served else outcome.queue,
            CTI_REASON=outcome.reason,
            CTI_CONTACT_ID=str(outcome.contact_id or ""),
            CTI_IVR_PATH=">".join(outcome.path)[:250],
            CTI_IVR_RESULT=SELF_SERVED
            if outcome.self_served
            else CALLBACK
            if outcome.called_back
            else "route",
        )
        try:
            for name, value in variables.items():
                await self.session.set_variable(name, value)
            if (outcome.self_served or outcome.called_back) and not self.session.hung_up:
                await self.session.command("HANGUP")
        except Exception as exc:  # the call goes on in the dialplan's fail-open path
            log.warning("could not hand the call back to the dialplan: %s", exc)
        log.info(
            "IVR done: %s for %s",
            "self-served" if outcome.self_served else outcome.queue,
            outcome.reason,
            extra={
                "uniqueid": self.session.uniqueid,
                "reason": outcome.reason,
                "ivr_path": variables["CTI_IVR_PATH"],
                "contact_id": outcome.contact_id,
            },
        )


def _contact(dossier: Dossier) -> dict[str, Any]:
    facts = dossier.facts
    return {"id": facts.contact_id, "debt": facts.debt_cents, "name": facts.display_name}


def _lookup(about: Mapping[str, Any] | None, ref: str) -> Any:
    head, _, key = ref.partition(".")
    item = (about or {}).get(head)
    return item.get(key) if isinstance(item, Mapping) else None


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())
