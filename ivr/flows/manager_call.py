"""The partner manager's call: rules, request number, bridge to the masked client, retries.

Every function takes the call's state and what the caller did, and returns a `Step`: the
TwiML to answer and the next state. Lookups and clocks are done by the caller of these
functions and passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from twilio.twiml.voice_response import Dial, VoiceResponse

from crm.enums import CallOutcome
from crm.enums import CallStage as Stage
from ivr.flows.voice import Voice


class Lookup(StrEnum):
    """What a typed request number turned out to be, for this manager's organization."""

    NOT_FOUND = "not_found"
    CLOSED = "closed"


@dataclass(frozen=True)
class OpenRequest:
    request_id: int
    client_phone: str
    recorded: bool = False
    """The company records its conversations: the client's whisper says so, the dial records."""


RequestLookup = OpenRequest | Lookup


@dataclass(frozen=True)
class CallState:
    stage: Stage = Stage.GREETING
    attempts: int = 0
    dials: int = 0
    request_id: int | None = None
    outcome: CallOutcome | None = None


@dataclass(frozen=True)
class Settings:
    service_number: str
    gather_timeout: int
    max_attempts: int
    """Wrong request numbers and keys in one call before the goodbye."""
    max_dials: int
    """Dials of the client in one call: an unreachable client has its own budget."""
    dial_timeout: int
    dial_time_limit: int
    whisper_timeout: int


@dataclass(frozen=True)
class Urls:
    number: str
    no_input: str
    dial_result: str
    whisper: str
    whisper_answer: str
    after_unreachable: str
    callback_whisper: str
    callback_whisper_answer: str
    callback_result: str
    recording: str


@dataclass(frozen=True)
class Context:
    settings: Settings
    voice: Voice
    urls: Urls


@dataclass(frozen=True)
class Step:
    twiml: VoiceResponse
    state: CallState
    result: str
    """A short label of what happened, for the call's audit trail."""
    dial_recorded: bool = False
    """The step starts a dial whose <Dial> records."""


DIAL_OUTCOMES = {
    "busy": CallOutcome.CLIENT_BUSY,
    "no-answer": CallOutcome.CLIENT_NO_ANSWER,
    "canceled": CallOutcome.CLIENT_NO_ANSWER,
    "failed": CallOutcome.CLIENT_FAILED,
}


def incoming(
    ctx: Context, *, known_caller: bool, locked: bool = False, recorded: bool = False
) -> Step:
    """First answer: unknown callers are turned away, a locked-out manager hears so, the
    others hear the rules (and that conversations are recorded, where their company does)."""
    if known_caller and locked:
        return locked_out(ctx, CallState())
    if not known_caller:
        return _end(
            ctx,
            CallState(outcome=CallOutcome.UNKNOWN_CALLER),
            "unknown_caller",
            result="unknown_caller",
        )
    return _ask_number(ctx, CallState(), _greeting(recorded=recorded), result="greeted")


def _greeting(*, recorded: bool) -> tuple[str, ...]:
    return ("rules", "recording_notice", "enter_number") if recorded else ("rules", "enter_number")


def locked_out(ctx: Context, state: CallState) -> Step:
    """The caller is locked out for guessing request numbers: told so, before any lookup."""
    state = replace(state, outcome=CallOutcome.LOCKED_OUT)
    return _end(ctx, state, "line_locked", result="locked_out")


def access_ended(ctx: Context, state: CallState) -> Step:
    """The caller's phone, manager or company was deactivated during the call: no lookup,
    no dial."""
    state = replace(state, outcome=CallOutcome.ACCESS_ENDED)
    return _end(ctx, state, "access_ended", result="access_ended")


def is_wrong_number(digits: str | None, lookup: RequestLookup | None) -> bool:
    """Whether typed digits were a guess that missed: no number, or no request of the
    caller's company (what the lockout counts; silence and closed requests are not)."""
    return bool(digits and digits.strip("#")) and lookup in (None, Lookup.NOT_FOUND)


def no_input(ctx: Context, state: CallState) -> Step:
    """The manager typed nothing before the timeout."""
    return _failure(ctx, state, "no_input", CallOutcome.WRONG_INPUT, result="no_input")


def number_entered(
    ctx: Context, state: CallState, *, digits: str | None, lookup: RequestLookup | None
) -> Step:
    """The manager finished typing; `lookup` is None when the number's format is wrong."""
    if not digits or not digits.strip("#"):
        return no_input(ctx, state)
    match lookup:
        case None:
            return _failure(
                ctx, state, "invalid_number", CallOutcome.WRONG_INPUT, result="invalid_number"
            )
        case Lookup.NOT_FOUND:
            return _failure(ctx, state, "not_found", CallOutcome.NOT_FOUND, result="not_found")
        case Lookup.CLOSED:
            return _failure(
                ctx,
                state,
                "request_closed",
                CallOutcome.REQUEST_CLOSED,
                result="request_closed",
                next_prompt="enter_another",
            )
        case OpenRequest():
            return _connect(ctx, state, lookup)


def whisper(ctx: Context, *, recorded: bool = False) -> VoiceResponse:
    """Played to the client on answering: a person presses a key, a voicemail does not."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=ctx.settings.whisper_timeout,
        action=ctx.urls.whisper_answer,
        method="POST",
    )
    ctx.voice.speak(gather, "client_whisper_recorded" if recorded else "client_whisper")
    response.hangup()
    return response


def whisper_answered(digits: str | None) -> tuple[VoiceResponse, bool]:
    """The client's key press: any key accepts and bridges; nothing hangs the leg up."""
    response = VoiceResponse()
    if digits:
        return response, True
    response.hangup()
    return response, False


def dial_finished(
    ctx: Context,
    state: CallState,
    *,
    dial_status: str,
    talk_seconds: int,
    client_accepted: bool,
) -> Step:
    """The bridge attempt ended; a completed leg counts only if the client accepted it."""
    if dial_status == "completed" and client_accepted:
        response = VoiceResponse()
        ctx.voice.speak(response, "call_ended")
        response.hangup()
        ended = replace(state, stage=Stage.ENDED, outcome=CallOutcome.BRIDGED)
        return Step(response, ended, f"bridged:{talk_seconds}s")
    if dial_status == "completed":
        outcome = CallOutcome.VOICEMAIL
    else:
        outcome = DIAL_OUTCOMES.get(dial_status, CallOutcome.CLIENT_FAILED)
    state = replace(state, outcome=outcome)
    if state.dials >= ctx.settings.max_dials:
        return _end(ctx, state, "client_unreachable", "too_many_dials", result=outcome)
    return _unreachable_menu(
        ctx, state, ("client_unreachable", "unreachable_options"), result=outcome
    )


def unreachable_choice(
    ctx: Context, state: CallState, *, digits: str | None, lookup: RequestLookup | None
) -> Step:
    """After an unreachable client: 1 dials again, 2 asks for another number, any other key
    repeats the choices (and counts as a failed attempt); an empty answer says goodbye."""
    match digits, lookup:
        case "1", OpenRequest():
            return _connect(ctx, state, lookup)
        case "1", Lookup.CLOSED:
            return _failure(
                ctx,
                state,
                "request_closed",
                CallOutcome.REQUEST_CLOSED,
                result="request_closed",
                next_prompt="enter_another",
            )
        case "1", _:
            return _failure(ctx, state, "not_found", CallOutcome.NOT_FOUND, result="not_found")
        case "2", _:
            return _ask_number(ctx, state, ("enter_number",), result="another_number")
        case None, _:
            return _end(ctx, state, "goodbye", result="goodbye")
    state = replace(state, attempts=state.attempts + 1)
    if state.attempts >= ctx.settings.max_attempts:
        return _end(ctx, state, "invalid_choice", "too_many_attempts", result="invalid_choice")
    return _unreachable_menu(
        ctx, state, ("invalid_choice", "unreachable_options"), result="invalid_choice"
    )


STEP_STAGES: dict[str, frozenset[Stage]] = {
    "number": frozenset({Stage.AWAITING_NUMBER}),
    "no_input": frozenset({Stage.AWAITING_NUMBER}),
    "after_unreachable": frozenset({Stage.UNREACHABLE}),
    "dial_result": frozenset({Stage.DIALING}),
    "whisper": frozenset({Stage.DIALING}),
    "whisper_answer": frozenset({Stage.DIALING}),
}
"""The only stages in which each step means something; elsewhere it is a retry or a replay."""


def in_turn(step: str, state: CallState) -> bool:
    """Whether `step` belongs to the stage the call is in."""
    return state.stage in STEP_STAGES[step]


def resume(
    ctx: Context, state: CallState, *, lookup: RequestLookup | None, recorded: bool = False
) -> VoiceResponse:
    """The answer to a step out of turn: the TwiML of the stage the call is in, the state
    unchanged. Twilio repeats a step only when it got no answer, so the caller still waits
    for the answer that moved the call to this stage; `lookup` is the call's request.
    """
    match state.stage, lookup:
        case Stage.GREETING | Stage.AWAITING_NUMBER, _:
            prompts = _greeting(recorded=recorded) if state.attempts == 0 else ("enter_number",)
            return _ask_number(ctx, state, prompts, result="resumed").twiml
        case Stage.DIALING, OpenRequest():
            # The same dial again: its row is the one Twilio reports on (no new dial).
            # The same dial again: its recording callback names the same dial.
            return _connect(ctx, state, lookup, again=True).twiml
        case Stage.UNREACHABLE, _:
            return _unreachable_menu(ctx, state, ("unreachable_options",), result="resumed").twiml
    response = VoiceResponse()
    response.hangup()
    return response


def apology(voice: Voice) -> VoiceResponse:
    """What a caller hears when something inside fails: never an application error."""
    response = VoiceResponse()
    voice.speak(response, "error")
    response.hangup()
    return response


def _connect(ctx: Context, state: CallState, request: OpenRequest, *, again: bool = False) -> Step:
    """Dial the client. A recording's report names the dial it is of (`dial=N`, the N-th of
    the call): recordings reach the service late, after a redial may have begun."""
    settings = ctx.settings
    ordinal = state.dials if again else state.dials + 1
    response = VoiceResponse()
    ctx.voice.speak(response, "connecting")
    recording = {}
    if request.recorded:
        # Only the recording of a conversation the client accepted is kept (the webhook
        # deletes any other at Twilio).
        recording = {
            "record": "record-from-answer-dual",
            "recording_status_callback": f"{ctx.urls.recording}?dial={ordinal}",
            "recording_status_callback_method": "POST",
            "recording_status_callback_event": "completed",
        }
    dial = Dial(
        caller_id=settings.service_number,
        timeout=settings.dial_timeout,
        time_limit=settings.dial_time_limit,
        action=ctx.urls.dial_result,
        method="POST",
        answer_on_bridge=True,
        **recording,
    )
    dial.number(request.client_phone, url=ctx.urls.whisper, method="POST")
    response.append(dial)
    dialing = replace(
        state, stage=Stage.DIALING, dials=state.dials + 1, request_id=request.request_id
    )
    return Step(response, dialing, "dialing", dial_recorded=request.recorded)


def _unreachable_menu(
    ctx: Context, state: CallState, prompts: tuple[str, ...], *, result: str
) -> Step:
    """The choices after an unreachable client; silence hears them once more, then goodbye."""
    response = VoiceResponse()
    for spoken in (prompts, ("unreachable_options",)):
        gather = response.gather(
            input="dtmf",
            num_digits=1,
            timeout=ctx.settings.gather_timeout,
            action=ctx.urls.after_unreachable,
            method="POST",
        )
        ctx.voice.speak(gather, *spoken)
    ctx.voice.speak(response, "goodbye")
    response.hangup()
    return Step(response, replace(state, stage=Stage.UNREACHABLE), result)


def _failure(
    ctx: Context,
    state: CallState,
    prompt: str,
    outcome: CallOutcome,
    *,
    result: str,
    next_prompt: str = "enter_number",
) -> Step:
    state = replace(state, attempts=state.attempts + 1, outcome=outcome)
    if state.attempts >= ctx.settings.max_attempts:
        return _end(ctx, state, prompt, "too_many_attempts", result=result)
    return _ask_number(ctx, state, (prompt, next_prompt), result=result)


def _ask_number(ctx: Context, state: CallState, prompts: tuple[str, ...], *, result: str) -> Step:
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        finish_on_key="#",
        timeout=ctx.settings.gather_timeout,
        action=ctx.urls.number,
        method="POST",
    )
    ctx.voice.speak(gather, *prompts)
    response.redirect(ctx.urls.no_input, method="POST")
    return Step(response, replace(state, stage=Stage.AWAITING_NUMBER), result)


def _end(ctx: Context, state: CallState, *prompts: str, result: str) -> Step:
    response = VoiceResponse()
    ctx.voice.speak(response, *prompts)
    response.hangup()
    return Step(response, replace(state, stage=Stage.ENDED), result)
