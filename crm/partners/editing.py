"""Editing partner companies, managers and their phones, agents and logins (admins only).

Only the fields given change, each edit is audited with every changed field's old and new
value, and none touches whether a record is active (that is `access.py`'s), except that a
number of the manager's own that was turned off comes back on when it is added again. A
login and the agent or manager it belongs to are one person: their name and email change
together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.models import User
from crm.auth.resets import void_links
from crm.auth.service import Actor, require_admin
from crm.enums import OrganizationKind
from crm.errors import Conflict, Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Agent, Manager, ManagerPhone, Organization
from crm.schemas import ManagerEdit, OrganizationEdit, PersonEdit, UserEdit

Changes = dict[str, dict[str, Any]]


async def _save(
    session: AsyncSession,
    actor: Actor,
    records: tuple[Any, ...],
    changes: dict[str, Any],
    *,
    entity: str,
    entity_id: int,
    now: datetime,
) -> Changes:
    """Set each field on every record that has it, the first one's value counting as the old
    one; audit what changed (nothing when nothing did)."""
    changed: Changes = {}
    for field, value in changes.items():
        holders = [record for record in records if record is not None and hasattr(record, field)]
        before = getattr(holders[0], field)
        for holder in holders:
            setattr(holder, field, value)
        if before != value:
            changed[field] = {"from": before, "to": value}
    if "email" in changed:
        # A link sent to the old mailbox must not outlive it.
        for record in records:
            if isinstance(record, User):
                await void_links(session, user_id=record.id, now=now)
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity=entity,
            entity_id=entity_id,
            details=changed,
            now=now,
        )
        await session.flush()
    return changed


async def _email_free(
    session: AsyncSession, email: str, *, user_id: int | None, agent_id: int | None
) -> None:
    """Conflict naming `email` when an account other than this login (or agent) has it."""
    taken = await session.scalar(select(User.id).where(User.email == email, User.id != user_id))
    if taken is None:
        taken = await session.scalar(
            select(Agent.id).where(Agent.email == email, Agent.id != agent_id)
        )
    if taken is not None:
        raise Conflict.one("email", _("an account with this email already exists"))


async def _login(session: AsyncSession, *condition: Any) -> User | None:
    return await session.scalar(select(User).where(*condition).with_for_update())


NOT_VERIFIED: dict[str, Any] = {
    "kpp": "",
    "full_name": None,
    "ogrn": None,
    "ogrn_date": None,
    "party_type": None,
    "legal_address": None,
    "head_name": None,
    "head_post": None,
    "status": None,
    "registered_on": None,
    "liquidated_on": None,
    "status_date": None,
    "dadata_hid": None,
    "branch_type": None,
    "main_organization_id": None,
    "verified_at": None,
}
"""A company's fields from DaData, cleared when its INN is edited by hand."""


async def update_organization(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: int,
    data: OrganizationEdit,
    now: datetime,
) -> Organization:
    """A partner company's new name or INN (Conflict naming `inn` when another partner
    company has it); a new INN clears what DaData said of the old one (not verified)."""
    require_admin(actor)
    organization = await session.get(Organization, organization_id, with_for_update=True)
    if organization is None or organization.kind is not OrganizationKind.PARTNER:
        raise NotFound(f"organization {organization_id}")
    changes = data.changes()
    if "inn" in changes and await session.scalar(
        select(Organization.id).where(
            Organization.inn == changes["inn"],
            Organization.kind == OrganizationKind.PARTNER,
            Organization.id != organization_id,
        )
    ):
        raise Conflict.one("inn", _("a company with this INN already exists"))
    if "inn" in changes and changes["inn"] != organization.inn:
        # What DaData said was of the old INN: "not verified" until a refresh; its branches
        # (of the old INN) are no longer its.
        changes.update(NOT_VERIFIED)
        await session.execute(
            update(Organization)
            .where(Organization.main_organization_id == organization_id)
            .values(main_organization_id=None)
        )
    await _save(
        session,
        actor,
        (organization,),
        changes,
        entity="organization",
        entity_id=organization_id,
        now=now,
    )
    return organization


async def update_manager(
    session: AsyncSession, *, actor: Actor, manager_id: int, data: ManagerEdit, now: datetime
) -> Manager:
    """A manager's new name (their login's too), or their login's new email (Invalid naming
    `email` when they have no login, Conflict when another account has it)."""
    require_admin(actor)
    manager = await session.get(Manager, manager_id, with_for_update=True)
    if manager is None:
        raise NotFound(f"manager {manager_id}")
    login = await _login(session, User.manager_id == manager_id)
    changes = data.changes()
    if "email" in changes:
        if login is None:
            raise Invalid.one("email", _("this manager has no web login"))
        await _email_free(session, changes["email"], user_id=login.id, agent_id=None)
    await _save(
        session, actor, (manager, login), changes, entity="manager", entity_id=manager_id, now=now
    )
    return manager


async def add_manager_phone(
    session: AsyncSession, *, actor: Actor, manager_id: int, phone: str, now: datetime
) -> ManagerPhone:
    """One more number (E.164) the manager calls from, recognised from its next call on.
    Conflict naming `phone` when it is another manager's or already theirs and on; one of
    theirs that was turned off is turned on again rather than added twice."""
    require_admin(actor)
    manager = await session.get(Manager, manager_id, with_for_update=True)
    if manager is None:
        raise NotFound(f"manager {manager_id}")
    found = await session.scalar(
        select(ManagerPhone).where(ManagerPhone.phone == phone).with_for_update()
    )
    if found is not None and found.manager_id != manager_id:
        raise Conflict.one("phone", _("this is another manager's number"))
    if found is not None and found.is_active:
        raise Conflict.one("phone", _("this is already one of the manager's numbers"))
    working = list(
        await session.scalars(
            select(ManagerPhone.phone)
            .where(ManagerPhone.manager_id == manager_id, ManagerPhone.is_active)
            .order_by(ManagerPhone.id)
        )
    )
    if found is None:
        found = ManagerPhone(manager_id=manager_id, phone=phone)
        session.add(found)
    else:
        found.is_active = True
    await audit.record(
        session,
        actor=actor,
        action="add_phone",
        entity="manager",
        entity_id=manager_id,
        details={"phones": {"from": working, "to": [*working, phone]}},
        now=now,
    )
    await session.flush()
    return found


async def update_agent(
    session: AsyncSession, *, actor: Actor, agent_id: int, data: PersonEdit, now: datetime
) -> Agent:
    """An agent's new name or email, their login's with it (Conflict naming `email`)."""
    require_admin(actor)
    agent = await session.get(Agent, agent_id, with_for_update=True)
    if agent is None:
        raise NotFound(f"agent {agent_id}")
    login = await _login(session, User.agent_id == agent_id)
    changes = data.changes()
    if "email" in changes:
        user_id = login.id if login else None
        await _email_free(session, changes["email"], user_id=user_id, agent_id=agent_id)
    await _save(
        session, actor, (agent, login), changes, entity="agent", entity_id=agent_id, now=now
    )
    return agent


async def update_user(
    session: AsyncSession, *, actor: Actor, user_id: int, data: UserEdit, now: datetime
) -> User:
    """A login's new name or email, of any role (the role stays); the agent's or manager's it
    is changes with it (Conflict naming `email`)."""
    require_admin(actor)
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"user {user_id}")
    person: Agent | Manager | None = None
    if user.agent_id is not None:
        person = await session.get(Agent, user.agent_id, with_for_update=True)
    elif user.manager_id is not None:
        person = await session.get(Manager, user.manager_id, with_for_update=True)
    changes = data.changes()
    if "email" in changes:
        await _email_free(session, changes["email"], user_id=user_id, agent_id=user.agent_id)
    await _save(session, actor, (user, person), changes, entity="user", entity_id=user_id, now=now)
    return user
