"""The manager's call as pure functions: TwiML attributes, next states, outcomes; no server."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.enums import CallOutcome
from ivr.flows import manager_call as flow
from ivr.flows.manager_call import CallState, Lookup, OpenRequest, Stage
from ivr.flows.prompts import text
from ivr.flows.voice import Voice
from tests.twiml import parse, spoken, tags

SERVICE = "+15005550006"
CLIENT = "+79161234567"
BASE = "https://ivr.test/ivr/"
URLS = flow.Urls(
    number=BASE + "number",
    no_input=BASE + "no-input",
    dial_result=BASE + "dial-result",
    whisper=BASE + "whisper",
    whisper_answer=BASE + "whisper/answer",
    after_unreachable=BASE + "after-unreachable",
    callback_whisper=BASE + "callback/whisper",
    callback_whisper_answer=BASE + "callback/whisper/answer",
    callback_result=BASE + "callback/result",
    recording=BASE + "recording",
)
OPEN = OpenRequest(request_id=7, client_phone=CLIENT)


def context(*, max_attempts: int = 3, max_dials: int = 3, language: str = "en") -> flow.Context:
    """No recordings, so every prompt is a <Say> in the voice's language."""
    settings_ = flow.Settings(
        service_number=SERVICE,
        gather_timeout=6,
        max_attempts=max_attempts,
        max_dials=max_dials,
        dial_timeout=25,
        dial_time_limit=3600,
        whisper_timeout=8,
    )
    return flow.Context(
        settings=settings_, voice=Voice(language=language, voice="alice"), urls=URLS
    )


CTX = context()
AWAITING = CallState(stage=Stage.AWAITING_NUMBER)
DIALING = CallState(stage=Stage.DIALING, dials=1, request_id=7)


def assert_asks_for_number(step: flow.Step, *prompts: str) -> None:
    root = parse(step.twiml)
    assert tags(root) == ["Gather", "Redirect"]
    gather, redirect = root
    assert gather.attrib == {
        "input": "dtmf",
        "finishOnKey": "#",
        "timeout": "6",
        "action": URLS.number,
        "method": "POST",
    }
    assert spoken(gather) == list(prompts)
    assert (redirect.text, redirect.get("method")) == (URLS.no_input, "POST")
    assert step.state.stage is Stage.AWAITING_NUMBER


def assert_ends(step: flow.Step, *prompts: str) -> None:
    root = parse(step.twiml)
    assert tags(root)[-1] == "Hangup"
    assert "Gather" not in tags(root) and "Dial" not in tags(root)
    assert spoken(root) == list(prompts)
    assert step.state.stage is Stage.ENDED


def test_known_caller_hears_the_rules_inside_the_gather():
    step = flow.incoming(CTX, known_caller=True)
    assert_asks_for_number(step, "rules", "enter_number")
    assert step.state == CallState(stage=Stage.AWAITING_NUMBER)


def test_unknown_caller_is_turned_away_without_a_gather():
    step = flow.incoming(CTX, known_caller=False)
    assert_ends(step, "unknown_caller")
    assert step.state.outcome is CallOutcome.UNKNOWN_CALLER


def test_silence_counts_an_attempt_and_reprompts():
    step = flow.no_input(CTX, AWAITING)
    assert_asks_for_number(step, "no_input", "enter_number")
    assert (step.state.attempts, step.state.outcome) == (1, CallOutcome.WRONG_INPUT)


@pytest.mark.parametrize("digits", [None, "", "#", "##"])
def test_empty_digits_are_treated_as_silence(digits):
    step = flow.number_entered(CTX, AWAITING, digits=digits, lookup=Lookup.NOT_FOUND)
    assert_asks_for_number(step, "no_input", "enter_number")


@pytest.mark.parametrize(
    ("lookup", "prompts", "outcome"),
    [
        (None, ("invalid_number", "enter_number"), CallOutcome.WRONG_INPUT),
        (Lookup.NOT_FOUND, ("not_found", "enter_number"), CallOutcome.NOT_FOUND),
        (Lookup.CLOSED, ("request_closed", "enter_another"), CallOutcome.REQUEST_CLOSED),
    ],
)
def test_failed_number_reprompts_with_the_reason(lookup, prompts, outcome):
    step = flow.number_entered(CTX, AWAITING, digits="12345678", lookup=lookup)
    assert_asks_for_number(step, *prompts)
    assert (step.state.attempts, step.state.outcome) == (1, outcome)


def test_open_request_dials_the_client_from_the_service_number():
    step = flow.number_entered(CTX, AWAITING, digits="12345678", lookup=OPEN)
    root = parse(step.twiml)
    assert tags(root) == ["Say", "Dial"]
    assert spoken(root) == ["connecting"]
    dial = root.find("Dial")
    assert dial.attrib == {
        "callerId": SERVICE,
        "timeout": "25",
        "timeLimit": "3600",
        "action": URLS.dial_result,
        "method": "POST",
        "answerOnBridge": "true",
    }
    [number] = dial.findall("*")
    assert (number.tag, number.text) == ("Number", CLIENT)
    assert number.attrib == {"url": URLS.whisper, "method": "POST"}
    assert step.state == CallState(stage=Stage.DIALING, dials=1, request_id=7)


def test_last_allowed_failure_says_why_then_goodbye():
    state = CallState(stage=Stage.AWAITING_NUMBER, attempts=2)
    step = flow.number_entered(CTX, state, digits="12345678", lookup=Lookup.CLOSED)
    assert_ends(step, "request_closed", "too_many_attempts")
    assert (step.state.attempts, step.state.outcome) == (3, CallOutcome.REQUEST_CLOSED)


def test_whisper_asks_the_client_for_one_key_then_hangs_up():
    root = parse(flow.whisper(CTX))
    assert tags(root) == ["Gather", "Hangup"]
    gather = root.find("Gather")
    assert gather.attrib == {
        "input": "dtmf",
        "numDigits": "1",
        "timeout": "8",
        "action": URLS.whisper_answer,
        "method": "POST",
    }
    assert spoken(gather) == ["client_whisper"]


@pytest.mark.parametrize(
    ("digits", "accepted", "verbs"),
    [
        ("1", True, []),
        ("*", True, []),
        (None, False, ["Hangup"]),
        ("", False, ["Hangup"]),
    ],
)
def test_whisper_answer_any_key_accepts_silence_hangs_up(digits, accepted, verbs):
    response, was_accepted = flow.whisper_answered(digits)
    assert was_accepted is accepted
    assert tags(parse(response)) == verbs


def test_accepted_completed_dial_is_bridged():
    step = flow.dial_finished(
        CTX, DIALING, dial_status="completed", talk_seconds=95, client_accepted=True
    )
    assert_ends(step, "call_ended")
    assert (step.state.outcome, step.state.attempts, step.result) == (
        CallOutcome.BRIDGED,
        0,
        "bridged:95s",
    )


@pytest.mark.parametrize(
    ("status", "accepted", "outcome"),
    [
        ("busy", False, CallOutcome.CLIENT_BUSY),
        ("no-answer", False, CallOutcome.CLIENT_NO_ANSWER),
        ("canceled", False, CallOutcome.CLIENT_NO_ANSWER),
        ("failed", False, CallOutcome.CLIENT_FAILED),
        ("something-new", False, CallOutcome.CLIENT_FAILED),
        ("completed", False, CallOutcome.VOICEMAIL),
        ("busy", True, CallOutcome.CLIENT_BUSY),
    ],
)
def test_unsuccessful_dial_offers_retry_or_another_number(status, accepted, outcome):
    step = flow.dial_finished(
        CTX, DIALING, dial_status=status, talk_seconds=0, client_accepted=accepted
    )
    root = parse(step.twiml)
    assert tags(root) == ["Gather", "Gather", "Say", "Hangup"]
    first, again = root.findall("Gather")
    for gather in (first, again):
        assert gather.attrib == {
            "input": "dtmf",
            "numDigits": "1",
            "timeout": "6",
            "action": URLS.after_unreachable,
            "method": "POST",
        }
    assert spoken(first) == ["client_unreachable", "unreachable_options"]
    assert spoken(again) == ["unreachable_options"], "silence hears the choices once more"
    assert spoken(root) == ["goodbye"]
    assert (step.state.stage, step.state.outcome, step.state.attempts) == (
        Stage.UNREACHABLE,
        outcome,
        0,
    ), "an unreachable client is no typing mistake"


def test_unsuccessful_dial_at_the_dial_limit_ends_the_call():
    state = CallState(stage=Stage.DIALING, attempts=0, dials=3, request_id=7)
    step = flow.dial_finished(CTX, state, dial_status="busy", talk_seconds=0, client_accepted=False)
    assert_ends(step, "client_unreachable", "too_many_dials")
    assert (step.state.outcome, step.state.attempts) == (CallOutcome.CLIENT_BUSY, 0)


def test_mistakes_so_far_do_not_end_the_call_at_a_failed_dial():
    state = CallState(stage=Stage.DIALING, attempts=2, dials=1, request_id=7)
    step = flow.dial_finished(CTX, state, dial_status="busy", talk_seconds=0, client_accepted=False)
    assert (step.state.stage, step.state.attempts) == (Stage.UNREACHABLE, 2)


def test_the_dial_budget_is_its_own_setting():
    state = CallState(stage=Stage.DIALING, dials=1, request_id=7)
    step = flow.dial_finished(
        context(max_dials=1), state, dial_status="no-answer", talk_seconds=0, client_accepted=False
    )
    assert_ends(step, "client_unreachable", "too_many_dials")


UNREACHABLE = CallState(
    stage=Stage.UNREACHABLE, attempts=1, dials=1, request_id=7, outcome=CallOutcome.CLIENT_BUSY
)


def test_press_one_dials_the_same_client_again():
    step = flow.unreachable_choice(CTX, UNREACHABLE, digits="1", lookup=OPEN)
    assert tags(parse(step.twiml)) == ["Say", "Dial"]
    assert (step.state.stage, step.state.dials) == (Stage.DIALING, 2)


@pytest.mark.parametrize(
    ("lookup", "prompts"),
    [
        (Lookup.CLOSED, ("request_closed", "enter_another")),
        (Lookup.NOT_FOUND, ("not_found", "enter_number")),
        (None, ("not_found", "enter_number")),
    ],
)
def test_press_one_after_the_request_changed_reprompts(lookup, prompts):
    step = flow.unreachable_choice(CTX, UNREACHABLE, digits="1", lookup=lookup)
    assert_asks_for_number(step, *prompts)
    assert step.state.attempts == 2


def test_press_two_asks_for_another_number_without_counting_an_attempt():
    step = flow.unreachable_choice(CTX, UNREACHABLE, digits="2", lookup=OPEN)
    assert_asks_for_number(step, "enter_number")
    assert step.state.attempts == 1


def test_an_empty_choice_says_goodbye():
    assert_ends(flow.unreachable_choice(CTX, UNREACHABLE, digits=None, lookup=OPEN), "goodbye")


@pytest.mark.parametrize("digits", ["3", "9", "*", "12"])
def test_any_other_key_repeats_the_choices_and_counts_an_attempt(digits):
    step = flow.unreachable_choice(CTX, UNREACHABLE, digits=digits, lookup=OPEN)
    root = parse(step.twiml)
    assert spoken(root.find("Gather")) == ["invalid_choice", "unreachable_options"]
    assert root.find("Gather").get("action") == URLS.after_unreachable
    assert (step.state.stage, step.state.attempts, step.state.outcome) == (
        Stage.UNREACHABLE,
        2,
        CallOutcome.CLIENT_BUSY,
    )


def test_a_wrong_key_at_the_attempt_limit_ends_the_call():
    state = CallState(
        stage=Stage.UNREACHABLE, attempts=2, dials=2, request_id=7, outcome=CallOutcome.CLIENT_BUSY
    )
    assert_ends(
        flow.unreachable_choice(CTX, state, digits="5", lookup=OPEN),
        "invalid_choice",
        "too_many_attempts",
    )


def test_apology_says_error_and_hangs_up():
    root = parse(flow.apology(Voice(language="en", voice="alice")))
    assert (tags(root), spoken(root)) == (["Say", "Hangup"], ["error"])


def test_russian_voice_says_the_russian_catalogue_in_ru_ru():
    step = flow.incoming(context(language="ru"), known_caller=True)
    says = parse(step.twiml).find("Gather").findall("Say")
    assert [(say.get("language"), say.text) for say in says] == [
        ("ru-RU", text("rules", "ru")),
        ("ru-RU", text("enter_number", "ru")),
    ]


keypad = st.one_of(st.none(), st.text(alphabet="0123456789*#", max_size=12))
at_prompt = st.one_of(
    st.tuples(st.just("silence"), st.none()),
    st.tuples(
        st.just("number"),
        st.tuples(keypad, st.sampled_from([None, Lookup.NOT_FOUND, Lookup.CLOSED])),
    ),
    st.tuples(st.just("open"), st.none()),
)
failed_dial = st.sampled_from(["busy", "no-answer", "canceled", "failed", "completed", ""])
after_unreachable = st.sampled_from(
    [("1", OPEN), ("1", Lookup.CLOSED), ("1", Lookup.NOT_FOUND), ("2", OPEN)]
)


@settings(max_examples=200, deadline=None)
@given(max_attempts=st.integers(1, 10), max_dials=st.integers(1, 10), data=st.data())
def test_any_run_of_failures_ends_with_a_hangup_within_its_budgets(max_attempts, max_dials, data):
    ctx = context(max_attempts=max_attempts, max_dials=max_dials)
    step = flow.incoming(ctx, known_caller=True)
    for _ in range(3 * (max_attempts + max_dials) + 1):
        state = step.state
        if state.stage is Stage.ENDED:
            break
        if state.stage is Stage.DIALING:
            step = flow.dial_finished(
                ctx,
                state,
                dial_status=data.draw(failed_dial),
                talk_seconds=0,
                client_accepted=False,
            )
        elif state.stage is Stage.UNREACHABLE:
            choice, lookup = data.draw(after_unreachable)
            step = flow.unreachable_choice(ctx, state, digits=choice, lookup=lookup)
        else:
            assert "Gather" in tags(parse(step.twiml))
            kind, detail = data.draw(at_prompt)
            if kind == "silence":
                step = flow.no_input(ctx, state)
            elif kind == "number":
                typed, lookup = detail
                step = flow.number_entered(ctx, state, digits=typed, lookup=lookup)
            else:
                step = flow.number_entered(ctx, state, digits="12345678", lookup=OPEN)
        assert step.state.attempts <= max_attempts
        assert step.state.dials <= max_dials
    assert step.state.stage is Stage.ENDED, "the call outlived its budgets"
    last = spoken(parse(step.twiml))[-1]
    if last == "too_many_dials":
        assert step.state.dials == max_dials
    else:
        assert (last, step.state.attempts) == ("too_many_attempts", max_attempts)
    assert tags(parse(step.twiml))[-1] == "Hangup"


@pytest.mark.parametrize(
    ("step", "stage"),
    [
        ("number", Stage.AWAITING_NUMBER),
        ("no_input", Stage.AWAITING_NUMBER),
        ("after_unreachable", Stage.UNREACHABLE),
        ("dial_result", Stage.DIALING),
        ("whisper", Stage.DIALING),
        ("whisper_answer", Stage.DIALING),
    ],
)
def test_each_step_belongs_to_one_stage_only(step, stage):
    assert [s for s in Stage if flow.in_turn(step, CallState(stage=s))] == [stage]


def test_a_step_out_of_turn_while_dialing_repeats_the_same_dial():
    client = OpenRequest(request_id=7, client_phone="+79161234567")
    dialing = flow.number_entered(
        CTX, CallState(stage=Stage.AWAITING_NUMBER), digits="1#", lookup=client
    )
    again = flow.resume(CTX, dialing.state, lookup=client)
    assert str(again) == str(dialing.twiml)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (CallState(stage=Stage.AWAITING_NUMBER), ["Gather", "Redirect"]),
        (CallState(stage=Stage.UNREACHABLE, attempts=1), ["Gather", "Gather", "Hangup"]),
        (CallState(stage=Stage.ENDED, outcome=CallOutcome.BRIDGED), ["Hangup"]),
        (CallState(stage=Stage.DIALING, request_id=7), ["Hangup"]),
    ],
)
def test_a_step_out_of_turn_hears_the_stage_the_call_is_in(state, expected):
    root = parse(flow.resume(CTX, state, lookup=None))
    assert [tag for tag in tags(root) if tag not in ("Say", "Play")] == expected


def test_a_locked_out_manager_hears_so_and_nothing_else():
    step = flow.incoming(CTX, known_caller=True, locked=True)
    assert_ends(step, "line_locked")
    assert step.state.outcome is CallOutcome.LOCKED_OUT


def test_a_locked_unknown_caller_is_still_only_an_unknown_caller():
    assert_ends(flow.incoming(CTX, known_caller=False, locked=True), "unknown_caller")


@pytest.mark.parametrize(
    ("digits", "lookup", "wrong"),
    [
        ("1#", None, True),
        ("12345678#", Lookup.NOT_FOUND, True),
        ("12345678#", Lookup.CLOSED, False),
        ("12345678#", OPEN, False),
        (None, None, False),
        ("#", None, False),
        ("", None, False),
    ],
)
def test_only_typed_numbers_that_miss_are_wrong_numbers(digits, lookup, wrong):
    assert flow.is_wrong_number(digits, lookup) is wrong
