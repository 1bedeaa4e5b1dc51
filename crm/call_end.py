"""How a call ends: once, by its status callback, or as lost when Twilio never sent one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.calls import CALL_COLUMNS, add_event, call_row, get_call, open_call
from crm.enums import CallOutcome, CallStage
from crm.models import Call, CallEvent, DialAttempt

FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
RINGING = frozenset({CallStage.DIALING, CallStage.CALLBACK})
"""Stages in which the call's latest dial may still be ringing or talking."""
_END_CALL = (
    update(Call)
    .where(Call.id == bindparam("b_id"))
    .values(
        ended_at=bindparam("b_ended_at"),
        duration_seconds=bindparam("b_duration"),
        outcome=bindparam("b_outcome"),
        stage=CallStage.ENDED,
    )
)


async def _close_open_dials(db: AsyncConnection, call_ids: list[int], outcome: CallOutcome) -> None:
    """Dials of these calls that have no outcome yet get `outcome`."""
    await db.execute(
        update(DialAttempt)
        .where(DialAttempt.call_id.in_(call_ids), DialAttempt.outcome.is_(None))
        .values(outcome=outcome)
    )


async def finalize_call(
    db: AsyncConnection,
    *,
    call_sid: str,
    status: str,
    duration: int | None,
    caller: str | None,
    now: datetime,
) -> CallOutcome | None:
    """Apply a final status callback once: the call's outcome; None for a duplicate or a
    status that is not final, which change nothing."""
    if status not in FINAL_STATUSES:
        return None
    call = await get_call(db, call_sid=call_sid)
    if call is None:
        # A status with no first webhook before it: the call is kept, ended.
        call = await open_call(
            db, call_sid=call_sid, caller=caller, manager_id=None, now=now, stage=CallStage.ENDED
        ) or await get_call(db, call_sid=call_sid)
        if call is None:
            raise RuntimeError(f"call {call_sid} neither inserted nor found")
    if call.ended_at is not None:
        return None
    if call.stage in RINGING:
        await _close_open_dials(db, [call.id], CallOutcome.CALLER_HUNG_UP)
    outcome = call.outcome
    if outcome is None or call.stage in RINGING:
        outcome = CallOutcome.CALLER_HUNG_UP
    await db.execute(
        _END_CALL,
        {"b_id": call.id, "b_ended_at": now, "b_duration": duration, "b_outcome": outcome},
    )
    await add_event(db, call, step="status", result=status, now=now)
    return outcome


async def finalize_lost_calls(
    db: AsyncConnection, *, now: datetime, older_than: timedelta
) -> list[CallOutcome]:
    """The outcomes of the calls with no final status and no step for `older_than`, which it
    finalized (as lost unless a step found what happened).

    Safe in several processes at once: each call is claimed under a row lock (PostgreSQL
    skips rows another run or a live webhook holds; SQLite transactions begin IMMEDIATE).
    """
    last_step = func.coalesce(
        select(func.max(CallEvent.at))
        .where(CallEvent.call_id == Call.id)
        .correlate(Call)
        .scalar_subquery(),
        Call.started_at,
    )
    stale = await db.execute(
        select(*CALL_COLUMNS)
        .where(Call.ended_at.is_(None), last_step < now - older_than)
        .order_by(Call.id)
        .with_for_update(skip_locked=True)
    )
    lost = [call_row(row) for row in stale]
    outcomes = []
    for call in lost:
        # The rule of a hangup (finalize_call): an outcome the call's steps found (bridged,
        # client busy, not found...) is what happened and stays; a call with none yet, or
        # cut off while dialing (whatever an earlier dial gave it), is lost. The "lost" step
        # records the missing status callback either way.
        outcome = call.outcome
        if outcome is None or call.stage in RINGING:
            outcome = CallOutcome.LOST
        await db.execute(
            update(Call)
            .where(Call.id == call.id)
            .values(outcome=outcome, stage=CallStage.ENDED, ended_at=now)
        )
        await add_event(db, call, step="lost", result=outcome.value, now=now)
        outcomes.append(outcome)
    if lost:
        await _close_open_dials(db, [call.id for call in lost], CallOutcome.LOST)
    return outcomes
