"""The client calls the service number back: told who calls back about what, then bridged
to the manager, whose leg is screened like a client's (a voicemail never accepts).

Pure like the manager's flow: the lookups are done by the caller and passed in. The client
never hears the manager's number and the manager hears only the request's number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from twilio.twiml.voice_response import Dial, VoiceResponse

from crm.enums import CallOutcome
from ivr.flows.manager_call import Context

MAX_SPOKEN = 120
"""Names and products typed by people are cut to this many characters when spoken."""


@dataclass(frozen=True)
class Target:
    """The one request a calling-back client is put through about, and to whom."""

    request_number: str
    company: str
    product: str
    manager_phone: str


class Refusal(StrEnum):
    """Why a client who calls back is not put through (each with its own polite answer)."""

    NOTHING_OPEN = "nothing_open"
    """No open request that a manager called about lately (or its manager is gone)."""
    SEVERAL = "several"
    """More than one such request: which one is meant cannot be told without revealing."""


REFUSALS = {
    Refusal.NOTHING_OPEN: ("callback_nothing_open", CallOutcome.CALLBACK_NONE),
    Refusal.SEVERAL: ("callback_several", CallOutcome.CALLBACK_AMBIGUOUS),
}


def _spoken(text: str) -> str:
    return " ".join(text.split())[:MAX_SPOKEN]


def greet(ctx: Context, target: Target) -> VoiceResponse:
    """Who calls back about what, then the manager's phone rings with the service number
    as caller ID."""
    settings = ctx.settings
    response = VoiceResponse()
    ctx.voice.say_template(
        response,
        "callback_greeting",
        company=_spoken(target.company),
        product=_spoken(target.product),
    )
    ctx.voice.speak(response, "callback_connecting")
    dial = Dial(
        caller_id=settings.service_number,
        timeout=settings.dial_timeout,
        time_limit=settings.dial_time_limit,
        action=ctx.urls.callback_result,
        method="POST",
        answer_on_bridge=True,
    )
    dial.number(target.manager_phone, url=ctx.urls.callback_whisper, method="POST")
    response.append(dial)
    return response


def refuse(ctx: Context, refusal: Refusal) -> tuple[VoiceResponse, CallOutcome]:
    """A polite answer that names no request, and the call's outcome."""
    prompt, outcome = REFUSALS[refusal]
    response = VoiceResponse()
    ctx.voice.speak(response, prompt)
    response.hangup()
    return response, outcome


def whisper(ctx: Context, request_number: str) -> VoiceResponse:
    """Played to the manager on answering: a person presses a key, a voicemail does not."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=ctx.settings.whisper_timeout,
        action=ctx.urls.callback_whisper_answer,
        method="POST",
    )
    ctx.voice.say_template(gather, "callback_whisper", number=" ".join(request_number))
    response.hangup()
    return response


def finished(
    ctx: Context, *, dial_status: str, manager_accepted: bool
) -> tuple[VoiceResponse, CallOutcome]:
    """The manager's leg ended: a conversation, or the client hears the partner calls back."""
    response = VoiceResponse()
    if dial_status == "completed" and manager_accepted:
        ctx.voice.speak(response, "call_ended")
        outcome = CallOutcome.BRIDGED
    else:
        ctx.voice.speak(response, "callback_missed")
        outcome = CallOutcome.CALLBACK_MISSED
    response.hangup()
    return response, outcome
