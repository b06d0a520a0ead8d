"""FastAPI dependencies and their ``Annotated`` aliases: the only place they are defined."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cti.api.context import ApiContext
from cti.auth.exceptions import Forbidden, NotAuthenticated
from cti.auth.model import Role, User
from cti.auth.service import user_for_token

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/login.")


async def get_context(request: Request) -> ApiContext:
    """The services ``create_api`` put on the application.

    ``async`` although it never waits: FastAPI runs a plain function dependency in a
    worker thread, a thread hop on every request for a dictionary lookup.
    """
    return cast(ApiContext, request.app.state.context)


async def client_address(request: Request) -> str:
    """The client's IP address as the server sees it (after any trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


Context = Annotated[ApiContext, Depends(get_context)]
ClientAddress = Annotated[str, Depends(client_address)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_user(context: Context, credentials: BearerCredentials) -> User:
    """The active user whose token came with the request; 401 without a valid one."""
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated()
    claims = context.signer.verify(credentials.credentials)
    return await user_for_token(context.sessionmaker, claims)


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(role: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets through users with ``role`` or a higher one; 403 for others."""

    async def check(user: CurrentUser) -> User:
        if user.role < role:
            raise Forbidden(role.value)
        return user

    return check


AgentUser = Annotated[User, Depends(require_role(Role.AGENT))]
SupervisorUser = Annotated[User, Depends(require_role(Role.SUPERVISOR))]
AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
