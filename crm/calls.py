"""The call log: one row per call, an event per webhook step, finalized by the status callback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.enums import CallOutcome
from crm.models import Call, CallEvent, DialAttempt

FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


async def open_call(
    session: AsyncSession, *, call_sid: str, caller: str | None, manager_id: int | None,
    now: datetime,
) -> Call:
    """The call's row, created on its first webhook (a retried first webhook reuses it)."""
    call = await get_call(session, call_sid=call_sid)
    if call is None:
        call = Call(call_sid=call_sid, caller=caller, manager_id=manager_id, stage="greeting",
                    attempts=0, dials=0, client_accepted=False, bridged_seconds=0,
                    started_at=now)
        session.add(call)
        await session.flush()
    return call


async def get_call(session: AsyncSession, *, call_sid: str) -> Call | None:
    """The call's row, locked for this transaction where the database can lock rows."""
    return await session.scalar(
        select(Call).where(Call.call_sid == call_sid).with_for_update()
    )


async def add_event(
    session: AsyncSession, call: Call, *, step: str, result: str, now: datetime,
    digits: str | None = None,
) -> None:
    """Append one audit row for a webhook step of `call`."""
    session.add(CallEvent(call_id=call.id, at=now, step=step, digits=digits, result=result))


async def start_dial(session: AsyncSession, call: Call, *, request_id: int,
                     now: datetime) -> None:
    """The call dials the client of `request_id`: one line of that request's history."""
    session.add(DialAttempt(call_id=call.id, request_id=request_id, started_at=now,
                            talk_seconds=0))


async def finish_dial(session: AsyncSession, call: Call, *, outcome: CallOutcome,
                      talk_seconds: int = 0) -> None:
    """Give the call's latest open dial its outcome (nothing if none is open)."""
    attempt = await session.scalar(
        select(DialAttempt).where(DialAttempt.call_id == call.id, DialAttempt.outcome.is_(None))
        .order_by(DialAttempt.id.desc()).limit(1))
    if attempt is not None:
        attempt.outcome = outcome
        attempt.talk_seconds = talk_seconds


async def finalize_call(
    session: AsyncSession, *, call_sid: str, status: str, duration: int | None,
    caller: str | None, now: datetime,
) -> bool:
    """Apply a final status callback once; duplicates and non-final statuses change nothing."""
    if status not in FINAL_STATUSES:
        return False
    call = await get_call(session, call_sid=call_sid)
    if call is None:
        call = Call(call_sid=call_sid, caller=caller, stage="ended", attempts=0, dials=0,
                    client_accepted=False, bridged_seconds=0, started_at=now)
        session.add(call)
        await session.flush()
    elif call.ended_at is not None:
        return False
    call.ended_at = now
    call.duration_seconds = duration
    if call.stage == "dialing":
        await finish_dial(session, call, outcome=CallOutcome.CALLER_HUNG_UP)
    if call.outcome is None or call.stage == "dialing":
        call.outcome = CallOutcome.CALLER_HUNG_UP
    call.stage = "ended"
    await add_event(session, call, step="status", result=status, now=now)
    return True
