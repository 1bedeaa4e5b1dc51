"""The manager's whole call over real HTTP, driven by the Twilio-behaving simulator."""

from __future__ import annotations

import pytest

from crm.enums import CallOutcome
from crm.numbers import with_check_digit
from ivr.simulator import HANG_UP, ScriptedCaller
from tests.helpers import (
    ANNA,
    ANNA_SECOND_PHONE,
    BORIS,
    call_row,
    call_steps,
    open_polis,
    prompt_keys,
    request_number,
    talk_seconds,
)


async def test_open_request_bridges_the_manager_to_the_client(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=95), from_number=ANNA)
    assert prompt_keys(record) == ["rules", "enter_number", "connecting", "call_ended"]
    assert prompt_keys(record, leg="client") == ["client_whisper"]
    assert [h.kind for h in record.heard if h.kind in ("dial", "bridged")] == ["dial", "bridged"]
    call = await call_row(sessions, record.call_sid)
    assert call.outcome is CallOutcome.BRIDGED
    assert await talk_seconds(sessions, record.call_sid) == 95
    assert call.attempts == 0
    assert call.ended_at is not None and call.duration_seconds == record.seconds
    assert await call_steps(sessions, record.call_sid) == [
        ("voice", "greeted"),
        ("number", "dialing"),
        ("whisper", "client_answered"),
        ("whisper_answer", "accepted"),
        ("dial_result", "bridged:95s"),
        ("status", "completed"),
    ]


async def test_second_phone_of_a_manager_is_recognised(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA_SECOND_PHONE)
    assert (await call_row(sessions, record.call_sid)).outcome is CallOutcome.BRIDGED


@pytest.mark.parametrize("caller", ["+79000000000", "anonymous", "", "+266696687"])
async def test_unknown_or_withheld_caller_is_turned_away(simulator, demo, sessions, caller):
    record = await simulator.call(ScriptedCaller(), from_number=caller)
    assert prompt_keys(record) == ["unknown_caller"]
    assert not [h for h in record.heard if h.kind == "gather"]
    call = await call_row(sessions, record.call_sid)
    assert call.outcome is CallOutcome.UNKNOWN_CALLER
    assert call.manager_id is None


async def test_the_manager_may_type_during_the_rules(simulator, demo):
    number = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
    first = record.documents[0][1]
    assert first.index("<Gather") < first.index("rules.wav") < first.index("</Gather>")


async def test_silence_reprompts_then_a_number_connects(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller([None, f"{number}#"]), from_number=ANNA)
    assert prompt_keys(record)[:5] == [
        "rules",
        "enter_number",
        "no_input",
        "enter_number",
        "connecting",
    ]
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, call.attempts) == (CallOutcome.BRIDGED, 1)


async def test_wrong_check_digit_is_not_valid(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    record = await simulator.call(ScriptedCaller([f"{typo}#", HANG_UP]), from_number=ANNA)
    assert prompt_keys(record)[2:] == ["invalid_number", "enter_number"]
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, call.attempts) == (CallOutcome.WRONG_INPUT, 1)


async def test_other_organizations_request_sounds_exactly_like_a_missing_one(
    simulator, demo, sessions
):
    theirs = request_number(demo, partner="Sunny Tours", status="open")
    missing = with_check_digit("1234567")  # a valid check digit, but no such request
    foreign = await simulator.call(ScriptedCaller([f"{theirs}#", HANG_UP]), from_number=ANNA)
    unknown = await simulator.call(ScriptedCaller([f"{missing}#", HANG_UP]), from_number=ANNA)
    assert prompt_keys(foreign)[2:] == ["not_found", "enter_number"]
    assert foreign.documents[1][1] == unknown.documents[1][1]
    assert (await call_row(sessions, foreign.call_sid)).outcome is CallOutcome.NOT_FOUND
    assert (await call_row(sessions, foreign.call_sid)).request_id is None


async def test_closed_request_offers_another_number(simulator, demo, sessions):
    closed = request_number(demo, partner="Polis Insurance", status="closed")
    number = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller([f"{closed}#", f"{number}#"]), from_number=ANNA)
    assert prompt_keys(record)[2:5] == ["request_closed", "enter_another", "connecting"]
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, call.attempts) == (CallOutcome.BRIDGED, 1)


async def test_attempt_limit_ends_with_a_polite_goodbye(simulator, demo, sessions):
    closed = request_number(demo, partner="Polis Insurance", status="closed")
    presses = ["1#", None, f"{closed}#", "never used"]
    record = await simulator.call(ScriptedCaller(presses), from_number=ANNA)
    assert prompt_keys(record)[-2:] == ["request_closed", "too_many_attempts"]
    assert record.heard[-1].kind == "hangup"
    assert len([h for h in record.heard if h.kind == "gather"]) == 3
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, call.attempts) == (CallOutcome.REQUEST_CLOSED, 3)


@pytest.mark.parametrize(
    ("dial_result", "outcome"),
    [
        ("busy", CallOutcome.CLIENT_BUSY),
        ("no-answer", CallOutcome.CLIENT_NO_ANSWER),
        ("failed", CallOutcome.CLIENT_FAILED),
        ("canceled", CallOutcome.CLIENT_NO_ANSWER),
        ("voicemail", CallOutcome.VOICEMAIL),
    ],
)
async def test_unreachable_client_is_reported_and_logged(
    simulator, demo, sessions, dial_result, outcome
):
    number = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{number}#", None], [dial_result]), from_number=ANNA
    )
    assert prompt_keys(record)[2:] == [
        "connecting",
        "client_unreachable",
        "unreachable_options",
        "unreachable_options",
        "goodbye",
    ], "silence at the choice hears it once more before the goodbye"
    assert not [h for h in record.heard if h.kind == "bridged"]
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, await talk_seconds(sessions, record.call_sid)) == (outcome, 0)


async def test_voicemail_hears_the_whisper_but_never_accepts(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{number}#", HANG_UP], ["voicemail"]), from_number=ANNA
    )
    assert prompt_keys(record, leg="client") == ["client_whisper"]
    steps = await call_steps(sessions, record.call_sid)
    assert ("whisper_answer", "accepted") not in steps
    assert ("dial_result", "voicemail") in steps


async def test_press_one_tries_the_client_again(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{number}#", "1"], ["busy", "answered"], talk_seconds=30), from_number=ANNA
    )
    assert prompt_keys(record).count("connecting") == 2
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, call.dials, await talk_seconds(sessions, record.call_sid)) == (
        CallOutcome.BRIDGED,
        2,
        30,
    )


async def test_press_two_enters_another_request(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{number}#", "2", f"{number}#"], ["no-answer", "answered"]),
        from_number=ANNA,
    )
    keys = prompt_keys(record)
    assert keys[keys.index("unreachable_options") + 1] == "enter_number"
    assert (await call_row(sessions, record.call_sid)).outcome is CallOutcome.BRIDGED


async def test_retry_after_the_agent_closed_the_request_says_closed(simulator, demo, sessions):
    from sqlalchemy import update

    from crm.enums import RequestStatus
    from crm.models import Request

    number = open_polis(demo)["number"]

    class ClosingCaller(ScriptedCaller):
        async def keypad(self, heard):
            keys = await super().keypad(heard)
            if keys == "1":
                async with sessions.begin() as session:
                    await session.execute(
                        update(Request)
                        .where(Request.number == number)
                        .values(status=RequestStatus.CLOSED)
                    )
            return keys

    record = await simulator.call(
        ClosingCaller([f"{number}#", "1", HANG_UP], ["busy"]), from_number=ANNA
    )
    assert prompt_keys(record)[-2:] == ["request_closed", "enter_another"]


async def test_caller_hanging_up_before_typing_is_logged(simulator, demo, sessions):
    record = await simulator.call(ScriptedCaller([HANG_UP]), from_number=BORIS)
    assert record.hung_up_by == "caller"
    call = await call_row(sessions, record.call_sid)
    assert call.outcome is CallOutcome.CALLER_HUNG_UP
    assert call.ended_at is not None


async def test_a_wrong_key_at_the_choice_repeats_it(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{number}#", "7", "1"], ["busy", "answered"]), from_number=ANNA
    )
    keys = prompt_keys(record)
    assert keys[keys.index("invalid_choice") + 1] == "unreachable_options"
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, call.attempts, call.dials) == (CallOutcome.BRIDGED, 1, 2), (
        "the wrong key counts, the busy client does not"
    )


async def test_each_request_a_call_reached_lists_its_own_dial(simulator, demo, sessions):
    from crm.requests.service import request_calls
    from tests.crm_client import AGENT, account_actor

    polis = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{polis}#", "2", f"{polis}#"], ["busy", "answered"], talk_seconds=20),
        from_number=ANNA,
    )
    assert (await call_row(sessions, record.call_sid)).outcome is CallOutcome.BRIDGED
    async with sessions() as session:
        actor = await account_actor(session, AGENT[0])
        rows = await request_calls(session, actor=actor, number=polis)
    assert [(row.outcome, row.bridged_seconds, row.manager_name) for row in rows] == [
        (CallOutcome.BRIDGED, 20, "Anna Sokolova"),
        (CallOutcome.CLIENT_BUSY, 0, "Anna Sokolova"),
    ]


async def test_an_unreachable_client_has_a_dial_budget_of_its_own(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{number}#", "1", "1"], ["busy", "no-answer", "voicemail"]),
        from_number=ANNA,
    )
    assert prompt_keys(record)[-2:] == ["client_unreachable", "too_many_dials"]
    call = await call_row(sessions, record.call_sid)
    assert (call.outcome, call.attempts, call.dials) == (CallOutcome.VOICEMAIL, 0, 3)
