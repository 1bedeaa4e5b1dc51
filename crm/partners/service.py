"""Admin operations on partner companies, managers, agents and calls."""

from __future__ import annotations

from datetime import datetime

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from crm import audit
from crm.auth.models import User
from crm.auth.service import Actor, create_user, require_admin
from crm.enums import OrganizationKind, RecordingPolicy, Role
from crm.errors import Conflict, Forbidden, NotFound
from crm.i18n import gettext as _
from crm.models import Agent, Manager, ManagerPhone, Organization
from crm.organizations import service as organizations
from crm.pagination import Page, paginate
from crm.schemas import AgentIn, ManagerIn, OrganizationIn
from ivr.config import DadataConfig


def _partners():
    return (
        select(Organization)
        .where(Organization.kind == OrganizationKind.PARTNER)
        .order_by(Organization.name, Organization.id)
    )


async def list_organizations(
    session: AsyncSession, *, actor: Actor, page: int = 1, per_page: int = 20
) -> Page[Organization]:
    require_admin(actor)
    return await paginate(session, _partners(), page=page, per_page=per_page)


async def list_partners(
    session: AsyncSession, *, actor: Actor, page: int = 1, per_page: int = 20
) -> Page[Organization]:
    """A page of partner companies for admins, and for agents choosing whom to file for."""
    if actor.role not in (Role.ADMIN, Role.AGENT):
        raise Forbidden(_("only admins and agents list partner companies"))
    return await paginate(session, _partners(), page=page, per_page=per_page)


async def partner_choices(session: AsyncSession) -> list[Organization]:
    """Every active partner company, for the request form's list (names are not personal)."""
    return list(await session.scalars(_partners().where(Organization.is_active)))


async def manager_with_phones(session: AsyncSession, *, manager_id: int) -> Manager:
    """A manager with their phones loaded (for an answer)."""
    manager = await session.scalar(
        select(Manager)
        .where(Manager.id == manager_id)
        .options(selectinload(Manager.phones))
        .execution_options(populate_existing=True)
    )
    if manager is None:
        raise NotFound(f"manager {manager_id}")
    return manager


async def get_organization(
    session: AsyncSession, *, actor: Actor, organization_id: int
) -> Organization:
    """A partner company with its managers and their phones loaded."""
    require_admin(actor)
    organization = await session.scalar(
        select(Organization)
        .where(Organization.id == organization_id, Organization.kind == OrganizationKind.PARTNER)
        .options(selectinload(Organization.managers).selectinload(Manager.phones))
    )
    if organization is None:
        raise NotFound(f"organization {organization_id}")
    return organization


async def create_organization(
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    *,
    actor: Actor,
    data: OrganizationIn,
    now: datetime,
) -> Organization:
    """A partner company by its INN (or OGRN) as DaData fills it; typed by hand (not
    verified) with `data.name` when DaData cannot tell. Conflict naming `inn` when a partner
    company has it (an agents' organization of the same INN is another record). DaData is
    asked with no transaction open; the write opens after."""
    require_admin(actor)

    async def with_policy(session: AsyncSession, settled: organizations.Settled) -> None:
        organization = settled.organization
        if organization.recording_policy != data.recording_policy:
            organization.recording_policy = data.recording_policy
            await audit.record(
                session,
                actor=actor,
                action="recording_policy",
                entity="organization",
                entity_id=organization.id,
                details={"from": RecordingPolicy.OFF, "to": data.recording_policy},
                now=now,
            )
            await session.flush()

    settled = await organizations.add(
        sessions, http, settings, number=data.inn, kpp=data.kpp, name=data.name,
        kind=OrganizationKind.PARTNER, now=now, actor=actor, then=with_policy,
    )  # fmt: skip
    return settled.organization


async def set_recording_policy(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: int,
    policy: RecordingPolicy,
    now: datetime,
) -> Organization:
    """Record a partner company's conversations from its next call on, or stop (audited)."""
    organization = await get_organization(session, actor=actor, organization_id=organization_id)
    before = organization.recording_policy
    if before != policy:
        organization.recording_policy = policy
        await audit.record(
            session,
            actor=actor,
            action="recording_policy",
            entity="organization",
            entity_id=organization.id,
            details={"from": before, "to": policy},
            now=now,
        )
        await session.flush()
    return organization


async def add_manager(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: int,
    data: ManagerIn,
    now: datetime,
    password: str | None = None,
) -> Manager:
    """A manager of a partner company; each phone may belong to one manager only."""
    organization = await get_organization(session, actor=actor, organization_id=organization_id)
    taken = list(
        await session.scalars(select(ManagerPhone.phone).where(ManagerPhone.phone.in_(data.phones)))
    )
    if taken:
        raise Conflict.one(
            "phones", _("already a manager's number: %(phones)s") % {"phones": ", ".join(taken)}
        )
    manager = Manager(organization_id=organization.id, name=data.name, created_at=now)
    session.add(manager)
    await session.flush()
    session.add_all(ManagerPhone(manager_id=manager.id, phone=phone) for phone in data.phones)
    if data.email and password:
        await create_user(
            session,
            email=data.email,
            name=data.name,
            password=password,
            role=Role.MANAGER,
            manager_id=manager.id,
            now=now,
            actor=actor,
        )
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="manager",
        entity_id=manager.id,
        details={"organization": organization.name, "name": data.name, "phones": len(data.phones)},
        now=now,
    )
    return manager


async def list_managers(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: int,
) -> list[Manager]:
    return (await get_organization(session, actor=actor, organization_id=organization_id)).managers


async def list_agents(
    session: AsyncSession, *, actor: Actor, page: int = 1, per_page: int = 20
) -> Page[Agent]:
    require_admin(actor)
    return await paginate(
        session, select(Agent).order_by(Agent.name, Agent.id), page=page, per_page=per_page
    )


async def agent_choices(session: AsyncSession, *, actor: Actor) -> list[Agent]:
    """Every agent by name, for an admin's choice of whose client it is."""
    require_admin(actor)
    return list(await session.scalars(select(Agent).order_by(Agent.name, Agent.id)))


async def manager_logins(
    session: AsyncSession, *, actor: Actor, organization_id: int
) -> dict[int, str]:
    """The login email of each of the company's managers that has one."""
    require_admin(actor)
    rows = await session.execute(
        select(User.manager_id, User.email)
        .join(Manager, Manager.id == User.manager_id)
        .where(Manager.organization_id == organization_id)
    )
    return {manager_id: email for manager_id, email in rows}


async def add_agent_account(
    session: AsyncSession,
    *,
    data: AgentIn,
    phone: str | None,
    actor: Actor | str,
    now: datetime,
) -> tuple[Agent, User]:
    """An agent and the login it uses (no access check: the caller made it)."""
    agent = Agent(name=data.name, email=data.email, phone=phone, created_at=now)
    session.add(agent)
    await session.flush()
    user = await create_user(
        session,
        email=data.email,
        name=data.name,
        password=data.password,
        role=Role.AGENT,
        agent_id=agent.id,
        now=now,
        actor=actor,
    )
    return agent, user


async def create_agent(
    session: AsyncSession, *, actor: Actor, data: AgentIn, now: datetime
) -> Agent:
    """An agent and the account it logs in with."""
    require_admin(actor)
    if await session.scalar(
        select(User.id).where(User.email == data.email)
    ) or await session.scalar(select(Agent.id).where(Agent.email == data.email)):
        raise Conflict.one("email", _("an account with this email already exists"))
    agent, _user = await add_agent_account(session, data=data, phone=None, actor=actor, now=now)
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="agent",
        entity_id=agent.id,
        details={"name": data.name},
        now=now,
    )
    return agent
