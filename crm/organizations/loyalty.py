"""Loyalty points: each request that reached its client earns its agent's organization points,
pooled at the head office (a branch's points are its main organization's); tiers from config.

An entry names the head office as it was when credited; it is pooled again when read (by
`HEAD_OFFICE` of the organization it names), so a branch linked to its head office later
brings its earlier points along."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable

from crm.auth.service import Actor, require_admin
from crm.enums import CallOutcome, OrganizationKind, Role
from crm.errors import Forbidden, NotFound
from crm.i18n import N_, gettext
from crm.i18n import gettext as _
from crm.models import Agent, DialAttempt, Organization, Request, Timestamp
from crm.organizations.models import LoyaltyEntry
from crm.pagination import PER_PAGE, Page, paginate
from ivr.config import LoyaltyConfig, LoyaltyTier

DEFAULT_TIER_NAMES = frozenset({N_("bronze"), N_("silver"), N_("gold"), N_("platinum")})
"""The configured defaults, translated where shown; any other name is shown as typed."""

HEAD_OFFICE = func.coalesce(Organization.main_organization_id, Organization.id)
"""The organization a row's points pool at: its main organization, or itself."""
_BRIDGED = (
    select(DialAttempt.id)
    .where(DialAttempt.request_id == Request.id, DialAttempt.outcome == CallOutcome.BRIDGED)
    .exists()
)
"""The client talked with a manager about the request (a dial was put through)."""
_CREDITED = select(LoyaltyEntry.id).where(LoyaltyEntry.request_id == Request.id).exists()


def tier_title(name: str) -> str:
    """A tier's name in the reader's language (a configured name of our own is shown as typed)."""
    return gettext(name) if name in DEFAULT_TIER_NAMES else name


@dataclass(frozen=True)
class Standing:
    """Where a head office stands: its points, its tier and what the next one needs."""

    organization_id: int
    organization_name: str
    points: int
    requests: int
    """Requests credited."""
    tier: LoyaltyTier
    next_tier: LoyaltyTier | None
    """None at the top tier."""

    @property
    def points_to_next(self) -> int | None:
        return None if self.next_tier is None else self.next_tier.points - self.points


@dataclass(frozen=True)
class HistoryEntry:
    request_number: str | None
    """None for a request of another record of the pool (a branch, or the head office)."""
    agent_id: int | None
    agent_name: str | None
    """None, like the number, outside the reader's own record: whoever joined a branch sees
    the pool's points, not who filed what elsewhere."""
    points: int
    credited_at: datetime


def _standing(
    settings: LoyaltyConfig, *, organization_id: int, name: str, points: int, requests: int
) -> Standing:
    reached = [tier for tier in settings.tiers if tier.points <= points]
    higher = [tier for tier in settings.tiers if tier.points > points]
    return Standing(
        organization_id=organization_id,
        organization_name=name,
        points=points,
        requests=requests,
        tier=reached[-1],
        next_tier=higher[0] if higher else None,
    )


async def accrue(session: AsyncSession, *, now: datetime, settings: LoyaltyConfig) -> int:
    """Credit up to `settings.batch_size` requests that reached their client and are not
    credited yet, each once ever (a unique request id: a concurrent pass inserts nothing
    twice); how many were credited now. Agents without an organization, or not yet confirmed
    in the one they joined, earn nothing (yet)."""
    due = (
        select(
            Request.id,
            HEAD_OFFICE,
            Request.agent_id,
            literal(settings.points_per_request, Integer()),
            literal(now, Timestamp),
        )
        .join(Agent, Agent.id == Request.agent_id)
        .join(Organization, Organization.id == Agent.organization_id)
        .where(_BRIDGED, ~_CREDITED, Agent.organization_confirmed.is_(True))
        .order_by(Request.id)
        .limit(settings.batch_size)
    )
    columns = ["request_id", "organization_id", "agent_id", "points", "created_at"]
    once = [LoyaltyEntry.request_id]
    statement: Executable
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql_insert(LoyaltyEntry).from_select(columns, due)
        statement = pg.on_conflict_do_nothing(index_elements=once).returning(LoyaltyEntry.id)
    else:
        lite = sqlite_insert(LoyaltyEntry).from_select(columns, due)
        statement = lite.on_conflict_do_nothing(index_elements=once).returning(LoyaltyEntry.id)
    return len((await session.execute(statement)).all())


async def head_office_of(session: AsyncSession, *, organization_id: int) -> Organization:
    """The organization whose points `organization_id`'s requests earn (itself if no branch)."""
    head_id = await session.scalar(select(HEAD_OFFICE).where(Organization.id == organization_id))
    head = None if head_id is None else await session.get(Organization, head_id)
    if head is None:
        raise NotFound(f"organization {organization_id}")
    return head


async def standing(
    session: AsyncSession, *, organization_id: int, settings: LoyaltyConfig
) -> Standing:
    """The points, tier and next tier of `organization_id`'s head office."""
    head = await head_office_of(session, organization_id=organization_id)
    points, requests = (
        await session.execute(
            select(func.coalesce(func.sum(LoyaltyEntry.points), 0), func.count())
            .select_from(LoyaltyEntry)
            .join(Organization, Organization.id == LoyaltyEntry.organization_id)
            .where(HEAD_OFFICE == head.id)
        )
    ).one()
    return _standing(
        settings, organization_id=head.id, name=head.name, points=points, requests=requests
    )


async def history(
    session: AsyncSession, *, organization_id: int, page: int = 1, per_page: int = PER_PAGE
) -> Page[HistoryEntry]:
    """The head office's credited requests, newest first; the number and the agent only of
    those filed in `organization_id` itself."""
    head = await head_office_of(session, organization_id=organization_id)
    query = (
        select(
            Request.number,
            Agent.id,
            Agent.name,
            LoyaltyEntry.points,
            LoyaltyEntry.created_at,
            Agent.organization_id,
        )
        .select_from(LoyaltyEntry)
        .join(Request, Request.id == LoyaltyEntry.request_id)
        .join(Agent, Agent.id == LoyaltyEntry.agent_id)
        .join(Organization, Organization.id == LoyaltyEntry.organization_id)
        .where(HEAD_OFFICE == head.id)
        .order_by(LoyaltyEntry.created_at.desc(), LoyaltyEntry.id.desc())
    )
    rows = await paginate(session, query, page=page, per_page=per_page, scalars=False)
    items = [
        HistoryEntry(*row[:5])
        if row[5] == organization_id
        else HistoryEntry(None, None, None, *row[3:5])
        for row in rows.items
    ]
    return Page(items=items, page=rows.page, per_page=rows.per_page, total=rows.total)


async def agent_organization(session: AsyncSession, *, actor: Actor) -> int | None:
    """The agent's own organization, if they have given it yet and are confirmed in it."""
    if actor.role is not Role.AGENT or actor.agent_id is None:
        raise Forbidden(_("this is for agents: their organization's points"))
    return await session.scalar(
        select(Agent.organization_id).where(
            Agent.id == actor.agent_id, Agent.organization_confirmed
        )
    )


async def list_standings(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: LoyaltyConfig,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[Standing]:
    """Every agents' head office (an organization that is no branch) with its points, the
    most first; partner companies earn none and are not listed."""
    require_admin(actor)
    credited = aliased(Organization)
    head_office = func.coalesce(credited.main_organization_id, credited.id)
    totals = (
        select(
            head_office.label("organization_id"),
            func.sum(LoyaltyEntry.points).label("points"),
            func.count().label("requests"),
        )
        .join(credited, credited.id == LoyaltyEntry.organization_id)
        .group_by(head_office)
        .subquery()
    )
    points = func.coalesce(totals.c.points, 0)
    query = (
        select(Organization.id, Organization.name, points, func.coalesce(totals.c.requests, 0))
        .outerjoin(totals, totals.c.organization_id == Organization.id)
        .where(
            Organization.main_organization_id.is_(None),
            or_(Organization.kind == OrganizationKind.AGENCY, totals.c.requests.is_not(None)),
        )
        .order_by(points.desc(), Organization.name, Organization.id)
    )
    rows = await paginate(session, query, page=page, per_page=per_page, scalars=False)
    items = [
        _standing(settings, organization_id=id_, name=name, points=total, requests=count)
        for id_, name, total, count in rows.items
    ]
    return Page(items=items, page=rows.page, per_page=rows.per_page, total=rows.total)
