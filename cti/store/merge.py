"""Two contacts that are one customer become one: everything moves, nothing is lost.

The duplicate's numbers and addresses become the kept contact's (marked as aliases from
the merge), its orders, deliveries, tickets, purchases, timeline, notes and messages move
over, its calls point at the kept contact, lifetime value and debt add up, and the
duplicate is gone. The audit entry says who merged what into what, and what moved.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from cti.store.db import Sessionmaker
from cti.store.models import CallRecord, ContactIdentity, ContactRecord
from cti.store.privacy import FACT_TABLES
from cti.store.repositories import AuditRepository


class MergeError(ValueError):
    """Contacts that cannot be merged (the same one twice, or one that does not exist)."""


async def merge_contacts(
    sessionmaker: Sessionmaker, keep: int, duplicate: int, *, actor: str
) -> dict[str, Any]:
    """Merge ``duplicate`` into ``keep``; what moved, by kind."""
    if keep == duplicate:
        raise MergeError("a contact cannot be merged into itself")
    async with sessionmaker.begin() as session:
        kept = await session.get(ContactRecord, keep)
        gone = await session.get(ContactRecord, duplicate)
        missing = [str(cid) for cid, row in ((keep, kept), (duplicate, gone)) if row is None]
        if kept is None or gone is None:
            raise MergeError(f"no contact {', '.join(missing)}")
        rows = await session.execute(
            select(ContactIdentity.kind, ContactIdentity.value).where(
                ContactIdentity.contact_id == keep
            )
        )
        held = {(kind, value) for kind, value in rows}
        aliases = []
        for identity in await session.scalars(
            select(ContactIdentity).where(ContactIdentity.contact_id == duplicate)
        ):
            if (identity.kind, identity.value) in held:
                await session.delete(identity)
                continue
            identity.contact_id = keep
            identity.source = f"merged:{duplicate}"
            aliases.append(f"{identity.kind}:{identity.value}")
        moved: dict[str, Any] = {"aliases": aliases}
        for name, table in FACT_TABLES.items():
            if name == "identities":
                continue
            owner = table.__table__.c.contact_id
            result = await session.execute(
                update(table).where(owner == duplicate).values(contact_id=keep)
            )
            moved[name] = result.rowcount  # type: ignore[attr-defined]
        result = await session.execute(
            update(CallRecord)
            .where(CallRecord.contact_id == str(duplicate))
            .values(contact_id=str(keep))
        )
        moved["calls"] = result.rowcount  # type: ignore[attr-defined]
        kept.lifetime_value_cents += gone.lifetime_value_cents
        kept.debt_cents += gone.debt_cents
        if _made_up(kept.display_name) and not _made_up(gone.display_name):
            kept.display_name, kept.search_name = gone.display_name, gone.search_name
        kept.language = kept.language or gone.language
        await session.flush()
        await session.delete(gone)
        await AuditRepository(session).record(
            actor=actor,
            action="contact.merge",
            target=f"contact:{keep}",
            details={"merged": duplicate, **moved},
        )
    return {"contact_id": keep, "merged": duplicate, **moved}


def _made_up(name: str) -> bool:
    """A name the server gave a stranger: their number or address."""
    return name.startswith("+") or "@" in name
