"""The call log: one row per call, an event per webhook step, a row per dial of a client.

A call is finalized once: by its status callback, or as lost when Twilio never sent one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ScalarSelect, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    """The call's row, locked, created on its first webhook; a retried or simultaneous
    first webhook gets the same row (its stage tells: only a new row is still greeting)."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(Call)
        .values(
            call_sid=call_sid,
            caller=caller,
            manager_id=manager_id,
            stage=CallStage.GREETING,
            attempts=0,
            dials=0,
            started_at=now,
        )
        # A copy inserting at the same moment waits for the first one's commit here, then
        # inserts nothing and locks the committed row below.
        .on_conflict_do_nothing(index_elements=[Call.call_sid])
    )
    call = await get_call(session, call_sid=call_sid)
    if call is None:  # the row exists: the insert either made it or met it
        raise RuntimeError(f"call {call_sid} neither inserted nor found")
    return call


async def get_call(session: AsyncSession, *, call_sid: str) -> Call | None:
    """The call's row, locked for this transaction where the database can lock rows."""
    return await session.scalar(select(Call).where(Call.call_sid == call_sid).with_for_update())


def save_state(
    call: Call,
    *,
    stage: CallStage,
    attempts: int,
    dials: int,
    request_id: int | None,
    outcome: CallOutcome | None,
) -> None:
    """Keep the voice flow's state of the call on its row: the one place that writes it."""
    call.stage = stage
    call.attempts = attempts
    call.dials = dials
    call.request_id = request_id
    call.outcome = outcome


async def record_step(
    session: AsyncSession,
    call: Call,
    *,
    step: str,
    result: str,
    digits: str | None,
    now: datetime,
    **state: Any,
) -> None:
    """Keep a step's outcome: the call's next state (`save_state`'s fields), a new dial of the
    client when the step starts one, and the step's event."""
    starts_dial = state["stage"] is CallStage.DIALING and call.stage != CallStage.DIALING
    save_state(call, **state)
    if starts_dial and call.request_id is not None:
        await start_dial(session, call, request_id=call.request_id, now=now)
    await add_event(session, call, step=step, digits=digits, result=result, now=now)


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
    session.add(
        DialAttempt(
            call_id=call.id,
            request_id=request_id,
            started_at=now,
            client_accepted=False,
            talk_seconds=0,
        )
    )


async def current_dial(session: AsyncSession, call: Call) -> DialAttempt | None:
    """The call's latest dial while Twilio has not reported its result (a dial result is
    always about the latest dial: the flow dials again only after one).

    It may already carry an outcome: the status callback (or the lost-call sweep) closes a
    dial the caller left, and the dial result may still arrive after that.
    """
    dial = await session.scalar(
        select(DialAttempt)
        .where(DialAttempt.call_id == call.id)
        .order_by(DialAttempt.id.desc())
        .limit(1)
    )
    return dial if dial is not None and dial.dial_status is None else None


async def client_answered(session: AsyncSession, call: Call, *, now: datetime) -> None:
    """Note that the client answered and now hears the whisper (a new dial is not yet
    accepted; a whisper arriving after its answer must not take the acceptance back)."""
    await add_event(session, call, step="whisper", result="client_answered", now=now)


async def client_decided(
    session: AsyncSession, call: Call, *, accepted: bool, now: datetime
) -> None:
    """Keep on the current dial whether its client pressed a key at the whisper; once
    accepted it stays accepted (a replayed answer without a key changes nothing)."""
    dial = await current_dial(session, call)
    if dial is not None:
        dial.client_accepted = dial.client_accepted or accepted
    result = "accepted" if accepted else "not_accepted"
    await add_event(session, call, step="whisper_answer", result=result, now=now)


async def record_dial_result(
    session: AsyncSession,
    call: Call,
    *,
    dial: DialAttempt | None,
    outcome: CallOutcome | None,
    dial_status: str,
    talk_seconds: int,
    now: datetime,
) -> bool:
    """Whether the caller is still on the line; `dial` (the call's `current_dial`) keeps the
    result's facts.

    False when the status callback came first: the call's final state then stays as it is,
    except that a bridged conversation makes the call bridged, and the step is logged here.
    """
    bridged = outcome is CallOutcome.BRIDGED
    if dial is not None:
        dial.dial_status = dial_status
        # A conversation stays a conversation even when the status callback closed the dial
        # first; any other late result leaves the dial as the end of the call left it.
        if bridged or dial.outcome is None:
            dial.outcome = outcome
            dial.talk_seconds = talk_seconds if bridged else 0
    if call.ended_at is None:
        return True
    if bridged:
        call.outcome = CallOutcome.BRIDGED
    result = f"after_end:{outcome}" + (f":{talk_seconds}s" if bridged else "")
    await add_event(session, call, step="dial_result", result=result, now=now)
    return False


async def _close_open_dials(
    session: AsyncSession, call_ids: list[int], outcome: CallOutcome
) -> None:
    """Dials of these calls that have no outcome yet get `outcome`."""
    await session.execute(
        update(DialAttempt)
        .where(DialAttempt.call_id.in_(call_ids), DialAttempt.outcome.is_(None))
        .values(outcome=outcome)
    )


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
            started_at=now,
        )
        session.add(call)
        await session.flush()
    elif call.ended_at is not None:
        return False
    call.ended_at = now
    call.duration_seconds = duration
    if call.stage == CallStage.DIALING:
        await _close_open_dials(session, [call.id], CallOutcome.CALLER_HUNG_UP)
    if call.outcome is None or call.stage == CallStage.DIALING:
        call.outcome = CallOutcome.CALLER_HUNG_UP
    call.stage = CallStage.ENDED
    await add_event(session, call, step="status", result=status, now=now)
    return True


async def finalize_lost_calls(
    session: AsyncSession, *, now: datetime, older_than: timedelta
) -> int:
    """How many calls with no final status and no step for `older_than` it finalized as lost.

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
    stale = await session.scalars(
        select(Call)
        .where(Call.ended_at.is_(None), last_step < now - older_than)
        .order_by(Call.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    lost = list(stale)
    for call in lost:
        # The rule of a hangup (finalize_call): an outcome the call's steps found (bridged,
        # client busy, not found...) is what happened and stays; a call with none yet, or
        # cut off while dialing (whatever an earlier dial gave it), is lost. The "lost" step
        # records the missing status callback either way.
        if call.outcome is None or call.stage == CallStage.DIALING:
            call.outcome = CallOutcome.LOST
        call.stage = CallStage.ENDED
        call.ended_at = now
        await add_event(session, call, step="lost", result=call.outcome.value, now=now)
    if lost:
        await _close_open_dials(session, [call.id for call in lost], CallOutcome.LOST)
    return len(lost)


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
    query = (
        select(Call, Manager.name, Organization.name, Request.number, _talk_seconds())
        .outerjoin(Manager, Manager.id == Call.manager_id)
        .outerjoin(Organization, Organization.id == Manager.organization_id)
        .outerjoin(Request, Request.id == Call.request_id)
        .order_by(Call.started_at.desc(), Call.id.desc())
    )
    if outcome is not None:
        query = query.where(Call.outcome == outcome)
    result = await paginate(session, query, page=page, per_page=per_page, scalars=False)
    items = [
        CallLogRow(
            call=r[0],
            manager_name=r[1],
            organization_name=r[2],
            request_number=r[3],
            bridged_seconds=r[4],
        )
        for r in result.items
    ]
    return Page(items=items, page=result.page, per_page=result.per_page, total=result.total)
