"""Who answers a customer's message: the same person, where possible.

In order:

1. **The open conversation's agent**: a message of the same customer, on any channel,
   given to an agent in the last ``OPEN_HOURS`` and not closed since, and that agent is
   logged in.
2. **The agent who served them last**, on any channel, if they are logged in.
3. **Routing**, as for a call: the reason guessed from the text's keywords (or the
   dossier's), the customer's tier and flags, the rules in force; a free agent, else
   the skill's queue (no one yet: the message waits, visible on the timeline).

The chosen agent's screen hears of it (``message``) and the message records who has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update

from cti.contacts.dossier import DossierService
from cti.routing.engine import AgentState
from cti.routing.service import RoutingService, call_facts
from cti.store.db import Sessionmaker
from cti.store.models import InteractionRecord, MessageRecord

log = logging.getLogger(__name__)

OPEN_HOURS = 24
LINGER = 0.1
"""Seconds the assigner waits to gather messages into one batch."""
MESSAGE_TOPIC = "screenpop.message"
KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "complaint": ("complain", "broken", "damaged", "refund", "жалоб", "сломан", "возврат"),
    "delivery_late": ("late", "where is", "still not", "опазд", "где мой", "до сих пор"),
    "delivery": ("deliver", "parcel", "courier", "доставк", "курьер", "посылк"),
    "debt": ("invoice", "bill", "payment", "pay ", "счёт", "счет", "оплат", "долг"),
    "order_status": ("order", "заказ"),
}
"""Reasons by the words that give them away, most specific first."""
_WORD = re.compile(r"\s+")


def guess_reason(text: str) -> str | None:
    """The reason a message's words suggest, if any."""
    folded = " " + _WORD.sub(" ", text.lower()) + " "
    for reason, words in KEYWORDS.items():
        if any(word in folded for word in words):
            return reason
    return None


class Publisher(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class Assignment:
    agent: str | None
    queue: str | None
    why: str


@dataclass(frozen=True, slots=True)
class Waiting:
    contact_id: int
    message_id: int
    channel: str
    text: str
    new_contact: bool


class ConversationAssigner:
    """One worker gives messages out in batches: two queries for a whole batch, a dossier
    only for a known customer starting a new conversation."""

    def __init__(
        self,
        sessionmaker: Sessionmaker,
        routing: RoutingService,
        dossiers: DossierService | None,
        bus: Publisher,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.routing = routing
        self.dossiers = dossiers
        self.bus = bus
        self.assigned = 0
        self._queue: list[Waiting] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: Waiting) -> None:
        """Queue a new inbound message for an agent; returns at once."""
        self._queue.append(item)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="message-assigner")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(LINGER)  # gather a batch: a person reads it in seconds anyway
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:200], self._queue[200:]
                try:
                    await self.assign_all(batch)
                except Exception as exc:  # the messages stay on the timeline, unassigned
                    log.warning(
                        "could not give %d messages to agents: %s",
                        len(batch),
                        exc,
                        extra={"error_id": "messages.assign"},
                    )

    def _working(self, username: str | None) -> bool:
        agent = self.routing.agents.get(username or "")
        return agent is not None and agent.state is not AgentState.LOGGED_OUT

    async def assign_all(self, batch: list[Waiting]) -> list[Assignment]:
        """Give each message to someone, record it, tell their screens."""
        if not any(self._working(name) for name in self.routing.agents):
            return [Assignment(None, None, "no agent is logged in") for _ in batch]
        owners, served = await self._history(batch)
        choices = [await self._choose(item, owners, served) for item in batch]
        given = [(item, c) for item, c in zip(batch, choices, strict=True) if c.agent]
        if given:
            async with self.sessionmaker.begin() as session:
                connection = await session.connection()
                await connection.execute(
                    update(MessageRecord)
                    .where(MessageRecord.id == bindparam("b_message"))
                    .values(assigned_to=bindparam("b_agent")),
                    [
                        {"b_message": item.message_id, "b_agent": choice.agent}
                        for item, choice in given
                    ],
                )
            for item, choice in given:
                owners[item.contact_id] = str(choice.agent)
                await self.bus.publish(MESSAGE_TOPIC, _notice(item, choice))
            self.assigned += len(given)
        return choices

    async def _history(self, batch: list[Waiting]) -> tuple[dict[int, str], dict[int, list[str]]]:
        """Per contact: the open conversation's agent, and who served them lately."""
        contacts = {item.contact_id for item in batch}
        mine = {item.message_id for item in batch}
        since = datetime.now(UTC) - timedelta(hours=OPEN_HOURS)
        owners: dict[int, str] = {}
        served: dict[int, list[str]] = {}
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(MessageRecord.contact_id, MessageRecord.assigned_to, MessageRecord.id)
                .where(
                    MessageRecord.contact_id.in_(contacts),
                    MessageRecord.assigned_to.is_not(None),
                    MessageRecord.status != "closed",
                    MessageRecord.created_at >= since,
                )
                .order_by(MessageRecord.created_at.desc())
            )
            for contact_id, agent, message_id in rows:
                if message_id not in mine and contact_id is not None and agent is not None:
                    owners.setdefault(contact_id, agent)
            history = await session.execute(
                select(InteractionRecord.contact_id, InteractionRecord.agent)
                .where(
                    InteractionRecord.contact_id.in_(contacts),
                    InteractionRecord.agent.is_not(None),
                )
                .order_by(InteractionRecord.at.desc())
                .limit(20 * len(contacts))
            )
            for contact_id, agent in history:
                if agent is not None and agent in self.routing.agents:
                    served.setdefault(contact_id, []).append(agent)
        return owners, served

    async def _choose(
        self, item: Waiting, owners: dict[int, str], served: dict[int, list[str]]
    ) -> Assignment:
        owner = owners.get(item.contact_id)
        if owner and self._working(owner):
            return Assignment(owner, None, f"{owner} has this conversation open")
        last = served.get(item.contact_id, [])
        if last and self._working(last[0]):
            return Assignment(last[0], None, f"{last[0]} served this customer last")
        dossier = None
        if self.dossiers is not None and not item.new_contact:
            dossier = await self.dossiers.build(item.contact_id)
        facts = call_facts(dossier, guess_reason(item.text))
        decision = await self.routing.decide(facts)
        agent = decision.agent.username if decision.agent is not None else None
        return Assignment(agent, None if agent else decision.queue, "; ".join(decision.why))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _notice(item: Waiting, choice: Assignment) -> dict[str, Any]:
    return {
        "agent": choice.agent,
        "message": {
            "type": "message",
            "version": 1,
            "contact_id": item.contact_id,
            "message_id": item.message_id,
            "channel": item.channel,
            "summary": " ".join(item.text.split())[:200],
            "why": choice.why,
        },
    }
