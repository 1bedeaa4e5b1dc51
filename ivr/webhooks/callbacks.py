"""The client's call back: the first answer to a caller who is no manager, and the steps of
the manager's screened leg. Thin like `handlers.py`: parse, load, run the flow, persist."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from twilio.twiml.voice_response import VoiceResponse

from crm import calls
from crm.callbacks import CallbackTarget, NoCallback, find_callback
from crm.calls import CallRow
from crm.directory import manager_in_service
from crm.enums import CallKind, CallOutcome, CallStage
from crm.models import Request
from ivr.flows import client_callback as flow
from ivr.flows import manager_call
from ivr.flows.manager_call import Context
from ivr.keys import CLOCK, CONFIG, ENGINE
from ivr.logging import log_step
from ivr.metrics import METRICS
from ivr.webhooks.context import flow_context
from ivr.webhooks.events import CallEvent, DialEvent, WhisperEvent
from ivr.webhooks.guard import UnknownCall, twiml_response

REFUSALS = {
    NoCallback.NOTHING_OPEN: flow.Refusal.NOTHING_OPEN,
    NoCallback.SEVERAL: flow.Refusal.SEVERAL,
}


def _twiml(response: VoiceResponse) -> web.Response:
    return twiml_response(str(response))


def _hang_up() -> web.Response:
    response = VoiceResponse()
    response.hangup()
    return _twiml(response)


def _decision(
    ctx: Context, found: CallbackTarget | NoCallback
) -> tuple[VoiceResponse, CallOutcome | None, str]:
    """What the caller hears, the call's outcome so far, and the step's label."""
    match found:
        case CallbackTarget():
            target = flow.Target(
                request_number=found.request_number,
                company=found.company,
                product=found.product,
                manager_phone=found.manager_phone,
            )
            return flow.greet(ctx, target), None, "callback"
        case NoCallback.STRANGER:
            step = manager_call.incoming(ctx, known_caller=False)
            return step.twiml, step.state.outcome, step.result
    response, outcome = flow.refuse(ctx, REFUSALS[found])
    return response, outcome, f"callback_{found.value}"


async def incoming(
    request: web.Request, db: AsyncConnection, event: CallEvent, *, now: datetime
) -> web.Response:
    """A caller who is no manager: a client calling back is put through to the manager
    about their one open request; anyone else hears why not, and no request is named."""
    ctx, settings = flow_context(request), request.config_dict[CONFIG].ivr
    found: CallbackTarget | NoCallback = NoCallback.STRANGER
    if event.caller:
        since = now - timedelta(days=settings.callback_days)
        found = await find_callback(db, phone=event.caller, since=since)
    response, outcome, result = _decision(ctx, found)
    dialing = isinstance(found, CallbackTarget)
    call = await calls.open_call(
        db,
        call_sid=event.call_sid,
        caller=event.caller,
        manager_id=found.manager_id if isinstance(found, CallbackTarget) else None,
        request_id=found.request_id if isinstance(found, CallbackTarget) else None,
        kind=CallKind.CALLBACK if found is not NoCallback.STRANGER else CallKind.MANAGER,
        stage=CallStage.CALLBACK if dialing else CallStage.ENDED,
        dials=1 if dialing else 0,
        outcome=outcome,
        now=now,
    )
    if call is None:
        # A retried first webhook (Twilio got no answer): the same answer again, while the
        # call lasts, and nothing is added.
        existing = await calls.get_call(db, call_sid=event.call_sid)
        if existing is None or existing.ended_at is not None:
            return _hang_up()
        log_step(request, "call_step_out_of_turn", step="voice", stage=existing.stage)
        return _twiml(response)
    if isinstance(found, CallbackTarget):
        await calls.start_dial(db, call, request_id=found.request_id, now=now)
    await calls.add_event(db, call, step="voice", result=result, now=now)
    log_step(request, "call_step", step="voice", result=result, stage=call.stage, attempts=0)
    return _twiml(response)


async def _callback_call(db: AsyncConnection, call_sid: str) -> CallRow:
    """The client's call back this step belongs to; UnknownCall if there is none."""
    call = await calls.get_call(db, call_sid=call_sid) if call_sid else None
    if call is None or call.kind is not CallKind.CALLBACK:
        raise UnknownCall(call_sid)
    return call


async def _calling_back(db: AsyncConnection, call_sid: str) -> CallRow | None:
    """The client's call back whose manager's phone rings now; None once it does not (a
    late or replayed step of the manager's leg, which must not be bridged)."""
    call = await _callback_call(db, call_sid)
    if call.ended_at is not None or call.stage is not CallStage.CALLBACK:
        return None
    return call


async def whisper(request: web.Request) -> web.Response:
    """The manager answered: they hear which request the client calls back about."""
    event = WhisperEvent.parse(await request.post())
    async with request.config_dict[ENGINE].begin() as db:
        call = await _calling_back(db, event.parent_call_sid)
        if call is None or call.request_id is None or call.manager_id is None:
            return _hang_up()
        if not await manager_in_service(db, manager_id=call.manager_id):
            return _hang_up()  # deactivated while their phone rang: never put through
        number = await db.scalar(select(Request.number).where(Request.id == call.request_id))
        await calls.add_event(
            db, call, step="callback_whisper", result="manager_answered", now=_now(request)
        )
    log_step(request, "call_step", step="callback_whisper", result="manager_answered")
    return _twiml(flow.whisper(flow_context(request), number or ""))


async def whisper_answer(request: web.Request) -> web.Response:
    event = WhisperEvent.parse(await request.post())
    response, accepted = manager_call.whisper_answered(event.digits)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _calling_back(db, event.parent_call_sid)
        if call is None:
            return _hang_up()
        decided = await calls.client_decided(db, call, accepted=accepted, now=_now(request))
    if decided:
        request.config_dict[METRICS].dial("accepted" if accepted else "declined")
    return _twiml(response)


async def result(request: web.Request) -> web.Response:
    """The manager's leg ended: talked, or missed (the request's history shows which)."""
    event = DialEvent.parse(await request.post())
    now = _now(request)
    async with request.config_dict[ENGINE].begin() as db:
        call = await _callback_call(db, event.call_sid)
        if call.ended_at is None and call.stage is not CallStage.CALLBACK:
            return _hang_up()  # a replay after the answer below
        dial = await calls.current_dial(db, call)
        response, outcome = flow.finished(
            flow_context(request),
            dial_status=event.dial_status,
            manager_accepted=dial is not None and dial.client_accepted,
        )
        live = await calls.record_dial_result(
            db,
            call,
            dial=dial,
            outcome=outcome,
            dial_status=event.dial_status,
            talk_seconds=event.talk_seconds,
            now=now,
        )
        if live:
            await calls.save_state(
                db,
                call,
                stage=CallStage.ENDED,
                attempts=0,
                dials=call.dials,
                request_id=call.request_id,
                outcome=outcome,
            )
            await calls.add_event(db, call, step="callback_result", result=outcome, now=now)
    if dial is not None:
        request.config_dict[METRICS].dial(event.dial_status)
    log_step(request, "call_step", step="callback_result", result=outcome, applied=live)
    return _twiml(response if live else VoiceResponse())


def _now(request: web.Request) -> datetime:
    return request.config_dict[CLOCK]()


def add_routes(app: web.Application) -> None:
    app.router.add_post("/callback/whisper", whisper, name="ivr.callback_whisper")
    app.router.add_post(
        "/callback/whisper/answer", whisper_answer, name="ivr.callback_whisper_answer"
    )
    app.router.add_post("/callback/result", result, name="ivr.callback_result")
