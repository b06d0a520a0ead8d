"""User administration (admins only; every change is audited)."""

from __future__ import annotations

from fastapi import APIRouter

from cti.api.deps import AdminUser, Context
from cti.api.schemas import UserCreate, UserOut
from cti.auth.service import create_user, list_users

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("")
async def users(context: Context, _: AdminUser) -> list[UserOut]:
    """Every user, active or not."""
    return [UserOut.of(user) for user in await list_users(context.sessionmaker)]


@router.post("", status_code=201)
async def add_user(body: UserCreate, context: Context, admin: AdminUser) -> UserOut:
    """Create a user; 409 if the username is taken."""
    user = await create_user(
        context.sessionmaker,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        agent_interface=body.agent_interface,
        actor=admin.username,
        passwords=context.passwords,
    )
    return UserOut.of(user)
