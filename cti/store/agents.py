"""Agent profiles: the routing side of an agent user (skills, languages, team)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from cti.auth.exceptions import UserNotFound
from cti.auth.model import Role
from cti.routing.board import AgentProfile
from cti.store.db import Sessionmaker
from cti.store.models import AgentProfileRecord, UserRecord
from cti.store.repositories import AuditRepository


async def agent_profiles(sessionmaker: Sessionmaker) -> list[AgentProfile]:
    """Every active agent with a phone, with their skills (none set: no skills)."""
    query = (
        select(UserRecord, AgentProfileRecord)
        .outerjoin(AgentProfileRecord, AgentProfileRecord.user_id == UserRecord.id)
        .where(
            UserRecord.role == Role.AGENT,
            UserRecord.active.is_(True),
            UserRecord.agent_interface.is_not(None),
        )
        .order_by(UserRecord.username)
    )
    async with sessionmaker() as session:
        rows = (await session.execute(query)).all()
    return [
        AgentProfile(
            username=user.username,
            interface=user.agent_interface or "",
            skills=dict(profile.skills) if profile else {},
            languages=frozenset(profile.languages) if profile else frozenset(),
            team=profile.team if profile else None,
        )
        for user, profile in rows
    ]


async def save_agent_profile(
    sessionmaker: Sessionmaker,
    username: str,
    *,
    skills: Mapping[str, int],
    languages: Sequence[str],
    team: str | None,
    actor: str,
) -> None:
    """Set an agent's skills, languages and team; audited."""
    async with sessionmaker.begin() as session:
        user = await session.scalar(select(UserRecord).where(UserRecord.username == username))
        if user is None or user.role != Role.AGENT:
            raise UserNotFound(username)
        profile = await session.get(AgentProfileRecord, user.id)
        if profile is None:
            profile = AgentProfileRecord(user_id=user.id)
            session.add(profile)
        profile.skills = dict(skills)
        profile.languages = list(dict.fromkeys(languages))
        profile.team = team
        await AuditRepository(session).record(
            actor=actor,
            action="agent.profile",
            target=username,
            details={"skills": dict(skills), "languages": list(languages), "team": team},
        )
