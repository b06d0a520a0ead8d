"""What the HTTP edge is given by the composition root, kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from cti.ami.client import AmiActions
from cti.auth.passwords import Passwords
from cti.auth.ratelimit import LoginRateLimiter
from cti.auth.tokens import TokenSigner
from cti.callbacks.service import OutboundService
from cti.contacts.dossier import DossierService
from cti.dialplan.service import DialplanEditor
from cti.messaging.csat import Csat
from cti.messaging.service import MessagingService
from cti.routing.service import RoutingService
from cti.settings import Settings
from cti.store.db import Sessionmaker
from cti.store.rulesets import RuleSetStore


class LiveCalls(Protocol):
    """The live calls: in progress, oldest first, as JSON-ready dicts.

    This process's own tracker (``LocalCalls``), or, with several processes, the AMI
    reader's calls wherever a request lands (``cti.cluster.calls.ClusterCalls``).
    ``active`` and ``call`` raise ``ConnectionError`` when the calls cannot be read now
    (Redis away): the API's 503.
    """

    async def active(self) -> list[dict[str, Any]]:
        """Calls in progress, oldest first."""
        ...

    async def call(self, linkedid: str) -> dict[str, Any] | None:
        """A call in progress (or ended, its record not stored yet); ``None`` otherwise."""
        ...

    async def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool:
        """Keep a wrap-up for a call not stored yet, so that its record carries it; False
        if it could not be kept (then only a stored record can take it)."""
        ...


class TrackedCalls(Protocol):
    """This process's call tracker (``CallService``): answers at once, without I/O."""

    def active(self) -> list[dict[str, Any]]: ...

    def call(self, linkedid: str) -> dict[str, Any] | None: ...

    def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool: ...


class LocalCalls:
    """``LiveCalls`` from this process's own tracker: the only process for its Asterisk."""

    __slots__ = ("tracked",)

    def __init__(self, tracked: TrackedCalls) -> None:
        self.tracked = tracked

    async def active(self) -> list[dict[str, Any]]:
        return self.tracked.active()

    async def call(self, linkedid: str) -> dict[str, Any] | None:
        return self.tracked.call(linkedid)

    async def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool:
        return self.tracked.annotate_wrapup(linkedid, wrapup)


class Screens(Protocol):
    """The agents' screens: take a call off one (after its wrap-up)."""

    async def close(self, user: str, call_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Services the routes use, built once by ``create_api``."""

    settings: Settings
    sessionmaker: Sessionmaker
    live_calls: LiveCalls
    signer: TokenSigner
    passwords: Passwords
    limiter: LoginRateLimiter
    dossiers: DossierService
    rule_store: RuleSetStore
    routing: RoutingService
    messaging: MessagingService
    csat: Csat
    outbound: OutboundService
    ami: AmiActions | None = None
    screens: Screens | None = None
    dialplan: DialplanEditor | None = None
