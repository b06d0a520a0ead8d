"""Customer satisfaction: ask for a 1-to-5 rating after a call, keep the answer per agent.

Asked once per call (``about`` is ``call:LINKEDID``), by SMS when the customer has a
number, else by email; the question is an ordinary outbound message on their timeline.
A reply that is just a digit from 1 to 5, within ``ANSWER_HOURS`` of the question,
answers the customer's latest open survey; it is stored as a message like any other.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from cti.messaging.service import InvalidMessage, MessagingService
from cti.store.contacts import ContactRepository
from cti.store.models import CsatSurvey, utcnow

log = logging.getLogger(__name__)

ANSWER_HOURS = 48
QUESTION = "How did {agent} do today? Reply with a number from 1 (poor) to 5 (excellent)."


def rating_of(text: str) -> int | None:
    """The score in a reply that is only a digit from 1 to 5 (a full stop allowed)."""
    word = text.strip().rstrip(".!").strip()
    return int(word) if len(word) == 1 and word in "12345" else None


class Csat:
    def __init__(self, messaging: MessagingService) -> None:
        self.messaging = messaging
        self.sessionmaker = messaging.sessionmaker

    async def ask(
        self, contact_id: int, *, agent: str, agent_name: str, about: str
    ) -> dict[str, Any] | None:
        """Ask the customer to rate ``agent``; the survey, or None when it cannot be asked
        (asked already, or no number and no address)."""
        contact = await ContactRepository(self.sessionmaker).get(contact_id)
        if contact is None:
            return None
        channel = "sms" if contact["phones"] else "email" if contact["emails"] else None
        if channel is None:
            return None
        async with self.sessionmaker.begin() as session:
            known = await session.scalar(select(CsatSurvey.id).where(CsatSurvey.about == about))
            if known is not None:
                return None
            survey = CsatSurvey(
                contact_id=contact_id, agent=agent, about=about, channel=channel, sent_at=utcnow()
            )
            session.add(survey)
            await session.flush()
            survey_id = survey.id
        question = QUESTION.format(agent=agent_name)
        try:
            if channel == "sms":
                await self.messaging.send_sms(contact_id, question, agent="csat")
            else:
                await self.messaging.send_email(
                    contact_id, question, agent="csat", subject="How did we do?"
                )
        except InvalidMessage as exc:
            log.info("could not ask contact %d for a rating: %s", contact_id, exc)
        return {"id": survey_id, "channel": channel, "agent": agent, "about": about}

    async def answer(self, contact_id: int, text: str) -> int | None:
        """Record a reply as the rating of the customer's latest open survey; the score."""
        score = rating_of(text)
        if score is None:
            return None
        since = datetime.now(UTC) - timedelta(hours=ANSWER_HOURS)
        async with self.sessionmaker.begin() as session:
            survey = await session.scalar(
                select(CsatSurvey)
                .where(
                    CsatSurvey.contact_id == contact_id,
                    CsatSurvey.score.is_(None),
                    CsatSurvey.sent_at >= since,
                )
                .order_by(CsatSurvey.sent_at.desc())
                .limit(1)
            )
            if survey is None:
                return None
            survey.score, survey.answered_at = score, utcnow()
        return score

    async def scores(self, agent: str) -> dict[str, Any]:
        """How the customers rated ``agent``: asked, answered, average, how many of each."""
        async with self.sessionmaker() as session:
            asked = await session.scalar(
                select(func.count()).select_from(CsatSurvey).where(CsatSurvey.agent == agent)
            )
            rows = await session.execute(
                select(CsatSurvey.score, func.count())
                .where(CsatSurvey.agent == agent, CsatSurvey.score.is_not(None))
                .group_by(CsatSurvey.score)
            )
            counts = {int(score): int(n) for score, n in rows if score is not None}
        answered = sum(counts.values())
        total = sum(score * n for score, n in counts.items())
        return {
            "agent": agent,
            "asked": int(asked or 0),
            "answered": answered,
            "average": round(total / answered, 2) if answered else None,
            "scores": {str(score): counts.get(score, 0) for score in range(1, 6)},
        }
