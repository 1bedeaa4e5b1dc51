"""Retried, replayed and racing steps: answered as TwiML, and the call's record stays true."""

from __future__ import annotations

import asyncio

from crm.enums import CallOutcome
from ivr.simulator import new_sid
from tests.helpers import ANNA, call_dials, call_row, call_steps, open_polis, signed_post, verbs
from tests.twiml import parse, spoken


async def _post(http, url: str, path: str, params: dict[str, str]) -> tuple[int, str, str]:
    return await signed_post(http, url, path, params)


async def _dialing(server, http, demo) -> tuple[str, str]:
    url, sid = str(server.make_url("")), new_sid()
    await _post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    number = open_polis(demo)["number"]
    _, _, body = await _post(http, url, "/ivr/number", {"CallSid": sid, "Digits": f"{number}#"})
    assert "Dial" in verbs(body)
    return url, sid


async def _snapshot(sessions, sid: str) -> tuple:
    call = await call_row(sessions, sid)
    dials = [(d.outcome, d.dial_status, d.client_accepted) for d in await call_dials(sessions, sid)]
    return (call.stage, call.outcome, call.attempts, call.dials, call.ended_at, dials)


async def test_a_retried_first_webhook_hears_the_greeting_and_changes_nothing(
    server, http, demo, sessions
):
    url, sid = str(server.make_url("")), new_sid()
    first = await _post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    before = await _snapshot(sessions, sid)
    again = await _post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    assert again == first
    assert await _snapshot(sessions, sid) == before
    assert await call_steps(sessions, sid) == [("voice", "greeted")]


async def test_a_replayed_first_webhook_while_dialing_keeps_the_dial(server, http, demo, sessions):
    url, sid = await _dialing(server, http, demo)
    before = await _snapshot(sessions, sid)
    status, _, body = await _post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    assert status == 200 and spoken(parse(body)) != ["error"]
    assert await _snapshot(sessions, sid) == before
    assert before[0] == "dialing"
    await _post(http, url, "/ivr/dial-result", {"CallSid": sid, "DialCallStatus": "busy"})
    [dial] = await call_dials(sessions, sid)
    assert (dial.outcome, dial.dial_status) == (CallOutcome.CLIENT_BUSY, "busy")


async def test_a_replayed_first_webhook_after_the_end_keeps_the_outcome(
    server, http, demo, sessions
):
    url, sid = await _dialing(server, http, demo)
    await _post(http, url, "/ivr/status", {"CallSid": sid, "CallStatus": "completed"})
    before = await _snapshot(sessions, sid)
    status, _, body = await _post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    assert (status, verbs(body)) == (200, ["Hangup"])
    assert await _snapshot(sessions, sid) == before
    assert before[:2] == ("ended", CallOutcome.CALLER_HUNG_UP)


async def test_simultaneous_copies_of_the_first_webhook_all_get_the_greeting(
    server, http, demo, sessions
):
    url, sid = str(server.make_url("")), new_sid()
    replies = await asyncio.gather(
        *(_post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA}) for _ in range(20))
    )
    for status, _, body in replies:
        assert status == 200
        assert spoken(parse(body).find("Gather")) == ["rules", "enter_number"], body
    assert await call_steps(sessions, sid) == [("voice", "greeted")]


async def test_simultaneous_number_steps_dial_once(server, http, demo, sessions):
    url, sid = str(server.make_url("")), new_sid()
    await _post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    number = open_polis(demo)["number"]
    replies = await asyncio.gather(
        *(
            _post(http, url, "/ivr/number", {"CallSid": sid, "Digits": f"{number}#"})
            for _ in range(5)
        )
    )
    assert [status for status, _, _ in replies] == [200] * 5
    # Each answer is the one dial (a retry needs it); only one dial is recorded.
    assert all("Dial" in verbs(body) for _, _, body in replies)
    assert len(await call_dials(sessions, sid)) == 1
    call = await call_row(sessions, sid)
    assert (call.stage, call.dials) == ("dialing", 1)
    assert [s for s in await call_steps(sessions, sid) if s[0] == "number"] == [
        ("number", "dialing")
    ]


async def test_a_whisper_racing_its_answer_never_loses_the_acceptance(server, http, demo, sessions):
    sids = []
    for _ in range(10):
        url, sid = await _dialing(server, http, demo)
        sids.append(sid)
    legs = {sid: {"CallSid": new_sid(), "ParentCallSid": sid} for sid in sids}
    await asyncio.gather(
        *(
            post
            for sid, leg in legs.items()
            for post in (
                _post(http, url, "/ivr/whisper", leg),
                _post(http, url, "/ivr/whisper/answer", {**leg, "Digits": "1"}),
            )
        )
    )
    for sid in sids:
        await _post(
            http,
            url,
            "/ivr/dial-result",
            {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "30"},
        )
        assert (await call_row(sessions, sid)).outcome is CallOutcome.BRIDGED, sid


async def test_steps_out_of_their_stage_change_nothing(server, http, demo, sessions):
    url, sid = await _dialing(server, http, demo)
    before = await _snapshot(sessions, sid)
    for path, extra in [
        ("/ivr/number", {"Digits": f"{open_polis(demo)['number']}#"}),
        ("/ivr/no-input", {}),
        ("/ivr/after-unreachable", {"Digits": "1"}),
    ]:
        status, _, body = await _post(http, url, path, {"CallSid": sid, **extra})
        assert status == 200 and spoken(parse(body)) != ["error"], path
    assert await _snapshot(sessions, sid) == before
    await _post(http, url, "/ivr/dial-result", {"CallSid": sid, "DialCallStatus": "busy"})
    unreachable = await _snapshot(sessions, sid)
    assert unreachable[:3] == ("unreachable", CallOutcome.CLIENT_BUSY, 0)
    leg = {"CallSid": new_sid(), "ParentCallSid": sid}
    replayed = [
        ("/ivr/dial-result", {"CallSid": sid, "DialCallStatus": "busy"}),
        ("/ivr/whisper", leg),
        ("/ivr/whisper/answer", {**leg, "Digits": "1"}),
        ("/ivr/number", {"CallSid": sid, "Digits": f"{open_polis(demo)['number']}#"}),
        ("/ivr/no-input", {"CallSid": sid}),
    ]
    for path, params in replayed:
        status, _, body = await _post(http, url, path, params)
        assert status == 200 and "Dial" not in verbs(body), (path, body)
        assert spoken(parse(body)) != ["error"], path
    assert await _snapshot(sessions, sid) == unreachable
