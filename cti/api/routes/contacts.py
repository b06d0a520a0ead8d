"""Contacts: who is calling from this number."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cti.api.deps import AgentUser, Context
from cti.contacts.identify import identify
from cti.contacts.phone import PhoneRules
from cti.store.contacts import ContactRepository

router = APIRouter(prefix="/api/contacts", tags=["contacts"])


@router.get("/lookup")
async def lookup(
    context: Context,
    _: AgentUser,
    number: Annotated[str, Query(max_length=64, description="A caller ID in any format.")],
) -> dict[str, Any]:
    """Contacts with this number: ``exact``, by its last digits (``suffix``), or ``none``."""
    settings = context.settings.contacts
    rules = PhoneRules(region=settings.region, outside_prefix=settings.outside_prefix)
    found = await identify(ContactRepository(context.sessionmaker), number, rules)
    return found.to_dict()
