"""Callbacks that arrive after the caller is gone: the call's record stays final."""

from __future__ import annotations

from crm.enums import CallOutcome
from ivr.simulator import new_sid
from tests.helpers import (
    ANNA,
    call_dials,
    call_row,
    call_steps,
    open_polis,
    signed_post,
    talk_seconds,
    verbs,
)

pytest_plugins = ("tests.api_fixtures",)


async def _dialing_call(server, http, demo) -> tuple[str, str]:
    """A call that has dialed the client; returns (server URL, CallSid)."""
    url, sid = str(server.make_url("")), new_sid()
    await signed_post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    number = open_polis(demo)["number"]
    status, _, body = await signed_post(
        http, url, "/ivr/number", {"CallSid": sid, "From": ANNA, "Digits": number}
    )
    assert status == 200 and "Dial" in verbs(body)
    return url, sid


async def _hang_up(http, url: str, sid: str) -> None:
    await signed_post(
        http, url, "/ivr/status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "30"}
    )


async def _client_accepts(http, url: str, sid: str) -> None:
    child = {"CallSid": new_sid(), "ParentCallSid": sid}
    await signed_post(http, url, "/ivr/whisper", child)
    await signed_post(http, url, "/ivr/whisper/answer", {**child, "Digits": "1"})


async def _bridged(http, url: str, sid: str, seconds: int) -> None:
    await signed_post(
        http,
        url,
        "/ivr/dial-result",
        {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": str(seconds)},
    )


async def test_late_unanswered_dial_result_does_not_reopen_an_ended_call(
    server, http, demo, sessions
):
    url, sid = await _dialing_call(server, http, demo)
    await _hang_up(http, url, sid)
    ended = await call_row(sessions, sid)
    status, kind, body = await signed_post(
        http, url, "/ivr/dial-result", {"CallSid": sid, "DialCallStatus": "no-answer"}
    )
    assert (status, kind.split(";")[0], verbs(body)) == (200, "text/xml", [])
    call = await call_row(sessions, sid)
    assert (call.stage, call.attempts, call.outcome) == (
        "ended",
        ended.attempts,
        CallOutcome.CALLER_HUNG_UP,
    )
    assert (await call_steps(sessions, sid))[-1] == ("dial_result", "after_end:client_no_answer")
    [dial] = await call_dials(sessions, sid)
    assert (dial.outcome, dial.dial_status, dial.talk_seconds) == (
        CallOutcome.CALLER_HUNG_UP,
        "no-answer",
        0,
    )


async def test_late_bridged_dial_result_still_records_the_conversation(
    server, http, demo, sessions
):
    url, sid = await _dialing_call(server, http, demo)
    await _client_accepts(http, url, sid)
    await _hang_up(http, url, sid)
    await _bridged(http, url, sid, 25)
    call = await call_row(sessions, sid)
    assert (call.outcome, await talk_seconds(sessions, sid), call.stage) == (
        CallOutcome.BRIDGED,
        25,
        "ended",
    )
    assert (await call_steps(sessions, sid))[-1] == ("dial_result", "after_end:bridged:25s")


async def test_a_bridge_reported_after_the_hangup_shows_in_the_requests_history(
    server, http, demo, sessions, api_agent
):
    url, sid = await _dialing_call(server, http, demo)
    await _client_accepts(http, url, sid)
    await _hang_up(http, url, sid)
    number = open_polis(demo)["number"]
    before = (await api_agent.get(f"/api/v1/requests/{number}/calls")).json["items"]
    assert [(c["outcome"], c["bridged_seconds"]) for c in before] == [("caller_hung_up", 0)]
    await _bridged(http, url, sid, 64)
    reply = await api_agent.get(f"/api/v1/requests/{number}/calls")
    assert reply.status == 200
    assert [(c["outcome"], c["bridged_seconds"]) for c in reply.json["items"]] == [("bridged", 64)]
    [dial] = await call_dials(sessions, sid)
    assert (dial.client_accepted, dial.dial_status) == (True, "completed")


async def test_dial_result_racing_the_status_callback_keeps_the_conversation(
    server, http, demo, sessions
):
    import asyncio

    sids = []
    for _ in range(8):
        url, sid = await _dialing_call(server, http, demo)
        await _client_accepts(http, url, sid)
        sids.append(sid)
    await asyncio.gather(
        *(post for sid in sids for post in (_bridged(http, url, sid, 64), _hang_up(http, url, sid)))
    )
    for sid in sids:
        call = await call_row(sessions, sid)
        assert (call.outcome, await talk_seconds(sessions, sid)) == (CallOutcome.BRIDGED, 64), sid
        assert call.ended_at is not None
        [dial] = await call_dials(sessions, sid)
        assert (dial.outcome, dial.talk_seconds) == (CallOutcome.BRIDGED, 64), sid


async def test_a_dial_cut_short_by_the_manager_hanging_up_is_listed_as_such(
    server, http, demo, sessions
):
    from sqlalchemy import select

    from crm.models import DialAttempt

    url, sid = await _dialing_call(server, http, demo)
    await _hang_up(http, url, sid)
    call = await call_row(sessions, sid)
    async with sessions() as session:
        outcomes = list(
            await session.scalars(select(DialAttempt.outcome).where(DialAttempt.call_id == call.id))
        )
    assert outcomes == [CallOutcome.CALLER_HUNG_UP]
