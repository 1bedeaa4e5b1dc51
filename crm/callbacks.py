"""A client calling the service number back: which request, and which manager, if any.

Read on the first webhook of every caller who is no manager, so it is one indexed query:
the client records with the caller's phone, their open requests' dials since the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.enums import CallKind, CallOutcome, RequestStatus
from crm.models import Call, Client, DialAttempt, ManagerPhone, Organization, Request

MAX_DIALS_READ = 50
"""The newest dials read per caller: enough to tell one request from several."""

_DIALS = (
    select(
        Request.id.label("request_id"),
        Request.number,
        Request.product,
        Organization.name.label("company"),
        Call.manager_id,
        Call.kind,
        Call.caller,
        DialAttempt.outcome,
    )
    .select_from(DialAttempt)
    .join(Request, Request.id == DialAttempt.request_id)
    .join(Client, Client.id == Request.client_id)
    .join(Organization, Organization.id == Request.organization_id)
    .join(Call, Call.id == DialAttempt.call_id)
    .where(
        Client.phone == bindparam("phone"),
        Request.status == RequestStatus.OPEN,
        DialAttempt.started_at >= bindparam("since"),
        Call.manager_id.is_not(None),
    )
    .order_by(DialAttempt.started_at.desc(), DialAttempt.id.desc())
    .limit(MAX_DIALS_READ)
)
_IS_CLIENT = select(Client.id).where(Client.phone == bindparam("phone")).limit(1)
_PHONES = (
    select(ManagerPhone.phone)
    .where(ManagerPhone.manager_id == bindparam("manager_id"))
    .order_by(ManagerPhone.id)
)


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
    since `since`, to the manager who last talked with them about it (or, if none talked,
    who last called), on the phone that manager called from if it is still theirs."""
    dials = (await db.execute(_DIALS, {"phone": phone, "since": since})).all()
    if not dials:
        is_client = (await db.execute(_IS_CLIENT, {"phone": phone})).first() is not None
        return NoCallback.NOTHING_OPEN if is_client else NoCallback.STRANGER
    if len({dial.request_id for dial in dials}) > 1:
        return NoCallback.SEVERAL
    chosen = next((dial for dial in dials if dial.outcome is CallOutcome.BRIDGED), dials[0])
    phones = list(await db.scalars(_PHONES, {"manager_id": chosen.manager_id}))
    if not phones:
        return NoCallback.NOTHING_OPEN
    called_from = chosen.caller if chosen.kind is CallKind.MANAGER else None
    return CallbackTarget(
        request_id=chosen.request_id,
        request_number=chosen.number,
        company=chosen.company,
        product=chosen.product,
        manager_id=chosen.manager_id,
        manager_phone=called_from if called_from in phones else phones[0],
    )
