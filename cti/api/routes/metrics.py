"""``GET /metrics`` for Prometheus: a supervisor's token, or the static CTI_METRICS_TOKEN."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from cti.api.deps import BearerCredentials, Context, current_user
from cti.auth.exceptions import Forbidden, NotAuthenticated
from cti.auth.model import Role
from cti.metrics import render

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(
    request: Request, context: Context, credentials: BearerCredentials
) -> PlainTextResponse:
    """The server's figures in Prometheus text format."""
    token = context.settings.metrics_token.get_secret_value()
    presented = credentials.credentials if credentials is not None else ""
    if not (token and presented and hmac.compare_digest(token, presented)):
        if credentials is None:
            raise NotAuthenticated()
        user = await current_user(context, credentials)
        if user.role < Role.SUPERVISOR:
            raise Forbidden(Role.SUPERVISOR.value)
    source = getattr(request.app.state, "metrics", None)
    body = render(source() if source is not None else [])
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")
