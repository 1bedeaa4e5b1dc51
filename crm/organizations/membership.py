"""Who belongs to an agents' organization. The agent who gave a new organization's INN is its
first member; one who gives the INN of an organization stored already waits, seeing none of
its payers, addresses, points or colleagues, until a confirmed member or an admin confirms
them, or refuses them (they leave it). Each step is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor
from crm.enums import Role
from crm.errors import Conflict, Forbidden, NotFound
from crm.i18n import gettext as _
from crm.models import Agent, Organization
from crm.organizations.scope import agent_organization_id


async def waiting(session: AsyncSession, *, organization_id: int) -> list[Agent]:
    """The agents waiting to be confirmed in the organization, the earliest first."""
    return list(
        await session.scalars(
            select(Agent)
            .where(Agent.organization_id == organization_id, ~Agent.organization_confirmed)
            .order_by(Agent.created_at, Agent.id)
        )
    )


async def colleagues_waiting(session: AsyncSession, *, actor: Actor) -> list[Agent]:
    """For a confirmed member, the agents waiting in their organization; else none."""
    own = await agent_organization_id(session, agent_id=actor.agent_id)
    return [] if own is None else await waiting(session, organization_id=own)


async def organization_names(session: AsyncSession, agents: list[Agent]) -> dict[int, str]:
    """The name of each of these agents' organizations, by its id (for a list of agents)."""
    ids = {agent.organization_id for agent in agents if agent.organization_id is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(ids))
    )
    return {id_: name for id_, name in rows.tuples()}


async def _pending(session: AsyncSession, *, actor: Actor, agent_id: int) -> Agent:
    """The waiting agent an admin, or a confirmed member of the same organization, decides
    on; NotFound for an agent of another organization, Conflict when none is waiting."""
    if actor.role not in (Role.ADMIN, Role.AGENT):
        raise Forbidden(_("only admins and the organization's agents confirm its members"))
    agent = await session.get(Agent, agent_id, with_for_update=True)
    if agent is None:
        raise NotFound(f"agent {agent_id}")
    if actor.role is Role.AGENT:
        own = await agent_organization_id(session, agent_id=actor.agent_id)
        if own is None or agent.organization_id != own:
            raise NotFound(f"agent {agent_id}")
    if agent.organization_id is None or agent.organization_confirmed:
        raise Conflict.one("agent_id", _("this agent is not waiting to be confirmed"))
    return agent


async def confirm(session: AsyncSession, *, actor: Actor, agent_id: int, now: datetime) -> Agent:
    """The waiting agent becomes a member: they see the organization's data from now on."""
    agent = await _pending(session, actor=actor, agent_id=agent_id)
    agent.organization_confirmed = True
    await audit.record(
        session,
        actor=actor,
        action="confirm",
        entity="agent",
        entity_id=agent.id,
        details={"organization_id": agent.organization_id},
        now=now,
    )
    await session.flush()
    return agent


async def refuse(session: AsyncSession, *, actor: Actor, agent_id: int, now: datetime) -> Agent:
    """The waiting agent leaves the organization (they may give another INN)."""
    agent = await _pending(session, actor=actor, agent_id=agent_id)
    organization_id = agent.organization_id
    agent.organization_id = None
    agent.organization_confirmed = True
    await audit.record(
        session,
        actor=actor,
        action="refuse",
        entity="agent",
        entity_id=agent.id,
        details={"organization_id": organization_id},
        now=now,
    )
    await session.flush()
    return agent
