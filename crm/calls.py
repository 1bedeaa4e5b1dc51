"""The call log: one row per call, an event per webhook step, finalized by the status callback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.auth.service import Actor, require_admin
from crm.enums import CallOutcome, CallStage
from crm.models import Call, CallEvent, DialAttempt, Manager, Organization, Request
from crm.pagination import Page, paginate

FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


async def open_call(
    session: AsyncSession,
    *,
    call_sid: str,
    caller: str | None,
    manager_id: int | None,
    now: datetime,
) -> Call:
    """The call's row, created on its first webhook (a retried first webhook reuses it)."""
    call = await get_call(session, call_sid=call_sid)
    if call is None:
        call = Call(
            call_sid=call_sid,
            caller=caller,
            manager_id=manager_id,
            stage=CallStage.GREETING,
            attempts=0,
            dials=0,
            client_accepted=False,
            bridged_seconds=0,
            started_at=now,
        )
        session.add(call)
        await session.flush()
    return call


async def get_call(session: AsyncSession, *, call_sid: str) -> Call | None:
    """The call's row, locked for this transaction where the database can lock rows."""
    return await session.scalar(select(Call).where(Call.call_sid == call_sid).with_for_update())


async def add_event(
    session: AsyncSession,
    call: Call,
    *,
    step: str,
    result: str,
    now: datetime,
    digits: str | None = None,
) -> None:
    """Append one audit row for a webhook step of `call`."""
    session.add(CallEvent(call_id=call.id, at=now, step=step, digits=digits, result=result))


async def start_dial(session: AsyncSession, call: Call, *, request_id: int, now: datetime) -> None:
    """The call dials the client of `request_id`: one line of that request's history."""
    session.add(DialAttempt(call_id=call.id, request_id=request_id, started_at=now, talk_seconds=0))


async def finish_dial(
    session: AsyncSession, call: Call, *, outcome: CallOutcome, talk_seconds: int = 0
) -> None:
    """Give the call's latest open dial its outcome (nothing if none is open)."""
    attempt = await session.scalar(
        select(DialAttempt)
        .where(DialAttempt.call_id == call.id, DialAttempt.outcome.is_(None))
        .order_by(DialAttempt.id.desc())
        .limit(1)
    )
    if attempt is not None:
        attempt.outcome = outcome
        attempt.talk_seconds = talk_seconds


async def finalize_call(
    session: AsyncSession,
    *,
    call_sid: str,
    status: str,
    duration: int | None,
    caller: str | None,
    now: datetime,
) -> bool:
    """Apply a final status callback once; duplicates and non-final statuses change nothing."""
    if status not in FINAL_STATUSES:
        return False
    call = await get_call(session, call_sid=call_sid)
    if call is None:
        call = Call(
            call_sid=call_sid,
            caller=caller,
            stage=CallStage.ENDED,
            attempts=0,
            dials=0,
            client_accepted=False,
            bridged_seconds=0,
            started_at=now,
        )
        session.add(call)
        await session.flush()
    elif call.ended_at is not None:
        return False
    call.ended_at = now
    call.duration_seconds = duration
    if call.stage == CallStage.DIALING:
        await finish_dial(session, call, outcome=CallOutcome.CALLER_HUNG_UP)
    if call.outcome is None or call.stage == CallStage.DIALING:
        call.outcome = CallOutcome.CALLER_HUNG_UP
    call.stage = CallStage.ENDED
    await add_event(session, call, step="status", result=status, now=now)
    return True


@dataclass(frozen=True)
class CallLogRow:
    call: Call
    manager_name: str | None
    organization_name: str | None
    request_number: str | None


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
    query = (
        select(Call, Manager.name, Organization.name, Request.number)
        .outerjoin(Manager, Manager.id == Call.manager_id)
        .outerjoin(Organization, Organization.id == Manager.organization_id)
        .outerjoin(Request, Request.id == Call.request_id)
        .order_by(Call.started_at.desc(), Call.id.desc())
    )
    if outcome is not None:
        query = query.where(Call.outcome == outcome)
    result = await paginate(session, query, page=page, per_page=per_page, scalars=False)
    items = [
        CallLogRow(call=r[0], manager_name=r[1], organization_name=r[2], request_number=r[3])
        for r in result.items
    ]
    return Page(items=items, page=result.page, per_page=result.per_page, total=result.total)
