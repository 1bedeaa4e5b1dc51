"""Who is calling, and what a typed request number means for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm.enums import RecordingPolicy, RequestStatus
from crm.lockout.guard import locked_until_of
from crm.models import Client, Manager, ManagerPhone, Organization, Request

IN_SERVICE = and_(ManagerPhone.is_active, Manager.is_active, Organization.is_active)
"""A phone reaches the line only while it, its manager and the company are all active."""

_MANAGER_BY_PHONE = (
    select(
        Manager.id,
        locked_until_of(bindparam("phone"), Manager.id).label("locked_until"),
        Organization.recording_policy,
    )
    .join(Organization, Organization.id == Manager.organization_id)
    .join(ManagerPhone, ManagerPhone.manager_id == Manager.id)
    .where(ManagerPhone.phone == bindparam("phone"), IN_SERVICE)
)
_LINE_ACCESS = (
    select(
        IN_SERVICE.label("active"),
        locked_until_of(bindparam("phone"), Manager.id).label("locked_until"),
    )
    .select_from(ManagerPhone)
    .join(Manager, Manager.id == ManagerPhone.manager_id)
    .join(Organization, Organization.id == Manager.organization_id)
    .where(ManagerPhone.phone == bindparam("phone"), Manager.id == bindparam("manager_id"))
)
_REQUEST = (
    select(Request.id, Request.status, Client.phone, Organization.recording_policy)
    .join(Client, Client.id == Request.client_id)
    .join(Organization, Organization.id == Request.organization_id)
    .join(Manager, Manager.organization_id == Request.organization_id)
    .where(Manager.id == bindparam("manager_id"))
)
_REQUEST_BY_NUMBER = _REQUEST.where(Request.number == bindparam("number"))
_REQUEST_BY_ID = _REQUEST.where(Request.id == bindparam("request_id"))


@dataclass(frozen=True)
class CallerManager:
    manager_id: int
    locked_until: datetime | None = None
    """The end of a lockout of this number or this manager (`crm.lockout`), if any."""
    recorded: bool = False
    """The manager's company records its conversations with clients."""

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class Access(StrEnum):
    """Whether a manager's call in progress may go on to look up and dial."""

    OPEN = "open"
    LOCKED = "locked"
    """Locked out for guessing numbers (`crm.lockout`)."""
    ENDED = "ended"
    """The phone, the manager or the company was deactivated since the call began."""


async def line_access(db: AsyncConnection, *, phone: str, manager_id: int, now: datetime) -> Access:
    """May the manager's call from `phone` go on: one indexed query before any lookup."""
    row = (await db.execute(_LINE_ACCESS, {"phone": phone, "manager_id": manager_id})).first()
    if row is None or not row.active:
        return Access.ENDED
    if row.locked_until is not None and row.locked_until > now:
        return Access.LOCKED
    return Access.OPEN


async def manager_in_service(db: AsyncConnection, *, manager_id: int) -> bool:
    """Whether the manager and their company are both active."""
    active = await db.scalar(
        select(and_(Manager.is_active, Organization.is_active))
        .join(Organization, Organization.id == Manager.organization_id)
        .where(Manager.id == manager_id)
    )
    return bool(active)


async def find_manager_by_phone(
    session: AsyncSession | AsyncConnection, *, phone: str
) -> CallerManager | None:
    """The manager one of whose numbers is `phone` (E.164), or None (also when the phone,
    the manager or the company is deactivated: an unknown caller)."""
    row = (await session.execute(_MANAGER_BY_PHONE, {"phone": phone})).first()
    if row is None:
        return None
    recorded = row.recording_policy is RecordingPolicy.ON
    return CallerManager(manager_id=row.id, locked_until=row.locked_until, recorded=recorded)


@dataclass(frozen=True)
class RequestTarget:
    request_id: int
    status: RequestStatus
    client_phone: str
    recorded: bool = False


async def find_request_for_manager(
    session: AsyncSession | AsyncConnection,
    *,
    manager_id: int,
    number: str | None = None,
    request_id: int | None = None,
) -> RequestTarget | None:
    """A request of the manager's own company by number or id, or None.

    Another company's request is never loaded: to the caller it does not exist.
    """
    if number is not None:
        found = await session.execute(
            _REQUEST_BY_NUMBER, {"manager_id": manager_id, "number": number}
        )
    elif request_id is not None:
        found = await session.execute(
            _REQUEST_BY_ID, {"manager_id": manager_id, "request_id": request_id}
        )
    else:
        raise ValueError("find_request_for_manager needs a number or a request_id")
    row = found.first()
    if row is None:
        return None
    return RequestTarget(
        request_id=row.id,
        status=row.status,
        client_phone=row.phone,
        recorded=row.recording_policy is RecordingPolicy.ON,
    )
