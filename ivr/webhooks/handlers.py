"""One handler per Twilio step; each parses, loads the call, runs the flow, persists."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection
from twilio.twiml.voice_response import VoiceResponse

from crm import calls
from crm.call_end import finalize_call
from crm.calls import CallRow
from crm.directory import Access, find_manager_by_phone, find_request_for_manager, line_access
from crm.enums import CallKind
from crm.lockout.guard import Caller, count_wrong
from crm.numbers import parse_request_number
from ivr.flows import manager_call as flow
from ivr.keys import CLOCK, CONFIG, ENGINE
from ivr.logging import log_step
from ivr.metrics import METRICS
from ivr.webhooks import callbacks
from ivr.webhooks.context import RECORDINGS, flow_context, voice_for
from ivr.webhooks.events import CallEvent, DialEvent, StatusEvent, WhisperEvent
from ivr.webhooks.guard import UnknownCall, twilio_app, twiml_response
from ivr.webhooks.recording import recording_status
from ivr.webhooks.state import as_lookup, state_of

log = structlog.get_logger("ivr.webhooks")


def twiml(response: VoiceResponse) -> web.Response:
    return twiml_response(str(response))


def _spoken_apology(request: web.Request) -> web.Response:
    return twiml(flow.apology(voice_for(request)))


def _now(request: web.Request) -> datetime:
    return request.config_dict[CLOCK]()


async def _live_call(db: AsyncConnection, call_sid: str, *, allow_ended: bool = False) -> CallRow:
    """The manager's call this step belongs to; UnknownCall if there is none (or it ended)."""
    call = await calls.get_call(db, call_sid=call_sid) if call_sid else None
    if (
        call is None
        or call.kind is not CallKind.MANAGER  # a client's call back: `callbacks.py`
        or call.manager_id is None
        or (call.ended_at is not None and not allow_ended)
    ):
        raise UnknownCall(call_sid)
    return call


def _manager_of(call: CallRow) -> int:
    """The manager a live call belongs to (`_live_call` lets no other call through)."""
    if call.manager_id is None:
        raise UnknownCall(call.call_sid)
    return call.manager_id


async def _out_of_turn(
    db: AsyncConnection, request: web.Request, call: CallRow, *, name: str
) -> web.Response:
    """A step that does not belong to the call's stage (a retry, a replay, a race it lost):
    answered with the TwiML of the stage the call is in, and nothing changes."""
    state = state_of(call)
    lookup = None
    if state.stage is flow.Stage.DIALING and call.request_id is not None:
        # The dial never ran (Twilio repeats a step it got no answer to): not for a caller
        # deactivated or locked out since.
        if await _access(db, call, request) is not Access.OPEN:
            log_step(request, "call_step_out_of_turn", step=name, stage=state.stage)
            return twiml(flow.access_ended(flow_context(request), state).twiml)
        dial = await calls.current_dial(db, call)
        lookup = as_lookup(
            await find_request_for_manager(
                db, manager_id=_manager_of(call), request_id=call.request_id
            ),
            recording=dial is not None and dial.recorded,  # as the dial was made
        )
    log_step(request, "call_step_out_of_turn", step=name, stage=state.stage)
    return twiml(flow.resume(flow_context(request), state, lookup=lookup, recorded=call.recorded))


async def _access(db: AsyncConnection, call: CallRow, request: web.Request) -> Access:
    """Whether the manager's call may still look up, dial or be put through."""
    return await line_access(
        db, phone=call.caller or "", manager_id=_manager_of(call), now=_now(request)
    )


def _hang_up_client_leg() -> web.Response:
    """The client's leg of a call that is no longer dialing: it must not be bridged."""
    response = VoiceResponse()
    response.hangup()
    return twiml(response)


async def _record(
    request: web.Request,
    db: AsyncConnection,
    call: CallRow,
    step: flow.Step,
    *,
    name: str,
    digits: str | None,
    now: datetime,
) -> None:
    await calls.record_step(
        db,
        call,
        **asdict(step.state),
        step=name,
        result=step.result,
        digits=digits,
        now=now,
        dial_recorded=step.dial_recorded,
    )
    _log_step(request, step, name=name)


def _log_step(request: web.Request, step: flow.Step, *, name: str) -> None:
    log_step(
        request,
        "call_step",
        step=name,
        result=step.result,
        stage=step.state.stage,
        attempts=step.state.attempts,
    )


async def voice(request: web.Request) -> web.Response:
    event = CallEvent.parse(await request.post())
    if not event.call_sid:
        raise UnknownCall("no CallSid")
    ctx, now = flow_context(request), _now(request)
    async with request.config_dict[ENGINE].begin() as db:
        manager = await find_manager_by_phone(db, phone=event.caller) if event.caller else None
        if manager is None:
            return await callbacks.incoming(request, db, event, now=now)
        step = flow.incoming(
            ctx, known_caller=True, locked=manager.locked(now), recorded=manager.recorded
        )
        call = await calls.open_call(
            db,
            call_sid=event.call_sid,
            caller=event.caller,
            manager_id=manager.manager_id,
            recorded=manager.recorded,
            now=now,
            **asdict(step.state),
        )
        if call is None:
            # Twilio repeats its first webhook only when it got no answer to it: the caller
            # then still waits for that first answer, so a manager hears the greeting again.
            # Nothing else is a retry (Twilio moves on only after an answer), so the row
            # keeps its stage, dial and outcome. (Other callers: `callbacks.incoming`.)
            existing = await calls.get_call(db, call_sid=event.call_sid)
            if existing is None:
                raise RuntimeError(f"call {event.call_sid} neither inserted nor found")
            return await _out_of_turn(db, request, existing, name="voice")
        await calls.add_event(db, call, step="voice", result=step.result, now=now)
        _log_step(request, step, name="voice")
    return twiml(step.twiml)


async def number(request: web.Request) -> web.Response:
    event = CallEvent.parse(await request.post())
    ctx, now = flow_context(request), _now(request)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _live_call(db, event.call_sid)
        if not flow.in_turn("number", state_of(call)):
            return await _out_of_turn(db, request, call, name="number")
        caller = Caller(phone=call.caller or "", manager_id=_manager_of(call))
        match await line_access(db, phone=caller.phone, manager_id=caller.manager_id, now=now):
            case Access.ENDED:  # deactivated since the call began
                step = flow.access_ended(ctx, state_of(call))
            case Access.LOCKED:  # by another call of this number or manager
                step = flow.locked_out(ctx, state_of(call))
            case _:
                step = await _number_step(request, db, call, caller, digits=event.digits, now=now)
        await _record(request, db, call, step, name="number", digits=event.digits, now=now)
    return twiml(step.twiml)


async def _number_step(
    request: web.Request,
    db: AsyncConnection,
    call: CallRow,
    caller: Caller,
    *,
    digits: str | None,
    now: datetime,
) -> flow.Step:
    """The typed number looked up; a wrong one is counted, and may lock the caller out."""
    ctx, typed = flow_context(request), parse_request_number(digits)
    lookup = None
    if typed is not None:
        lookup = as_lookup(
            await find_request_for_manager(db, manager_id=caller.manager_id, number=typed),
            recording=call.recorded,
        )
    step = flow.number_entered(ctx, state_of(call), digits=digits, lookup=lookup)
    if flow.is_wrong_number(digits, lookup) and await count_wrong(
        db,
        caller,
        call_id=call.id,
        result=step.result,
        settings=request.config_dict[CONFIG].ivr.lockout,
        now=now,
    ):
        return flow.locked_out(ctx, step.state)
    return step


async def no_input(request: web.Request) -> web.Response:
    event = CallEvent.parse(await request.post())
    ctx, now = flow_context(request), _now(request)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _live_call(db, event.call_sid)
        if not flow.in_turn("no_input", state_of(call)):
            return await _out_of_turn(db, request, call, name="no_input")
        step = flow.no_input(ctx, state_of(call))
        await _record(request, db, call, step, name="no_input", digits=None, now=now)
    return twiml(step.twiml)


async def whisper(request: web.Request) -> web.Response:
    event = WhisperEvent.parse(await request.post())
    ctx, now = flow_context(request), _now(request)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _live_call(db, event.parent_call_sid)
        if not flow.in_turn("whisper", state_of(call)):
            return _hang_up_client_leg()
        if await _access(db, call, request) is Access.ENDED:
            return _hang_up_client_leg()  # deactivated while the client's phone rang
        dial = await calls.current_dial(db, call)
        await calls.client_answered(db, call, now=now)
    # Told exactly when this dial records (decided as it was made, not read again now).
    return twiml(flow.whisper(ctx, recorded=dial is not None and dial.recorded))


async def whisper_answer(request: web.Request) -> web.Response:
    event = WhisperEvent.parse(await request.post())
    response, accepted = flow.whisper_answered(event.digits)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _live_call(db, event.parent_call_sid)
        if not flow.in_turn("whisper_answer", state_of(call)):
            return _hang_up_client_leg()
        decided = await calls.client_decided(db, call, accepted=accepted, now=_now(request))
    if decided:  # counted once committed, and not again for a replay
        request.config_dict[METRICS].dial("accepted" if accepted else "declined")
    return twiml(response)


async def dial_result(request: web.Request) -> web.Response:
    event = DialEvent.parse(await request.post())
    ctx, now = flow_context(request), _now(request)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _live_call(db, event.call_sid, allow_ended=True)
        # An ended call still takes its dial's late result (`calls.record_dial_result`).
        if call.ended_at is None and not flow.in_turn("dial_result", state_of(call)):
            return await _out_of_turn(db, request, call, name="dial_result")
        dial = await calls.current_dial(db, call)
        step = flow.dial_finished(
            ctx,
            state_of(call),
            dial_status=event.dial_status,
            talk_seconds=event.talk_seconds,
            client_accepted=dial is not None and dial.client_accepted,
        )
        if step.state.stage is flow.Stage.UNREACHABLE and (
            await _access(db, call, request) is Access.ENDED
        ):
            step = flow.access_ended(ctx, step.state)  # no "press 1 to call again"
        live = await calls.record_dial_result(
            db,
            call,
            dial=dial,
            outcome=step.state.outcome,
            dial_status=event.dial_status,
            talk_seconds=event.talk_seconds,
            now=now,
        )
        if live:
            await _record(request, db, call, step, name="dial_result", digits=None, now=now)
    if dial is not None:  # counted once committed, and not again for a replay
        request.config_dict[METRICS].dial(event.dial_status)
    return twiml(step.twiml if live else VoiceResponse())


async def after_unreachable(request: web.Request) -> web.Response:
    event = CallEvent.parse(await request.post())
    ctx, now = flow_context(request), _now(request)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _live_call(db, event.call_sid)
        if not flow.in_turn("after_unreachable", state_of(call)):
            return await _out_of_turn(db, request, call, name="after_unreachable")
        caller = Caller(phone=call.caller or "", manager_id=_manager_of(call))
        access = await line_access(db, phone=caller.phone, manager_id=caller.manager_id, now=now)
        if access is Access.ENDED:  # no dial again for a manager deactivated meanwhile
            step = flow.access_ended(ctx, state_of(call))
        elif access is Access.LOCKED:
            step = flow.locked_out(ctx, state_of(call))
        else:
            lookup = None
            if call.request_id is not None:
                lookup = as_lookup(
                    await find_request_for_manager(
                        db, manager_id=caller.manager_id, request_id=call.request_id
                    ),
                    recording=call.recorded,
                )
            step = flow.unreachable_choice(ctx, state_of(call), digits=event.digits, lookup=lookup)
        await _record(
            request, db, call, step, name="after_unreachable", digits=event.digits, now=now
        )
    return twiml(step.twiml)


async def status(request: web.Request) -> web.Response:
    event = StatusEvent.parse(await request.post())
    if event.call_sid:
        async with request.config_dict[ENGINE].begin() as db:
            ended = await finalize_call(
                db,
                call_sid=event.call_sid,
                status=event.status,
                duration=event.duration,
                caller=event.caller,
                now=_now(request),
            )
        if ended is not None:
            request.config_dict[METRICS].call_ended(ended)
        log_step(request, "call_status", call_status=event.status, applied=ended is not None)
    return twiml(VoiceResponse())


async def sound(request: web.Request) -> web.StreamResponse:
    path = request.config_dict[RECORDINGS].path(
        request.match_info["language"], request.match_info["key"]
    )
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(
        path, headers={"Content-Type": "audio/wav", "Cache-Control": "public, max-age=3600"}
    )


def create_voice_app() -> web.Application:
    """The voice webhooks under /ivr: signed by Twilio, a spoken apology on any failure."""
    app = twilio_app(_spoken_apology)
    app.router.add_post("/voice", voice, name="ivr.voice")
    app.router.add_post("/number", number, name="ivr.number")
    app.router.add_post("/no-input", no_input, name="ivr.no_input")
    app.router.add_post("/whisper", whisper, name="ivr.whisper")
    app.router.add_post("/whisper/answer", whisper_answer, name="ivr.whisper_answer")
    app.router.add_post("/dial-result", dial_result, name="ivr.dial_result")
    app.router.add_post("/after-unreachable", after_unreachable, name="ivr.after_unreachable")
    app.router.add_post("/status", status, name="ivr.status")
    callbacks.add_routes(app)
    app.router.add_post("/recording", recording_status, name="ivr.recording")
    return app
