"""Whatever fails or arrives, a Twilio webhook answers TwiML; status callbacks apply once."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from crm.enums import CallOutcome
from ivr.app import create_app
from ivr.simulator import ScriptedCaller, new_sid
from ivr.webhooks.events import CallEvent, DialEvent, StatusEvent, WhisperEvent
from tests.conftest import AUTH_TOKEN, make_config
from tests.helpers import ANNA, call_dials, call_row, call_steps, open_polis, signed_post
from tests.helpers import VOICE_ROUTES as ROUTES
from tests.logcapture import captured_logs, log_events
from tests.twiml import parse, spoken, tags

DEAD_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
LIVE_SID = "CA" + "1" * 32


@pytest.fixture(autouse=True)
def log_output():
    """The real JSON logging: failures are logged as production logs them (and quickly)."""
    with captured_logs() as stream:
        yield stream


def step_params(call_sid: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "ParentCallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": ANNA,
        "To": "+15005550006",
        "CallStatus": "in-progress",
        "Digits": "1",
        "DialCallStatus": "busy",
        "DialCallDuration": "0",
        **extra,
    }


def assert_apology(status: int, kind: str, body: str) -> None:
    assert (status, kind) == (200, "text/xml; charset=utf-8")
    root = parse(body)
    assert spoken(root) == ["error"]
    assert tags(root)[-1] == "Hangup"


@pytest.mark.parametrize("path", ROUTES)
async def test_dead_database_still_answers_an_apology(aiohttp_server, http, log_output, path):
    server = await aiohttp_server(create_app(make_config(DEAD_DATABASE)))
    params = step_params(new_sid(), CallStatus="completed" if path == "/ivr/status" else "")
    reply = await signed_post(http, str(server.make_url("")), path, params)
    assert_apology(*reply)
    [failed] = [e for e in log_events(log_output) if e["event"] == "webhook_failed"]
    assert (failed["path"], failed["level"]) == (path, "error")
    assert "ConnectionRefusedError" in failed["exception"]


@pytest.mark.parametrize("path", ROUTES[1:-1])
async def test_step_for_an_unknown_call_is_an_apology(server, http, demo, path):
    reply = await signed_post(http, str(server.make_url("")), path, step_params(new_sid()))
    assert_apology(*reply)


async def test_call_without_a_call_sid_is_an_apology(server, http, demo):
    params = step_params(new_sid())
    del params["CallSid"]
    assert_apology(*await signed_post(http, str(server.make_url("")), "/ivr/voice", params))


FIELDS = [
    "CallSid",
    "ParentCallSid",
    "From",
    "Digits",
    "DialCallStatus",
    "DialCallDuration",
    "CallStatus",
    "CallDuration",
]
# str.isdigit() is true for these, yet int() refuses them: superscripts, circled digits...
DIGIT_LOOKALIKES = "".join(c for c in map(chr, range(0x2500)) if c.isdigit() and not c.isdecimal())
unicode_digits = st.one_of(st.characters(categories=["Nd"]), st.sampled_from(DIGIT_LOOKALIKES))
form_keys = st.one_of(st.sampled_from(FIELDS), st.text(min_size=1, max_size=20))
form_values = st.one_of(
    st.text(max_size=40),
    st.text(unicode_digits, min_size=1, max_size=3),
    st.text(alphabet="0123456789*#w ,+-", max_size=80),
    st.sampled_from(
        [
            LIVE_SID,
            ANNA,
            "completed",
            "busy",
            "in-progress",
            "1",
            "2",
            "#",
            "48123573#",
            "-1",
            "99999999999999999999",
            "+" + "7" * 30,
        ]
    ),
    st.integers(1_000, 60_000).map(lambda n: "7" * n),
)


@pytest.mark.parametrize("path", ROUTES)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(form=st.dictionaries(form_keys, form_values, max_size=8))
async def test_signed_garbage_always_gets_twiml(server, http, demo, path, form):
    base = str(server.make_url(""))
    await signed_post(http, base, "/ivr/voice", step_params(LIVE_SID, CallStatus="ringing"))
    signature = RequestValidator(AUTH_TOKEN).compute_signature(base + path, form)
    async with http.post(
        base + path,
        data=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ) as reply:
        body = await reply.text()
    assert (reply.status, reply.content_type) == (200, "text/xml"), body[:300]
    assert ET.fromstring(body).tag == "Response"


@given(form=st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, form_values)))
@example(form={"DialCallDuration": "²", "CallDuration": "①"})
@example(form={"Digits": "１２３#", "From": "+７９９９", "CallSid": "CA\u0661\u0662"})
def test_event_parsing_turns_garbage_into_none_never_an_exception(form):
    call, dial = CallEvent.parse(form), DialEvent.parse(form)
    whisper, status = WhisperEvent.parse(form), StatusEvent.parse(form)
    assert call.call_sid == "" or (call.call_sid.isascii() and call.call_sid.isalnum())
    assert whisper.parent_call_sid == "" or whisper.parent_call_sid.isascii()
    assert call.digits is None or set(call.digits) <= set("0123456789*#")
    assert dial.talk_seconds >= 0
    assert status.duration is None or status.duration >= 0


def test_over_long_call_sid_is_refused_not_cut_to_another_sid():
    form = {"CallSid": "CA" + "1" * 70, "ParentCallSid": "CA" + "2" * 70}
    assert CallEvent.parse(form).call_sid == ""
    assert WhisperEvent.parse(form).parent_call_sid == ""


async def test_status_with_an_odd_duration_still_ends_the_call(server, http, demo, sessions):
    base = str(server.make_url(""))
    await signed_post(http, base, "/ivr/voice", step_params(LIVE_SID, CallStatus="ringing"))
    status, _, body = await signed_post(
        http, base, "/ivr/status", step_params(LIVE_SID, CallStatus="completed", CallDuration="²")
    )
    assert (status, tags(parse(body))) == (200, [])
    assert (await call_row(sessions, LIVE_SID)).ended_at is not None


async def snapshot(sessions, call_sid: str) -> tuple:
    call = await call_row(sessions, call_sid)
    dials = [
        (dial.outcome, dial.dial_status, dial.client_accepted, dial.talk_seconds)
        for dial in await call_dials(sessions, call_sid)
    ]
    return (
        call.stage,
        call.outcome,
        call.ended_at,
        call.duration_seconds,
        call.attempts,
        dials,
    )


async def test_duplicate_completed_callback_changes_nothing(
    simulator, server, http, demo, sessions
):
    number = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
    before = await snapshot(sessions, record.call_sid)
    status, _, body = await signed_post(
        http,
        str(server.make_url("")),
        "/ivr/status",
        step_params(record.call_sid, CallStatus="completed", CallDuration="999"),
    )
    assert (status, tags(parse(body))) == (200, [])
    assert await snapshot(sessions, record.call_sid) == before
    steps = await call_steps(sessions, record.call_sid)
    assert [step for step in steps if step[0] == "status"] == [("status", "completed")]


@pytest.mark.parametrize("late", ["ringing", "in-progress", "queued", "busy"])
async def test_status_after_the_final_one_changes_nothing(
    simulator, server, http, demo, sessions, late
):
    record = await simulator.call(ScriptedCaller([None, None, None]), from_number=ANNA)
    before = await snapshot(sessions, record.call_sid)
    steps = await call_steps(sessions, record.call_sid)
    await signed_post(
        http,
        str(server.make_url("")),
        "/ivr/status",
        step_params(record.call_sid, CallStatus=late, CallDuration="5"),
    )
    assert await snapshot(sessions, record.call_sid) == before
    assert await call_steps(sessions, record.call_sid) == steps
    assert before[:2] == ("ended", CallOutcome.WRONG_INPUT)


async def test_status_for_an_unknown_call_records_a_hang_up(server, http, demo, sessions):
    sid = new_sid()
    await signed_post(
        http,
        str(server.make_url("")),
        "/ivr/status",
        step_params(sid, CallStatus="no-answer", CallDuration="0"),
    )
    call = await call_row(sessions, sid)
    assert (call.outcome, call.stage, call.caller, call.manager_id) == (
        CallOutcome.CALLER_HUNG_UP,
        "ended",
        ANNA,
        None,
    )
    assert call.ended_at is not None
    assert await call_steps(sessions, sid) == [("status", "no-answer")]


async def test_non_final_status_for_an_unknown_call_records_nothing(server, http, demo, sessions):
    sid = new_sid()
    await signed_post(
        http, str(server.make_url("")), "/ivr/status", step_params(sid, CallStatus="ringing")
    )
    assert await call_row(sessions, sid) is None


async def test_a_locked_database_still_answers_the_apology_within_the_budget(
    aiohttp_server, http, tmp_path, log_output
):
    import sqlite3
    import time

    from crm.db import create_engine
    from ivr.migrate import upgrade

    path = tmp_path / "locked.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()
    config = make_config(f"sqlite+aiosqlite:///{path}", ivr={"answer_budget_ms": 300})
    server = await aiohttp_server(create_app(config))
    base = str(server.make_url(""))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        reply = await signed_post(http, base, "/ivr/voice", step_params(new_sid()))
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_apology(*reply)
    assert elapsed < 2, elapsed
    [over] = [e for e in log_events(log_output) if e["event"] == "webhook_over_budget"]
    assert (over["path"], over["budget_ms"]) == ("/ivr/voice", 300)
    # The lock gone, the same server answers the next call normally.
    reply = await signed_post(http, base, "/ivr/voice", step_params(new_sid()))
    assert spoken(parse(reply[2])) == ["unknown_caller"]


async def test_nul_characters_and_huge_numbers_never_reach_the_database(
    server, http, demo, sessions, log_output
):
    base = str(server.make_url(""))
    await signed_post(http, base, "/ivr/voice", step_params(LIVE_SID, CallStatus="ringing"))
    number = open_polis(demo)["number"]
    status, _, body = await signed_post(
        http, base, "/ivr/number", step_params(LIVE_SID, Digits=f"{number}#")
    )
    assert "Dial" in tags(parse(body))
    status, _, body = await signed_post(
        http,
        base,
        "/ivr/dial-result",
        step_params(LIVE_SID, DialCallStatus="busy\x00", DialCallDuration="99999999999"),
    )
    assert status == 200 and spoken(parse(body)) != ["error"], body
    status, _, body = await signed_post(
        http,
        base,
        "/ivr/status",
        step_params(LIVE_SID, CallStatus="completed", CallDuration="4294967296"),
    )
    assert (status, tags(parse(body))) == (200, [])
    call = await call_row(sessions, LIVE_SID)
    assert call.ended_at is not None and call.duration_seconds is None
    assert not [e for e in log_events(log_output) if e["level"] == "error"]


@pytest.mark.parametrize("path", ROUTES[1:-1])
async def test_a_step_for_an_unknown_call_is_one_warning_line(server, http, demo, path, log_output):
    reply = await signed_post(http, str(server.make_url("")), path, step_params(new_sid()))
    assert_apology(*reply)
    lines = [e for e in log_events(log_output) if e.get("logger") != "aiohttp.access"]
    assert [(e["event"], e["level"]) for e in lines] == [("webhook_unknown_call", "warning")]
    assert "exception" not in lines[0]
