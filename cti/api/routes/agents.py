"""Agents: who can take which calls, their live state, and logging in, out and pausing.

State comes from Asterisk's queue-member events only: a pause asked for here becomes
true when Asterisk says so, and a refusal (an unknown member) changes nothing locally.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from cti.ami.exceptions import AmiError
from cti.api.deps import AdminUser, AgentUser, Context, SupervisorUser
from cti.api.errors import error_response
from cti.auth.model import Role, User
from cti.routing.engine import AgentState
from cti.store.agents import agent_profiles, save_agent_profile
from cti.store.repositories import audit

router = APIRouter(prefix="/api/agents", tags=["agents"])

Username = Annotated[str, Path(min_length=1, max_length=64)]
SKILL = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class ProfileIn(BaseModel):
    skills: dict[SKILL, Annotated[int, Field(ge=1, le=5)]] = Field(max_length=50)
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=list, max_length=10
    )
    team: str | None = Field(None, max_length=64)


SPY_OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
"""ChanSpy options per mode: quiet (no beep, no name), exit when the agent's call ends;
``w`` lets the supervisor talk to the agent only, ``B`` to both the agent and the caller."""


class SpyIn(BaseModel):
    mode: Literal["listen", "whisper", "barge"] = "listen"


class PauseIn(BaseModel):
    reason: str = Field("break", min_length=1, max_length=64, pattern=r"^[^\r\n]+$")


@router.get("")
async def list_agents(context: Context, _: AgentUser) -> list[dict[str, Any]]:
    """Every agent with skills and live state (from Asterisk's queue members)."""
    now = time.time()
    return [a.view(now) for a in sorted(context.routing.agents.values(), key=lambda a: a.username)]


@router.put("/{username}/profile")
async def set_profile(
    context: Context, admin: AdminUser, username: Username, body: ProfileIn
) -> Any:
    """Set an agent's skills (1-5), languages and team; the skills must exist in routing."""
    known = (await context.routing.rules()).skills
    unknown = sorted(set(body.skills) - set(known))
    if unknown:
        problems = [
            f"skills.{s}: no such skill in the routing rules ({sorted(known)})" for s in unknown
        ]
        return error_response(422, "agent.invalid", "; ".join(problems), problems=problems)
    profiles = {p.username: p for p in await agent_profiles(context.sessionmaker)}
    if username not in profiles:
        message = f"{username} is not an active agent with a phone (set agent_interface first)"
        return error_response(422, "agent.invalid", message)
    await save_agent_profile(
        context.sessionmaker,
        username,
        skills=body.skills,
        languages=body.languages,
        team=body.team,
        actor=admin.username,
    )
    context.routing.load_profiles(await agent_profiles(context.sessionmaker))
    return context.routing.agents[username].view(time.time())


async def _member_action(
    context: Context, user: User, username: str, action: str, **fields: str
) -> Any:
    if user.username != username and user.role < Role.SUPERVISOR:
        return error_response(
            403, "auth.forbidden", "Only a supervisor may do this for another agent."
        )
    agent = context.routing.agents.get(username)
    if agent is None:
        return error_response(404, "agent.not_found", f"No agent {username}.")
    if context.ami is None:
        return error_response(503, "asterisk.unavailable", "Not connected to Asterisk.")
    rules = await context.routing.rules()
    queues = sorted({rules.skills[s] for s in agent.skills if s in rules.skills})
    targets = [{"Queue": q} for q in queues] if action in {"QueueAdd", "QueueRemove"} else [{}]
    if not targets:
        return error_response(422, "agent.invalid", f"{username} has no skill with a queue.")
    refused = []
    for target in targets:
        try:
            reply = await context.ami.action(action, Interface=agent.interface, **target, **fields)
        except AmiError as exc:
            return error_response(503, "asterisk.unavailable", str(exc))
        if isinstance(reply, dict) and reply.get("Response") == "Error":
            refused.append(
                f"{target.get('Queue', 'all queues')}: {reply.get('Message', 'refused')}"
            )
    if refused and len(refused) == len(targets):
        return error_response(409, "asterisk.refused", "Asterisk refused: " + "; ".join(refused))
    if user.username != username:
        await audit(
            context.sessionmaker,
            actor=user.username,
            action=f"agent.{action.lower()}",
            target=username,
            before={"state": agent.state.value, "pause_reason": agent.pause_reason},
            after=fields or None,
            refused=refused,
        )
    return {"username": username, "action": action, "refused": refused}


@router.get("/{username}/csat")
async def csat(context: Context, user: AgentUser, username: Username) -> Any:
    """How customers rated this agent (asked, answered, average, each score); the agent
    themselves or a supervisor."""
    if user.username != username and user.role < Role.SUPERVISOR:
        return error_response(
            403, "auth.forbidden", "Only a supervisor may see another agent's ratings."
        )
    return await context.csat.scores(username)


@router.post("/{username}/login")
async def login(context: Context, user: AgentUser, username: Username) -> Any:
    """Add the agent to the queue of each of their skills (``QueueAdd``)."""
    member = context.routing.agents.get(username)
    name = {"MemberName": member.username} if member else {}
    return await _member_action(context, user, username, "QueueAdd", **name)


@router.post("/{username}/logout")
async def logout(context: Context, user: AgentUser, username: Username) -> Any:
    """Remove the agent from their queues (``QueueRemove``)."""
    return await _member_action(context, user, username, "QueueRemove")


@router.post("/{username}/pause")
async def pause(context: Context, user: AgentUser, username: Username, body: PauseIn) -> Any:
    """Pause the agent in every queue with a reason (``QueuePause``)."""
    return await _member_action(
        context, user, username, "QueuePause", Paused="true", Reason=body.reason
    )


@router.post("/{username}/unpause")
async def unpause(context: Context, user: AgentUser, username: Username) -> Any:
    """Unpause the agent in every queue."""
    return await _member_action(context, user, username, "QueuePause", Paused="false")


@router.post("/{username}/spy", status_code=202)
async def spy(context: Context, supervisor: SupervisorUser, username: Username, body: SpyIn) -> Any:
    """Ring the supervisor's phone into the agent's call (``ChanSpy`` by AMI ``Originate``):
    ``listen`` hears both sides, ``whisper`` talks to the agent only, ``barge`` to both."""
    if not supervisor.agent_interface:
        message = "Your user has no phone (agent_interface) to ring for this."
        return error_response(422, "supervisor.no_phone", message)
    agent = context.routing.agents.get(username)
    if agent is None:
        return error_response(404, "agent.not_found", f"No agent {username}.")
    if agent.state is not AgentState.ON_CALL:
        message = f"{username} is not on a call ({agent.state.value})."
        return error_response(409, "agent.not_on_call", message)
    if context.ami is None:
        return error_response(503, "asterisk.unavailable", "Not connected to Asterisk.")
    options = SPY_OPTIONS[body.mode]
    try:
        reply = await context.ami.action(
            "Originate",
            Channel=supervisor.agent_interface,
            Application="ChanSpy",
            Data=f"{agent.interface}-,{options}",
            CallerID=f'"{body.mode.title()}: {username}" <{username}>',
            Timeout="30000",
            Async="true",
        )
    except AmiError as exc:
        return error_response(503, "asterisk.unavailable", str(exc))
    if isinstance(reply, dict) and reply.get("Response") == "Error":
        message = f"Asterisk refused: {reply.get('Message', 'refused')}"
        return error_response(409, "asterisk.refused", message)
    await audit(
        context.sessionmaker,
        actor=supervisor.username,
        action=f"agent.spy.{body.mode}",
        target=username,
        before={"state": agent.state.value},
        after={"mode": body.mode, "phone": supervisor.agent_interface},
    )
    return {"username": username, "mode": body.mode, "phone": supervisor.agent_interface}
