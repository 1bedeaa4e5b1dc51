"""Taking access away, and giving it back: partner companies, managers, their phones,
agents and web logins are deactivated, never deleted, so their history stays readable.

What a deactivation cuts, at once:
- a company: every one of its managers, on the line and on the web;
- a manager: their calls (an unknown caller from the next call on, and no new dial in a
  call in progress) and their web login and API keys;
- a phone: calls from that number;
- an agent, or any login: its web sessions (signed out on the next request) and API keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.models import User
from crm.auth.service import Actor, require_admin
from crm.enums import OrganizationKind, Role
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Agent, Manager, ManagerPhone, Organization


async def _end_sessions(session: AsyncSession, *conditions: Any) -> None:
    """Sign out every web session of the users matching `conditions` (their next request)."""
    await session.execute(
        update(User)
        .where(*conditions)
        .values(session_generation=User.session_generation + 1)
        .execution_options(synchronize_session=False)
    )


async def _record(
    session: AsyncSession, actor: Actor, entity: str, entity_id: int, active: bool, now: datetime
) -> None:
    action = "reactivate" if active else "deactivate"
    await audit.record(
        session, actor=actor, action=action, entity=entity, entity_id=entity_id, now=now
    )


Switchable = TypeVar("Switchable", Organization, Manager, Agent)


async def _switch(
    session: AsyncSession,
    actor: Actor,
    record: Switchable | None,
    *,
    entity: str,
    record_id: int,
    active: bool,
    signs_out: ColumnElement[bool],
    now: datetime,
) -> Switchable:
    """Set `record` active or not, signing out the logins `signs_out` selects on the way
    out; once only (audited); NotFound for no record."""
    if record is None:
        raise NotFound(f"{entity} {record_id}")
    if record.is_active != active:
        record.is_active = active
        if not active:
            await _end_sessions(session, signs_out)
        await _record(session, actor, entity, record_id, active, now)
        await session.flush()
    return record


async def set_organization_active(
    session: AsyncSession, *, actor: Actor, organization_id: int, active: bool, now: datetime
) -> Organization:
    """A partner company in or out of service, with all its managers (audited)."""
    require_admin(actor)
    organization = await session.get(Organization, organization_id, with_for_update=True)
    if organization is not None and organization.kind is not OrganizationKind.PARTNER:
        organization = None
    managers = select(Manager.id).where(Manager.organization_id == organization_id)
    return await _switch(
        session,
        actor,
        organization,
        entity="organization",
        record_id=organization_id,
        active=active,
        signs_out=User.manager_id.in_(managers),
        now=now,
    )


async def set_manager_active(
    session: AsyncSession, *, actor: Actor, manager_id: int, active: bool, now: datetime
) -> Manager:
    """A manager in or out of service: the line and their login (audited)."""
    require_admin(actor)
    manager = await session.get(Manager, manager_id, with_for_update=True)
    return await _switch(
        session,
        actor,
        manager,
        entity="manager",
        record_id=manager_id,
        active=active,
        signs_out=User.manager_id == manager_id,
        now=now,
    )


async def set_phone_active(
    session: AsyncSession,
    *,
    actor: Actor,
    manager_id: int,
    phone: str,
    active: bool,
    now: datetime,
) -> ManagerPhone:
    """One of a manager's numbers in or out of service on the line (audited); Invalid
    naming `phone` when it is not that manager's."""
    require_admin(actor)
    found = await session.scalar(
        select(ManagerPhone)
        .where(ManagerPhone.manager_id == manager_id, ManagerPhone.phone == phone)
        .with_for_update()
    )
    if found is None:
        if await session.get(Manager, manager_id) is None:
            raise NotFound(f"manager {manager_id}")
        raise Invalid.one("phone", _("this is not one of the manager's numbers"))
    if found.is_active != active:
        found.is_active = active
        await audit.record(
            session,
            actor=actor,
            action="reactivate" if active else "deactivate",
            entity="manager_phone",
            entity_id=manager_id,
            details={"phone": phone},
            now=now,
        )
        await session.flush()
    return found


async def set_agent_active(
    session: AsyncSession, *, actor: Actor, agent_id: int, active: bool, now: datetime
) -> Agent:
    """An agent in or out of service: their login and keys (audited). Their requests stay
    as they are: close them to stop the partner's calls."""
    require_admin(actor)
    agent = await session.get(Agent, agent_id, with_for_update=True)
    return await _switch(
        session,
        actor,
        agent,
        entity="agent",
        record_id=agent_id,
        active=active,
        signs_out=User.agent_id == agent_id,
        now=now,
    )


async def set_user_active(
    session: AsyncSession, *, actor: Actor, user_id: int, active: bool, now: datetime
) -> User:
    """A web login in or out of service, with its API keys (audited); an admin cannot
    deactivate their own (Invalid naming `user_id`), so one admin always remains."""
    require_admin(actor)
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"user {user_id}")
    if not active and user.id == actor.user_id:
        raise Invalid.one("user_id", _("you cannot deactivate your own login"))
    if not active and user.role is Role.ADMIN and user.is_active:
        # Locked, so two admins deactivating each other at once cannot leave none.
        others = await session.scalars(
            select(User.id)
            .where(User.role == Role.ADMIN, User.is_active, User.id != user.id)
            .with_for_update()
        )
        if not list(others):
            raise Invalid.one("user_id", _("the last active admin cannot be deactivated"))
    if user.is_active != active:
        user.is_active = active
        if not active:
            user.session_generation += 1
        await _record(session, actor, "user", user_id, active, now)
        await session.flush()
    return user
