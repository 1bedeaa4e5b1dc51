"""The admin's call log: every call, newest first, with its manager, company and talk time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.auth.service import Actor, require_admin
from crm.enums import CallOutcome, OrganizationKind
from crm.models import Call, DialAttempt, Manager, Organization, Request
from crm.pagination import Page, page_of_ids
from crm.sorting import Sort, Sorting

SORTS = Sorting(
    columns={
        "started": (Call.started_at,),
        "caller": (Call.caller,),
        "duration": (Call.duration_seconds,),
    },
    tie=Call.id,
    default=Sort("started", descending=True),
)
"""What the call log sorts by: each column indexed with the id (crm/models.py)."""


@dataclass(frozen=True)
class CallFilters:
    """Which calls the log shows; `since` and `until` are instants (until excluded)."""

    outcome: CallOutcome | None = None
    organization_id: int | None = None
    manager_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.outcome is not None:
            found.append(Call.outcome == self.outcome)
        if self.manager_id is not None:
            found.append(Call.manager_id == self.manager_id)
        if self.organization_id is not None:
            company = select(Manager.id).where(Manager.organization_id == self.organization_id)
            found.append(Call.manager_id.in_(company))
        if self.since is not None:
            found.append(Call.started_at >= self.since)
        if self.until is not None:
            found.append(Call.started_at < self.until)
        return found


def day_range(
    first: date | None, last: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """From the start of `first` to the end of `last` (both days included) on `zone`'s clock."""
    since = datetime.combine(first, time.min, tzinfo=zone) if first else None
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone) if last else None
    return since, until


def _talk_seconds() -> ScalarSelect[int]:
    """A call's talk time: the sum of its dials' (0 without any)."""
    return (
        select(func.coalesce(func.sum(DialAttempt.talk_seconds), 0))
        .where(DialAttempt.call_id == Call.id)
        .correlate(Call)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class CallLogRow:
    call: Call
    manager_name: str | None
    organization_name: str | None
    request_number: str | None
    bridged_seconds: int


async def list_calls(
    session: AsyncSession,
    *,
    actor: Actor,
    filters: CallFilters | None = None,
    sort: Sort | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[CallLogRow]:
    """The calls `filters` choose (every one), in `sort`'s order (newest first)."""
    require_admin(actor)
    order = SORTS.order_by(sort)
    conditions = (filters or CallFilters()).conditions()
    ids, total = await page_of_ids(
        session,
        select(Call.id).where(*conditions).order_by(*order),
        total=select(func.count()).select_from(Call).where(*conditions),
        page=page,
        per_page=per_page,
    )
    rows = await session.execute(
        select(Call, Manager.name, Organization.name, Request.number, _talk_seconds())
        .outerjoin(Manager, Manager.id == Call.manager_id)
        .outerjoin(Organization, Organization.id == Manager.organization_id)
        .outerjoin(Request, Request.id == Call.request_id)
        .where(Call.id.in_(ids))
        .order_by(*order)
    )
    items = [
        CallLogRow(
            call=r[0],
            manager_name=r[1],
            organization_name=r[2],
            request_number=r[3],
            bridged_seconds=r[4],
        )
        for r in rows
    ]
    return Page(items=items, page=page, per_page=per_page, total=total)


@dataclass(frozen=True)
class ManagerChoice:
    id: int
    name: str
    organization_name: str


async def manager_choices(
    session: AsyncSession, *, actor: Actor, organization_id: int | None = None
) -> list[ManagerChoice]:
    """Every partner company's manager (deactivated ones too: their calls stay), by name."""
    require_admin(actor)
    query = (
        select(Manager.id, Manager.name, Organization.name)
        .join(Organization, Organization.id == Manager.organization_id)
        .where(Organization.kind == OrganizationKind.PARTNER)
        .order_by(Manager.name, Manager.id)
    )
    if organization_id is not None:
        query = query.where(Manager.organization_id == organization_id)
    rows = await session.execute(query)
    return [ManagerChoice(id=r[0], name=r[1], organization_name=r[2]) for r in rows]


async def company_choices(session: AsyncSession, *, actor: Actor) -> list[Organization]:
    """Every partner company (deactivated ones too: their calls stay), by name."""
    require_admin(actor)
    query = (
        select(Organization)
        .where(Organization.kind == OrganizationKind.PARTNER)
        .order_by(Organization.name, Organization.id)
    )
    return list(await session.scalars(query))
