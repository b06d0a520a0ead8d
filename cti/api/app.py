"""The FastAPI application factory: routers, error handlers, body limit, services on state."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from fastapi import FastAPI

from cti import __version__
from cti.ami.client import AmiActions
from cti.api import errors
from cti.api.context import ApiContext, LiveCalls, Screens
from cti.api.limits import DEFAULT_MAX_BODY, BodySizeLimit
from cti.api.routes import (
    agents,
    audit,
    auth,
    callbacks,
    calls,
    contacts,
    dialplan,
    health,
    messages,
    metrics,
    queues,
    reports,
    routing,
    rules,
    schema,
    users,
)
from cti.auth.passwords import Passwords
from cti.auth.ratelimit import LoginRateLimiter
from cti.auth.tokens import DEFAULT_TTL, TokenSigner
from cti.callbacks.service import OutboundService
from cti.contacts.dossier import DossierService, build_dossier_service
from cti.dialplan.service import DialplanEditor
from cti.messaging.csat import Csat
from cti.messaging.service import MessagingService, messaging_service
from cti.routing.service import RoutingService
from cti.settings import Settings
from cti.store.db import Sessionmaker
from cti.store.dialplans import DialplanVersions
from cti.store.rulesets import RuleSetStore

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

__all__ = ["LiveCalls", "create_api"]


def create_api(
    *,
    settings: Settings,
    sessionmaker: Sessionmaker,
    live_calls: LiveCalls,
    lifespan: Lifespan | None = None,
    passwords: Passwords | None = None,
    limiter: LoginRateLimiter | None = None,
    token_ttl: timedelta = DEFAULT_TTL,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    dossiers: DossierService | None = None,
    routing_service: RoutingService | None = None,
    ami: AmiActions | None = None,
    screens: Screens | None = None,
    messaging: MessagingService | None = None,
    outbound: OutboundService | None = None,
) -> FastAPI:
    """Build the HTTP API over the given services; raises ``ValueError`` without a secret key."""
    messaging = messaging or messaging_service(settings, sessionmaker, None)
    csat = Csat(messaging)
    messaging.ratings = csat.answer  # a short reply may rate the agent
    key = settings.secret_key.get_secret_value()
    try:
        signer = TokenSigner(key, ttl=token_ttl)
    except ValueError as exc:
        raise ValueError("CTI_SECRET_KEY must be set to a random string of 16+ characters") from exc
    app = FastAPI(
        title="Callfold",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    routing_service = routing_service or RoutingService(RuleSetStore(sessionmaker))
    rule_store = RuleSetStore(sessionmaker)
    outbound = outbound or OutboundService(
        settings,
        sessionmaker,
        ami,
        routing_service.board,
        rule_store,
        None,
        username_of=routing_service.username_of,
    )
    app.state.context = ApiContext(
        settings=settings,
        sessionmaker=sessionmaker,
        live_calls=live_calls,
        signer=signer,
        passwords=passwords or Passwords(),
        limiter=limiter or LoginRateLimiter(),
        dossiers=dossiers or build_dossier_service(settings, sessionmaker),
        rule_store=rule_store,
        routing=routing_service,
        messaging=messaging,
        csat=csat,
        outbound=outbound,
        ami=ami,
        screens=screens,
        dialplan=DialplanEditor(settings.dialplan, DialplanVersions(sessionmaker), ami),
    )
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    for router in (
        health.router,
        messages.router,
        queues.router,
        queues.wallboard_router,
        auth.router,
        calls.router,
        contacts.router,
        rules.dossier_router,
        rules.routing_router,
        rules.callbacks_router,
        callbacks.router,
        routing.router,
        agents.router,
        users.router,
        schema.router,
        metrics.router,
        dialplan.router,
        audit.router,
        reports.router,
    ):
        app.include_router(router)
    return app
