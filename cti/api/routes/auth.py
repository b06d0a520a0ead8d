"""Logging in and finding out who is logged in."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from cti.api.deps import ClientAddress, Context, CurrentUser
from cti.api.schemas import LoginRequest, LoginResponse, UserOut
from cti.auth.exceptions import InvalidCredentials
from cti.auth.service import authenticate

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login")
async def login(body: LoginRequest, context: Context, client: ClientAddress) -> LoginResponse:
    """Exchange a username and password for a bearer token."""
    context.limiter.attempt(body.username, client)
    try:
        user = await authenticate(
            context.sessionmaker, body.username, body.password, context.passwords
        )
    except InvalidCredentials:
        log.info("failed login for %r from %s", body.username[:64], client)
        raise
    context.limiter.record_success(body.username, client)
    issued = context.signer.issue(user)
    log.info("user %s logged in from %s", user.username, client)
    return LoginResponse(token=issued.token, expires_at=issued.expires_at, user=UserOut.of(user))


@router.get("/me")
async def me(user: CurrentUser) -> UserOut:
    """The user the token belongs to."""
    return UserOut.of(user)
