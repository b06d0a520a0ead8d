"""What the HTTP edge is given by the composition root, kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from cti.ami.client import AmiActions
from cti.auth.passwords import Passwords
from cti.auth.ratelimit import LoginRateLimiter
from cti.auth.tokens import TokenSigner
from cti.contacts.dossier import DossierService
from cti.dialplan.service import DialplanEditor
from cti.messaging.csat import Csat
from cti.messaging.service import MessagingService
from cti.routing.service import RoutingService
from cti.settings import Settings
from cti.store.db import Sessionmaker
from cti.store.rulesets import RuleSetStore


class LiveCalls(Protocol):
    """The live call tracker: calls in progress, oldest first, as JSON-ready dicts."""

    def active(self) -> list[dict[str, Any]]: ...

    def call(self, linkedid: str) -> dict[str, Any] | None: ...

    def annotate_wrapup(self, linkedid: str, wrapup: dict[str, Any]) -> bool: ...


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
    ami: AmiActions | None = None
    screens: Screens | None = None
    dialplan: DialplanEditor | None = None
