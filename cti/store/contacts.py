"""The contact repository: contacts, their identities, and phone lookups."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from cti.contacts.identify import SUFFIX_DIGITS, Candidate
from cti.contacts.phone import suffix
from cti.store.db import Sessionmaker
from cti.store.models import ContactIdentity, ContactRecord

PHONE = "phone"
EMAIL = "email"


class ContactRepository:
    """Contacts and identities in the database; phone numbers must already be E.164."""

    def __init__(self, sessionmaker: Sessionmaker) -> None:
        self.sessionmaker = sessionmaker

    async def create(
        self,
        display_name: str,
        *,
        phones: Iterable[str] = (),
        emails: Iterable[str] = (),
        language: str | None = None,
        source: str | None = None,
    ) -> int:
        """Add a contact with its identities; return its id."""
        async with self.sessionmaker() as session, session.begin():
            contact = ContactRecord(display_name=display_name, language=language)
            session.add(contact)
            await session.flush()
            for phone in dict.fromkeys(phones):
                session.add(
                    ContactIdentity(
                        contact_id=contact.id,
                        kind=PHONE,
                        value=phone,
                        phone_suffix=suffix(phone, SUFFIX_DIGITS),
                        source=source,
                    )
                )
            for email in dict.fromkeys(e.strip().lower() for e in emails):
                session.add(
                    ContactIdentity(contact_id=contact.id, kind=EMAIL, value=email, source=source)
                )
            return contact.id

    async def by_phone(self, e164: str) -> list[Candidate]:
        """Contacts holding exactly this number."""
        return await self._candidates(ContactIdentity.value == e164)

    async def by_phone_suffix(self, digits: str) -> list[Candidate]:
        """Contacts whose number ends in these digits."""
        return await self._candidates(ContactIdentity.phone_suffix == digits)

    async def _candidates(self, condition: object) -> list[Candidate]:
        query = (
            select(ContactRecord.id, ContactRecord.display_name, ContactIdentity.value)
            .join(ContactIdentity, ContactIdentity.contact_id == ContactRecord.id)
            .where(ContactIdentity.kind == PHONE, condition)  # type: ignore[arg-type]
            .order_by(ContactRecord.id)
        )
        async with self.sessionmaker() as session:
            rows = (await session.execute(query)).all()
        return [Candidate(row[0], row[1], row[2]) for row in rows]
