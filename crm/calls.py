"""A call's row on the hot path: one row per call, an event per webhook step, a row per dial.

Every webhook runs here, so these are Core statements built once, each step taking as few
round trips as it needs. How a call ends is `crm/call_end.py`; the admin's list is
`crm/call_log.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.enums import CallKind, CallOutcome, CallStage
from crm.models import Call, CallEvent, DialAttempt


@dataclass
class CallRow:
    """A call's row as the flow and the handlers need it."""

    id: int
    call_sid: str
    kind: CallKind
    caller: str | None
    manager_id: int | None
    recorded: bool
    request_id: int | None
    stage: CallStage
    attempts: int
    dials: int
    outcome: CallOutcome | None
    ended_at: datetime | None


@dataclass(frozen=True)
class DialRow:
    """The facts of one dial of the client so far."""

    id: int
    client_accepted: bool
    outcome: CallOutcome | None
    dial_status: str | None
    recorded: bool = False


CALL_COLUMNS = (
    Call.id,
    Call.call_sid,
    Call.kind,
    Call.caller,
    Call.manager_id,
    Call.recorded,
    Call.request_id,
    Call.stage,
    Call.attempts,
    Call.dials,
    Call.outcome,
    Call.ended_at,
)
_GET_CALL = select(*CALL_COLUMNS).where(Call.call_sid == bindparam("sid")).with_for_update()
_SAVE_STATE = (
    update(Call)
    .where(Call.id == bindparam("b_id"))
    .values(
        stage=bindparam("b_stage"),
        attempts=bindparam("b_attempts"),
        dials=bindparam("b_dials"),
        request_id=bindparam("b_request_id"),
        outcome=bindparam("b_outcome"),
    )
)
_ADD_EVENT = insert(CallEvent)
_START_DIAL = insert(DialAttempt)
_LATEST_DIAL = (
    select(
        DialAttempt.id,
        DialAttempt.client_accepted,
        DialAttempt.outcome,
        DialAttempt.dial_status,
        DialAttempt.recorded,
    )
    .where(DialAttempt.call_id == bindparam("call_id"))
    .order_by(DialAttempt.id.desc())
    .limit(1)
)


_OPENED = (
    "call_sid",
    "kind",
    "recorded",
    "caller",
    "manager_id",
    "stage",
    "attempts",
    "dials",
    "request_id",
    "outcome",
    "started_at",
)
_OPEN_CALL = (
    text(
        f"INSERT INTO calls ({', '.join(_OPENED)})"
        f" VALUES ({', '.join(':' + name for name in _OPENED)})"
        " ON CONFLICT (call_sid) DO NOTHING"
        f" RETURNING {', '.join(column.key for column in CALL_COLUMNS)}"
    )
    .bindparams(*(bindparam(name, type_=Call.__table__.c[name].type) for name in _OPENED))
    .columns(*CALL_COLUMNS)
)
"""The INSERT of a call's first webhook: a row, or nothing when it exists. Written as text
(the same on both databases) because SQLAlchemy never caches its dialects' ON CONFLICT
inserts: compiled again on every call, it cost a first webhook a tenth of its time."""
_SET_OUTCOME = (
    update(Call).where(Call.id == bindparam("b_id")).values(outcome=bindparam("b_outcome"))
)
_ACCEPT_DIAL = (
    update(DialAttempt).where(DialAttempt.id == bindparam("b_id")).values(client_accepted=True)
)
_DIAL_STATUS = (
    update(DialAttempt)
    .where(DialAttempt.id == bindparam("b_id"))
    .values(dial_status=bindparam("b_status"))
)
_DIAL_RESULT = (
    update(DialAttempt)
    .where(DialAttempt.id == bindparam("b_id"))
    .values(
        dial_status=bindparam("b_status"),
        outcome=bindparam("b_outcome"),
        talk_seconds=bindparam("b_talk"),
    )
)


def call_row(row: Row) -> CallRow:
    return CallRow(
        id=row.id,
        call_sid=row.call_sid,
        kind=CallKind(row.kind),
        caller=row.caller,
        manager_id=row.manager_id,
        recorded=row.recorded,
        request_id=row.request_id,
        stage=CallStage(row.stage),
        attempts=row.attempts,
        dials=row.dials,
        outcome=row.outcome,
        ended_at=row.ended_at,
    )


async def open_call(
    db: AsyncConnection,
    *,
    call_sid: str,
    caller: str | None,
    manager_id: int | None,
    now: datetime,
    stage: CallStage,
    attempts: int = 0,
    dials: int = 0,
    request_id: int | None = None,
    outcome: CallOutcome | None = None,
    kind: CallKind = CallKind.MANAGER,
    recorded: bool = False,
) -> CallRow | None:
    """A new call's row, made with the state of its first step; None when a row with this
    CallSid exists already (a retried or simultaneous first webhook, or a status first):
    the copy inserting at the same moment waits for the first one's commit, then inserts
    nothing."""
    inserted = await db.execute(
        _OPEN_CALL,
        {
            "call_sid": call_sid,
            "kind": kind,
            "recorded": recorded,
            "caller": caller,
            "manager_id": manager_id,
            "stage": stage,
            "attempts": attempts,
            "dials": dials,
            "request_id": request_id,
            "outcome": outcome,
            "started_at": now,
        },
    )
    row = inserted.first()
    return None if row is None else call_row(row)


async def get_call(db: AsyncConnection, *, call_sid: str) -> CallRow | None:
    """The call's row, locked for this transaction where the database can lock rows."""
    row = (await db.execute(_GET_CALL, {"sid": call_sid})).first()
    return None if row is None else call_row(row)


async def save_state(
    db: AsyncConnection,
    call: CallRow,
    *,
    stage: CallStage,
    attempts: int,
    dials: int,
    request_id: int | None,
    outcome: CallOutcome | None,
) -> None:
    """Keep the voice flow's state of the call on its row: the one place that writes it."""
    await db.execute(
        _SAVE_STATE,
        {
            "b_id": call.id,
            "b_stage": stage,
            "b_attempts": attempts,
            "b_dials": dials,
            "b_request_id": request_id,
            "b_outcome": outcome,
        },
    )
    call.stage, call.attempts, call.dials = CallStage(stage), attempts, dials
    call.request_id, call.outcome = request_id, outcome


async def record_step(
    db: AsyncConnection,
    call: CallRow,
    *,
    step: str,
    result: str,
    digits: str | None,
    now: datetime,
    stage: CallStage,
    attempts: int,
    dials: int,
    request_id: int | None,
    outcome: CallOutcome | None,
    dial_recorded: bool = False,
) -> None:
    """Keep a step's outcome: the call's next state, a new dial of the client when the step
    starts one (`dial_recorded`: its <Dial> records), and the step's event."""
    starts_dial = stage is CallStage.DIALING and call.stage != CallStage.DIALING
    await save_state(
        db,
        call,
        stage=stage,
        attempts=attempts,
        dials=dials,
        request_id=request_id,
        outcome=outcome,
    )
    if starts_dial and call.request_id is not None:
        await start_dial(db, call, request_id=call.request_id, now=now, recorded=dial_recorded)
    await add_event(db, call, step=step, digits=digits, result=result, now=now)


async def add_event(
    db: AsyncConnection,
    call: CallRow,
    *,
    step: str,
    result: str,
    now: datetime,
    digits: str | None = None,
) -> None:
    """Append one audit row for a webhook step of `call`."""
    await db.execute(
        _ADD_EVENT,
        {"call_id": call.id, "at": now, "step": step, "digits": digits, "result": result},
    )


async def start_dial(
    db: AsyncConnection,
    call: CallRow,
    *,
    request_id: int,
    now: datetime,
    recorded: bool = False,
) -> None:
    """The call dials the client of `request_id`: one line of that request's history."""
    await db.execute(
        _START_DIAL,
        {
            "call_id": call.id,
            "request_id": request_id,
            "started_at": now,
            "client_accepted": False,
            "recorded": recorded,
            "talk_seconds": 0,
        },
    )


async def current_dial(db: AsyncConnection, call: CallRow) -> DialRow | None:
    """The call's latest dial while Twilio has not reported its result (a dial result is
    always about the latest dial: the flow dials again only after one).

    It may already carry an outcome: the status callback (or the lost-call sweep) closes a
    dial the caller left, and the dial result may still arrive after that.
    """
    row = (await db.execute(_LATEST_DIAL, {"call_id": call.id})).first()
    if row is None or row.dial_status is not None:
        return None
    return DialRow(row.id, row.client_accepted, row.outcome, row.dial_status, row.recorded)


async def client_answered(db: AsyncConnection, call: CallRow, *, now: datetime) -> None:
    """Note that the client answered and now hears the whisper (a new dial is not yet
    accepted; a whisper arriving after its answer must not take the acceptance back)."""
    await add_event(db, call, step="whisper", result="client_answered", now=now)


async def client_decided(
    db: AsyncConnection, call: CallRow, *, accepted: bool, now: datetime
) -> bool:
    """Keep on the current dial whether its client pressed a key at the whisper; once
    accepted it stays accepted (a replayed answer without a key changes nothing). Whether a
    dial was waiting for the answer (False: a replay after the dial's result)."""
    dial = await current_dial(db, call)
    if dial is not None and accepted and not dial.client_accepted:
        await db.execute(_ACCEPT_DIAL, {"b_id": dial.id})
    result = "accepted" if accepted else "not_accepted"
    await add_event(db, call, step="whisper_answer", result=result, now=now)
    return dial is not None


async def record_dial_result(
    db: AsyncConnection,
    call: CallRow,
    *,
    dial: DialRow | None,
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
        # A conversation stays a conversation even when the status callback closed the dial
        # first; any other late result leaves the dial as the end of the call left it.
        if bridged or dial.outcome is None:
            facts = {"b_outcome": outcome, "b_talk": talk_seconds if bridged else 0}
            await db.execute(_DIAL_RESULT, {"b_id": dial.id, "b_status": dial_status, **facts})
        else:
            await db.execute(_DIAL_STATUS, {"b_id": dial.id, "b_status": dial_status})
    if call.ended_at is None:
        return True
    if bridged:
        await db.execute(update(Call).where(Call.id == call.id).values(outcome=CallOutcome.BRIDGED))
        call.outcome = CallOutcome.BRIDGED
    result = f"after_end:{outcome}" + (f":{talk_seconds}s" if bridged else "")
    await add_event(db, call, step="dial_result", result=result, now=now)
    return False
