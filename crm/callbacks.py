"""A client calling the service number back: which request, and which manager, if any.

Read on the first webhook of every caller who is no manager, so each lookup is indexed:
the client records with the caller's phone (`ix_clients_phone`), their open requests, and
the dials of the one request found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.directory import IN_SERVICE
from crm.enums import CallKind, CallOutcome, RequestStatus
from crm.models import Call, Client, DialAttempt, Manager, ManagerPhone, Organization, Request

MAX_DIALS_READ = 50
"""The newest dials of the one request read to choose whom to ring."""

_CALLED_ABOUT = (
    select(Request.id)
    .join(Client, Client.id == Request.client_id)
    .where(
        Client.phone == bindparam("phone"),
        Request.status == RequestStatus.OPEN,
        select(DialAttempt.id)
        .join(Call, Call.id == DialAttempt.call_id)
        .where(
            DialAttempt.request_id == Request.id,
            DialAttempt.started_at >= bindparam("since"),
            Call.kind == CallKind.MANAGER,
            Call.manager_id.is_not(None),
        )
        .exists(),
    )
    .limit(2)
)
"""Open requests of this phone's clients that a manager dialed lately: two say "several".
A client's own calls back never count here, or each would keep the window open."""
_REQUEST = (
    select(Request.number, Request.product, Organization.name.label("company"))
    .join(Organization, Organization.id == Request.organization_id)
    .where(Request.id == bindparam("request_id"))
)
_DIALS = (
    select(Call.manager_id, Call.kind, Call.caller, DialAttempt.outcome)
    .select_from(DialAttempt)
    .join(Call, Call.id == DialAttempt.call_id)
    .where(
        DialAttempt.request_id == bindparam("request_id"),
        DialAttempt.started_at >= bindparam("since"),
        Call.manager_id.is_not(None),
    )
    .order_by(DialAttempt.started_at.desc(), DialAttempt.id.desc())
    .limit(MAX_DIALS_READ)
)
_IS_CLIENT = select(Client.id).where(Client.phone == bindparam("phone")).limit(1)
_PHONES = (
    select(ManagerPhone.phone)
    .join(Manager, Manager.id == ManagerPhone.manager_id)
    .join(Organization, Organization.id == Manager.organization_id)
    .where(ManagerPhone.manager_id == bindparam("manager_id"), IN_SERVICE)
    .order_by(ManagerPhone.id)
)
"""The manager's phones that reach the line: none once the manager or company is gone."""


class NoCallback(StrEnum):
    STRANGER = "stranger"
    """The number is no client's."""
    NOTHING_OPEN = "nothing_open"
    """A client, with no open request a manager called about within the window (or the
    manager who did has no phone any more)."""
    SEVERAL = "several"
    """More than one open request was called about: the line cannot choose for the client."""


@dataclass(frozen=True)
class CallbackTarget:
    request_id: int
    request_number: str
    company: str
    product: str
    manager_id: int
    manager_phone: str


async def find_callback(
    db: AsyncConnection, *, phone: str, since: datetime
) -> CallbackTarget | NoCallback:
    """Where a client's call back goes: the one open request of theirs a manager dialed
    since `since`, to the manager who last talked with them about it since then (or, if none
    talked, who last called), on the phone that manager called from if it is still theirs."""
    found = list(await db.scalars(_CALLED_ABOUT, {"phone": phone, "since": since}))
    if not found:
        is_client = (await db.execute(_IS_CLIENT, {"phone": phone})).first() is not None
        return NoCallback.NOTHING_OPEN if is_client else NoCallback.STRANGER
    if len(found) > 1:
        return NoCallback.SEVERAL
    (request_id,) = found
    dials = (await db.execute(_DIALS, {"request_id": request_id, "since": since})).all()
    talked = (dial for dial in dials if dial.outcome is CallOutcome.BRIDGED)
    called = (dial for dial in dials if dial.kind is CallKind.MANAGER)
    chosen = next(talked, None) or next(called, None)
    if chosen is None:
        return NoCallback.NOTHING_OPEN
    phones = list(await db.scalars(_PHONES, {"manager_id": chosen.manager_id}))
    if not phones:
        return NoCallback.NOTHING_OPEN
    called_from = chosen.caller if chosen.kind is CallKind.MANAGER else None
    request = (await db.execute(_REQUEST, {"request_id": request_id})).one()
    return CallbackTarget(
        request_id=request_id,
        request_number=request.number,
        company=request.company,
        product=request.product,
        manager_id=chosen.manager_id,
        manager_phone=called_from if called_from in phones else phones[0],
    )
