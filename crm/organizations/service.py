"""Organizations as DaData knows them: stored, refreshed, typed by hand when DaData cannot tell.

DaData is asked with no transaction open (on SQLite the server has one writing connection: a
slow answer inside a write would stall every request): the checks run in a short read
session, then DaData, then a write transaction stores or joins, checking again.

A branch (same INN, its own KPP) is linked to its head office; an organization DaData calls
liquidating, liquidated or bankrupt is shown with a warning and named by no new request. A
partner company's head office stored only for its branch is out of service with no managers
(`dormant`): an admin who adds it by its INN puts it in service rather than being refused.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import audit
from crm.audit import AuditEntry
from crm.auth.service import Actor
from crm.dadata import DadataUnavailable, Party
from crm.enums import UNUSABLE, BranchType, OrganizationKind, Role
from crm.errors import Conflict, Forbidden, Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Agent, Manager, Organization
from crm.organizations.lookup import checked, head_office, lookup
from crm.organizations.store import (
    Who,
    adoptable,
    head_of,
    link_head,
    store_by_hand,
    store_party,
    stored,
    stored_head,
    update,
)
from ivr.config import DadataConfig

__all__ = ["lookup", "main_of", "refresh", "store_by_hand", "store_party", "usable"]

Then = Callable[[AsyncSession, "Settled"], Awaitable[None]]
"""More work in the write transaction that stores or joins an organization."""


def usable(organization: Organization) -> bool:
    """False when DaData calls it liquidating, liquidated or bankrupt: no new request."""
    return organization.status not in UNUSABLE


async def main_of(session: AsyncSession, organization: Organization) -> Organization:
    """The head office of a branch; the organization itself when it has none."""
    if organization.main_organization_id is None:
        return organization
    head = await session.get(Organization, organization.main_organization_id)
    return head or organization


@dataclass(frozen=True)
class Found:
    """What is known of a number before the write transaction: the stored organization to
    join (`known_id`), or what DaData said (`party`; a branch's `head` office when that is
    not stored yet), or nothing (typed by hand: DaData could not tell)."""

    number: str
    kpp: str | None
    known_id: int | None = None
    party: Party | None = None
    head: Party | None = None


@dataclass(frozen=True)
class Settled:
    organization: Organization
    created: bool
    """False: an organization stored before was joined."""


def _taken() -> Invalid:
    return Conflict.one("inn", _("a company with this INN already exists"))


async def dormant(session: AsyncSession, organization: Organization) -> bool:
    """True for the head office stored only for a branch, untouched since (out of service,
    no managers, nothing audited after its creation): added by an admin, it is put in
    service. A company an admin ever deactivated or reactivated is not dormant: it is
    reactivated on its page, never by adding it again."""
    if organization.kind is not OrganizationKind.PARTNER or organization.is_active:
        return False
    manager = await session.scalar(
        select(Manager.id).where(Manager.organization_id == organization.id).limit(1)
    )
    if manager is not None:
        return False
    entries = await session.execute(
        select(AuditEntry.action, AuditEntry.details).where(
            AuditEntry.entity == "organization", AuditEntry.entity_id == str(organization.id)
        )
    )
    head_office_only = False
    for action, details in entries:
        if action in ("deactivate", "reactivate"):  # an admin's hand, whichever way
            return False
        if action == "create":
            head_office_only = json.loads(details).get("head_office_only") is True
    return head_office_only


async def _refuse_taken(session: AsyncSession, organization: Organization | None) -> None:
    """Conflict for a stored one of the number, unless it is `dormant` (added again)."""
    if organization is not None and not await dormant(session, organization):
        raise _taken()


async def _taken_up(
    session: AsyncSession, organization: Organization, *, actor: Who, now: datetime
) -> Settled:
    """A `dormant` partner company an admin adds is put in service (audited); Conflict for
    any other stored before."""
    await _refuse_taken(session, organization)
    organization.is_active = True
    await audit.record(
        session,
        actor=actor,
        action="reactivate",
        entity="organization",
        entity_id=organization.id,
        details={"added": True},
        now=now,
    )
    await session.flush()
    return Settled(organization, created=True)


async def find(
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    *,
    number: str,
    kpp: str | None,
    name: str | None,
    kind: OrganizationKind,
    join: bool = False,
    name_field: str = "name",
) -> Found:
    """What to store or join for an INN or OGRN (and KPP), read in short read sessions with
    DaData asked while none is open (a slow answer must hold no lock). One of this kind
    already stored: joined with `join`, else Conflict naming `inn`. While DaData cannot tell,
    with no KPP given, the stored head office of the number is joined rather than copied.
    Without `name` when DaData cannot tell: Invalid naming `inn` (unknown) or `name_field`
    (DaData unavailable, with its reason)."""
    number, kpp = checked(number, kpp)
    async with sessions() as session:
        known = await stored(session, number=number, kpp=kpp, kind=kind)
    if known is not None:
        if not join:
            async with sessions() as session:
                await _refuse_taken(session, known)
        return Found(number, kpp, known_id=known.id)
    try:
        party = await lookup(http, settings, number=number, kpp=kpp)
    except DadataUnavailable as unavailable:
        if kpp is None:
            async with sessions() as session:
                main = await head_of(session, number=number, kind=kind)
                if main is not None and not join:
                    await _refuse_taken(session, main)
            if main is not None:
                return Found(number, kpp, known_id=main.id)
        if not name:
            message = _("%(reason)s Type the organization's name to add it by hand.")
            raise Invalid.one(name_field, message % {"reason": unavailable.message}) from None
        return Found(number, kpp)
    if party is None:
        if not name:
            raise Invalid.one("inn", _("no organization with this INN is registered"))
        return Found(number, kpp)
    async with sessions() as session:
        if not join:
            await _refuse_taken(session, await _party_stored(session, party=party, kind=kind))
        needs_head = (
            party.branch_type is BranchType.BRANCH
            and await stored_head(session, inn=party.inn, kind=kind) is None
        )
    head = await head_office(http, settings, party=party) if needs_head else None
    return Found(number, kpp, party=party, head=head)


async def _party_stored(
    session: AsyncSession, *, party: Party, kind: OrganizationKind
) -> Organization | None:
    """The stored organization DaData's `party` is: of its INN and KPP, or the one typed by
    hand with no KPP that a head office adopts."""
    found = await stored(session, number=party.inn, kpp=party.kpp, kind=kind)
    if found is None and party.branch_type is BranchType.MAIN:
        found = await adoptable(session, party=party, kind=kind)
    return found


async def settle(
    session: AsyncSession,
    *,
    found: Found,
    name: str | None,
    kind: OrganizationKind,
    now: datetime,
    actor: Who,
    join: bool = False,
) -> Settled:
    """In the write transaction: store what `find` found, or join the organization stored
    (by now, maybe by another at the same moment: joined with `join`, else Conflict)."""
    if found.known_id is not None:
        organization = await session.get(Organization, found.known_id)
        if organization is None or organization.kind is not kind:
            raise NotFound(f"organization {found.known_id}")
        if not join:
            return await _taken_up(session, organization, actor=actor, now=now)
        return Settled(organization, created=False)
    if found.party is None:
        known = await stored(session, number=found.number, kpp=found.kpp, kind=kind)
        if known is None and found.kpp is None:
            known = await head_of(session, number=found.number, kind=kind)
        if known is None:
            known, created = await store_by_hand(
                session, name=name or "", number=found.number, kpp=found.kpp, kind=kind,
                now=now, actor=actor,
            )  # fmt: skip
            if created:
                return Settled(known, created=True)
        if not join:
            return await _taken_up(session, known, actor=actor, now=now)
        return Settled(known, created=False)
    if not join:
        await _refuse_taken(session, await _party_stored(session, party=found.party, kind=kind))
    organization, created = await store_party(
        session, party=found.party, head=found.head, kind=kind, now=now, actor=actor
    )
    if not created and not join:
        return await _taken_up(session, organization, actor=actor, now=now)
    return Settled(organization, created=created)


async def add(
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    *,
    number: str,
    kpp: str | None,
    name: str | None,
    kind: OrganizationKind,
    now: datetime,
    actor: Who,
    join: bool = False,
    name_field: str = "name",
    then: Then | None = None,
) -> Settled:
    """`find`, then `settle` in a write transaction of its own, with `then(session,
    settled)` done in the same transaction."""
    found = await find(
        sessions, http, settings, number=number, kpp=kpp, name=name, kind=kind, join=join,
        name_field=name_field,
    )  # fmt: skip
    async with sessions.begin() as session:
        settled = await settle(
            session, found=found, name=name, kind=kind, now=now, actor=actor, join=join
        )
        if then is not None:
            await then(session, settled)
    return settled


async def membership_of(session: AsyncSession, *, actor: Actor) -> tuple[Organization | None, bool]:
    """The agent's own organization, if they gave one, and whether they are confirmed in it
    (False: a colleague or an admin has yet to confirm them)."""
    if actor.role is not Role.AGENT or actor.agent_id is None:
        raise Forbidden(_("only agents have an organization of their own"))
    agent = await session.get(Agent, actor.agent_id)
    if agent is None or agent.organization_id is None:
        return None, False
    organization = await session.get(Organization, agent.organization_id)
    return organization, agent.organization_confirmed


async def own_organization(session: AsyncSession, *, actor: Actor) -> Organization | None:
    """The agent's own organization, if they gave one (confirmed in it or not)."""
    organization, _confirmed = await membership_of(session, actor=actor)
    return organization


async def _refreshable(
    session: AsyncSession, *, actor: Actor, organization_id: int
) -> Organization:
    organization: Organization | None
    if actor.role is Role.ADMIN:
        organization = await session.get(Organization, organization_id)
    elif actor.role is Role.AGENT:
        organization, confirmed = await membership_of(session, actor=actor)
        if organization is not None and (organization.id != organization_id or not confirmed):
            organization = None
    else:
        raise Forbidden(_("only admins and agents refresh organizations"))
    if organization is None:
        raise NotFound(f"organization {organization_id}")
    return organization


def _copy_of(other: Organization) -> Invalid:
    message = _(
        "this INN and KPP are stored already as %(name)s: this copy was not refreshed, "
        "use that organization instead"
    )
    return Conflict.one("inn", message % {"name": other.name})


async def refresh(
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    *,
    actor: Actor,
    organization_id: int,
    now: datetime,
) -> Organization:
    """The organization re-read from DaData (an admin's any, a confirmed agent's their own),
    the previous value of each changed field kept in the audit log; DaData is asked with no
    transaction open. DadataUnavailable when DaData gives no answer; Invalid naming `inn`
    when it knows the organization no more; Conflict naming `inn` when what DaData says is
    another organization stored already (a copy typed by hand is refused, not merged)."""
    async with sessions() as session:
        organization = await _refreshable(session, actor=actor, organization_id=organization_id)
        number, kind = organization.inn or organization.ogrn, organization.kind
        # A known head office is asked for as one (its KPP changes when it moves to another
        # tax office); a branch, or one typed by hand with a KPP, by that KPP.
        asked_as_head = organization.branch_type is BranchType.MAIN
        kpp = None if asked_as_head else organization.kpp or None
    if not number:
        raise Invalid.one("inn", _("give the organization's INN first"))
    party = await lookup(http, settings, number=number, kpp=kpp, fresh=True)
    if party is None:
        raise Invalid.one("inn", _("no organization with this INN is registered"))
    async with sessions() as session:
        other = await stored(session, number=party.inn, kpp=party.kpp, kind=kind)
        if other is not None and other.id != organization_id:
            raise _copy_of(other)
        needs_head = (
            party.branch_type is BranchType.BRANCH
            and await stored_head(session, inn=party.inn, kind=kind, besides=organization_id)
            is None
        )
    head = await head_office(http, settings, party=party, fresh=True) if needs_head else None
    async with sessions.begin() as session:
        organization = await _refreshable(session, actor=actor, organization_id=organization_id)
        other = await stored(session, number=party.inn, kpp=party.kpp, kind=kind)
        if other is not None and other.id != organization_id:
            raise _copy_of(other)
        await update(session, organization, party=party, actor=actor, now=now)
        await link_head(
            session, organization, party=party, head=head, kind=kind, now=now, actor=actor
        )
    return organization


async def attach(
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    *,
    actor: Actor,
    number: str,
    kpp: str | None,
    name: str | None,
    now: datetime,
) -> Settled:
    """The agent's own organization given by its INN: found, joined or typed by hand. One
    stored before is joined pending (`created` False): a member or an admin confirms."""
    async with sessions() as session:
        if await own_organization(session, actor=actor) is not None:
            raise Conflict.one("inn", _("you belong to an organization already"))

    async def joined(session: AsyncSession, settled: Settled) -> None:
        if await own_organization(session, actor=actor) is not None:
            raise Conflict.one("inn", _("you belong to an organization already"))
        await join(
            session, agent_id=actor.agent_id or 0, organization=settled.organization,
            confirmed=settled.created, actor=actor, now=now,
        )  # fmt: skip

    return await add(
        sessions, http, settings, number=number, kpp=kpp, name=name,
        kind=OrganizationKind.AGENCY, now=now, actor=actor, join=True, then=joined,
    )  # fmt: skip


async def join(
    session: AsyncSession,
    *,
    agent_id: int,
    organization: Organization,
    confirmed: bool,
    actor: Who,
    now: datetime,
) -> None:
    """Make `organization` the agent's own (audited): confirmed when they made it, else
    pending until a confirmed member or an admin confirms them."""
    if organization.kind is not OrganizationKind.AGENCY:
        raise Invalid.one("inn", _("no such agents' organization"))
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id}")
    agent.organization_id = organization.id
    agent.organization_confirmed = confirmed
    await audit.record(
        session,
        actor=actor,
        action="join",
        entity="agent",
        entity_id=agent_id,
        details={
            "organization_id": organization.id,
            "name": organization.name,
            "confirmed": confirmed,
        },
        now=now,
    )
    await session.flush()
