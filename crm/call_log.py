"""The admin's call log: every call, newest first, with its manager, company and talk time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.auth.service import Actor, require_admin
from crm.enums import CallOutcome
from crm.models import Call, DialAttempt, Manager, Organization, Request
from crm.pagination import Page, page_of_ids


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
    outcome: CallOutcome | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[CallLogRow]:
    """Every call, newest first, optionally of one outcome."""
    require_admin(actor)
    newest_first = (Call.started_at.desc(), Call.id.desc())
    filters = [] if outcome is None else [Call.outcome == outcome]
    ids, total = await page_of_ids(
        session,
        select(Call.id).where(*filters).order_by(*newest_first),
        total=select(func.count()).select_from(Call).where(*filters),
        page=page,
        per_page=per_page,
    )
    rows = await session.execute(
        select(Call, Manager.name, Organization.name, Request.number, _talk_seconds())
        .outerjoin(Manager, Manager.id == Call.manager_id)
        .outerjoin(Organization, Organization.id == Manager.organization_id)
        .outerjoin(Request, Request.id == Call.request_id)
        .where(Call.id.in_(ids))
        .order_by(*newest_first)
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
