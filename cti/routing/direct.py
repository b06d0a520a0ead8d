"""Routing calls that skip the IVR: decide, set the channel's variables, ``Redirect``.

A call in the ``cti-direct`` context (dialplans/inbound.conf) sets ``CTI_WAIT`` and
listens to music. The ``VarSet`` event tells the server; it identifies the caller, asks
routing (the reason from the dossier and recent contacts alone), sets the same ``CTI_*``
variables the IVR would with ``Setvar`` and moves the channel to ``cti-route`` with
``Redirect``. Asterisk's refusals (the caller hung up meanwhile: ``No such channel``) are
logged once and change nothing; a server that does not answer in time leaves the call to
the dialplan's default queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cti.ami.client import AmiActions
from cti.ami.exceptions import AmiError
from cti.contacts.dossier import Dossier, DossierService
from cti.routing.predict import predict_reason
from cti.routing.service import RoutingService, call_facts, handover

log = logging.getLogger(__name__)

WAIT_VARIABLE = "CTI_WAIT"
ROUTE_CONTEXT = "cti-route"
MAX_PENDING = 1000
"""Decisions under way at once; a flood beyond this waits in the dialplan and fails open."""


class DirectRouter:
    """Watches for ``CTI_WAIT`` and routes those calls through AMI."""

    def __init__(
        self,
        ami: AmiActions,
        routing: RoutingService,
        dossiers: DossierService | None = None,
        *,
        budget: float = 2.0,
    ) -> None:
        self.ami = ami
        self.routing = routing
        self.dossiers = dossiers
        self.budget = budget
        self._tasks: set[asyncio.Task[dict[str, str] | None]] = set()

    def on_event(self, msg: Mapping[str, str], _: float = 0.0) -> None:
        """Start routing a channel that asks for it (other events are ignored)."""
        if msg.get("Event") != "VarSet" or msg.get("Variable") != WAIT_VARIABLE:
            return
        channel = msg.get("Channel", "")
        if not channel or not msg.get("Value"):
            return
        if len(self._tasks) >= MAX_PENDING:
            log.warning(
                "too many direct calls waiting for routing; %s goes to the default queue",
                channel,
                extra={"error_id": "routing.direct_flood"},
            )
            return
        task = asyncio.create_task(self.route(channel, msg.get("CallerIDNum", "")))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[dict[str, str] | None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "routing a direct call failed; the dialplan's default queue takes it",
                exc_info=task.exception(),
                extra={"error_id": "routing.direct_failed"},
            )

    async def route(self, channel: str, number: str) -> dict[str, str] | None:
        """Decide for the caller on ``channel`` and move it; the variables set, or None."""
        try:
            async with asyncio.timeout(self.budget):
                dossier = await self._dossier(number)
                prediction = predict_reason(None, dossier, datetime.now(UTC))
                decision = await self.routing.decide(call_facts(dossier, prediction.reason))
                variables = handover(prediction, decision)
                variables["CTI_REASON"] = prediction.reason or ""
                variables["CTI_CONTACT_ID"] = str(dossier.facts.contact_id) if dossier else ""
                for name, value in variables.items():
                    if not await self._send(channel, "Setvar", Variable=name, Value=value):
                        return None
                moved = await self._send(
                    channel, "Redirect", Context=ROUTE_CONTEXT, Exten="s", Priority="1"
                )
        except TimeoutError:
            log.warning(
                "routing %s took over %.1f s; the dialplan's default queue takes it",
                channel,
                self.budget,
                extra={"error_id": "routing.direct_slow"},
            )
            return None
        if moved:
            log.info("routed %s to %s", channel, decision.queue, extra={"rule": decision.rule})
        return variables if moved else None

    async def _dossier(self, number: str) -> Dossier | None:
        if self.dossiers is None or not number:
            return None
        try:
            return (await self.dossiers.for_caller(number)).dossier
        except Exception as exc:  # routing goes on without knowing the caller
            log.warning("no dossier for a direct call: %s", exc)
            return None

    async def _send(self, channel: str, action: str, **fields: str) -> bool:
        try:
            reply: Any = await self.ami.action(action, Channel=channel, **fields)
        except AmiError as exc:
            log.warning("could not route %s: %s", channel, exc)
            return False
        if isinstance(reply, Mapping) and reply.get("Response") == "Error":
            log.info("Asterisk refused %s on %s: %s", action, channel, reply.get("Message"))
            return False
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
