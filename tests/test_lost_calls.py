"""Calls Twilio never finalized: after a long silence they end as lost, exactly once."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crm.call_end import finalize_call, finalize_lost_calls
from crm.calls import (
    add_event,
    current_dial,
    open_call,
    record_dial_result,
    save_state,
    start_dial,
)
from crm.enums import CallOutcome, CallStage
from crm.models import Call, CallEvent, Request
from ivr.app import create_app
from ivr.background import run_jobs
from ivr.flows.manager_call import CallState
from ivr.simulator import new_sid
from tests.helpers import ANNA, call_dials, call_row, call_steps, open_polis, signed_post, verbs

pytest_plugins = ("tests.crm_fixtures",)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LOST_AFTER = timedelta(hours=2)


DIAL_STATUS = {CallOutcome.BRIDGED: "completed", CallOutcome.CLIENT_BUSY: "busy"}


async def _call(
    sessions,
    demo,
    *,
    started: timedelta,
    last_step: timedelta | None = None,
    state: CallState | None = None,
    dials: tuple[CallOutcome | None, ...] = (),
) -> str:
    """A call started `started` before NOW whose last step was `last_step` before NOW.

    `dials` are its dials of the client, each with the outcome its dial result gave it
    (None: still waiting for it).
    """
    sid = new_sid()
    number = open_polis(demo)["number"]
    async with sessions.begin() as session:
        request_id = await session.scalar(select(Request.id).where(Request.number == number))
        db = await session.connection()
        call = await open_call(
            db,
            call_sid=sid,
            caller=ANNA,
            manager_id=None,
            now=NOW - started,
            stage=CallStage.GREETING,
        )
        assert call is not None
        for outcome in dials:
            await start_dial(db, call, request_id=request_id, now=NOW - started)
            if outcome is not None:
                await record_dial_result(
                    db,
                    call,
                    dial=await current_dial(db, call),
                    outcome=outcome,
                    dial_status=DIAL_STATUS[outcome],
                    talk_seconds=30 if outcome is CallOutcome.BRIDGED else 0,
                    now=NOW - started,
                )
        if state is not None:
            await save_state(db, call, **asdict(state))
        if last_step is not None:
            await add_event(db, call, step="number", result="dialing", now=NOW - last_step)
    return sid


async def _sweep(sessions, *, now: datetime = NOW) -> int:
    async with sessions.begin() as session:
        db = await session.connection()
        return len(await finalize_lost_calls(db, now=now, older_than=LOST_AFTER))


async def _lost_events(sessions) -> dict[int, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(CallEvent.call_id, func.count())
            .where(CallEvent.step == "lost")
            .group_by(CallEvent.call_id)
        )
        return dict(rows.all())


async def test_a_call_silent_for_hours_is_lost_and_a_recent_one_is_not(sessions, demo):
    awaiting = CallState(stage=CallStage.AWAITING_NUMBER)
    stale = await _call(sessions, demo, started=timedelta(hours=4), last_step=timedelta(hours=3))
    recent = await _call(
        sessions, demo, started=timedelta(hours=4), last_step=timedelta(minutes=1), state=awaiting
    )
    just_started = await _call(sessions, demo, started=timedelta(minutes=1))
    assert await _sweep(sessions) == 1
    call = await call_row(sessions, stale)
    assert (call.stage, call.outcome, call.ended_at) == (CallStage.ENDED, CallOutcome.LOST, NOW)
    assert (await call_steps(sessions, stale))[-1] == ("lost", "lost")
    for sid in (recent, just_started):
        untouched = await call_row(sessions, sid)
        assert (untouched.ended_at, untouched.outcome) == (None, None), sid
        assert ("lost", "lost") not in await call_steps(sessions, sid)


async def test_a_call_with_no_step_counts_from_its_start(sessions, demo):
    sid = await _call(sessions, demo, started=timedelta(hours=3))
    assert await _sweep(sessions) == 1
    assert (await call_row(sessions, sid)).outcome is CallOutcome.LOST


async def test_an_ended_call_is_untouched(sessions, demo):
    sid = await _call(sessions, demo, started=timedelta(hours=5), last_step=timedelta(hours=5))
    async with sessions.begin() as session:
        await finalize_call(
            await session.connection(),
            call_sid=sid,
            status="completed",
            duration=40,
            caller=ANNA,
            now=NOW - timedelta(hours=4),
        )
    before = await call_row(sessions, sid)
    assert await _sweep(sessions) == 0
    after = await call_row(sessions, sid)
    assert (after.ended_at, after.outcome, after.duration_seconds) == (
        before.ended_at,
        before.outcome,
        40,
    )
    assert [step for step, _ in await call_steps(sessions, sid)] == ["number", "status"]


async def test_a_call_cut_off_mid_dial_is_lost_with_its_open_dial(sessions, demo):
    retry = CallState(stage=CallStage.DIALING, attempts=1, dials=2, outcome=CallOutcome.CLIENT_BUSY)
    sid = await _call(
        sessions,
        demo,
        started=timedelta(hours=4),
        last_step=timedelta(hours=3),
        state=retry,
        dials=(CallOutcome.CLIENT_BUSY, None),
    )
    assert await _sweep(sessions) == 1
    assert (await call_row(sessions, sid)).outcome is CallOutcome.LOST
    dials = [dial.outcome for dial in await call_dials(sessions, sid)]
    assert dials == [CallOutcome.CLIENT_BUSY, CallOutcome.LOST]


async def test_a_call_whose_steps_found_an_outcome_keeps_it(sessions, demo):
    bridged = CallState(stage=CallStage.ENDED, dials=1, outcome=CallOutcome.BRIDGED)
    sid = await _call(
        sessions,
        demo,
        started=timedelta(hours=4),
        last_step=timedelta(hours=3),
        state=bridged,
        dials=(CallOutcome.BRIDGED,),
    )
    assert await _sweep(sessions) == 1
    call = await call_row(sessions, sid)
    assert (call.stage, call.outcome, call.ended_at) == (
        CallStage.ENDED,
        CallOutcome.BRIDGED,
        NOW,
    )
    assert (await call_steps(sessions, sid))[-1] == ("lost", "bridged")
    assert [dial.outcome for dial in await call_dials(sessions, sid)] == [CallOutcome.BRIDGED]


async def test_the_count_is_right_and_a_second_sweep_finds_nothing(sessions, demo):
    stale = [
        await _call(sessions, demo, started=timedelta(hours=6), last_step=timedelta(hours=3))
        for _ in range(3)
    ]
    await _call(sessions, demo, started=timedelta(hours=6), last_step=timedelta(minutes=5))
    assert await _sweep(sessions) == 3
    assert await _sweep(sessions) == 0
    assert await _sweep(sessions, now=NOW + timedelta(minutes=1)) == 0
    async with sessions() as session:
        ids = list(await session.scalars(select(Call.id).where(Call.call_sid.in_(stale))))
    assert await _lost_events(sessions) == dict.fromkeys(ids, 1)


async def test_concurrent_sweeps_finalize_each_call_exactly_once(sessions, demo):
    stale = [
        await _call(sessions, demo, started=timedelta(hours=4), last_step=timedelta(hours=3))
        for _ in range(12)
    ]
    counts = await asyncio.gather(*(_sweep(sessions) for _ in range(4)))
    assert sum(counts) == len(stale)
    events = await _lost_events(sessions)
    assert sorted(events.values()) == [1] * len(stale)
    for sid in stale:
        assert (await call_row(sessions, sid)).outcome is CallOutcome.LOST


async def test_a_late_status_callback_for_a_lost_call_changes_nothing(server, http, demo, sessions):
    url, sid = str(server.make_url("")), new_sid()
    await signed_post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    number = open_polis(demo)["number"]
    await signed_post(http, url, "/ivr/number", {"CallSid": sid, "From": ANNA, "Digits": number})
    assert await _sweep(sessions, now=datetime.now(UTC) + timedelta(hours=3)) == 1
    lost = await call_row(sessions, sid)
    steps = await call_steps(sessions, sid)
    status, _, body = await signed_post(
        http, url, "/ivr/status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "9"}
    )
    assert (status, verbs(body)) == (200, [])
    call = await call_row(sessions, sid)
    assert (call.stage, call.outcome, call.ended_at, call.duration_seconds) == (
        CallStage.ENDED,
        CallOutcome.LOST,
        lost.ended_at,
        None,
    )
    assert await call_steps(sessions, sid) == steps
    assert [dial.outcome for dial in await call_dials(sessions, sid)] == [CallOutcome.LOST]


async def test_the_admin_finds_lost_calls_by_their_outcome(admin, demo, sessions):
    await _call(sessions, demo, started=timedelta(hours=4), last_step=timedelta(hours=3))
    assert await _sweep(sessions) == 1
    lost = await admin.get("/admin/calls?outcome=lost")
    assert lost.status == 200 and ">lost</td>" in lost.text
    assert ">lost</td>" not in (await admin.get("/admin/calls?outcome=bridged")).text


async def test_the_background_pass_of_the_running_service_ends_a_lost_call(
    aiohttp_server, config, sessions, demo
):
    stale = await _call(sessions, demo, started=timedelta(hours=3))
    fresh = await _call(sessions, demo, started=timedelta(minutes=1))
    server = await aiohttp_server(create_app(config, clock=lambda: NOW))
    await run_jobs(server.app)
    assert (await call_row(sessions, stale)).outcome is CallOutcome.LOST
    assert (await call_row(sessions, fresh)).ended_at is None
