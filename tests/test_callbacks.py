"""The client calls the service number back: put through to the manager who last talked
with them about their one open request, both numbers hidden, the manager's leg screened."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from crm.enums import CallKind, CallOutcome
from crm.models import DialAttempt, Organization
from crm.partners.service import add_manager
from crm.schemas import ManagerIn
from ivr.app import create_app
from ivr.flows import client_callback as callback_flow
from ivr.flows.prompts import TEMPLATES, text
from ivr.simulator import HANG_UP, ScriptedCaller, new_sid
from tests.api_helpers import account_actor
from tests.crm_client import ADMIN, has_text
from tests.helpers import (
    ANNA,
    ANNA_SECOND_PHONE,
    call_row,
    open_polis,
    prompt_keys,
    signed_post,
    verbs,
)
from tests.logcapture import captured_logs
from tests.signup_helpers import Clock
from tests.test_flows import context as flow_context_for_tests
from tests.test_privacy import phone_forms
from tests.twiml import parse, spoken

pytest_plugins = ("tests.api_fixtures", "tests.crm_fixtures")

SERVICE = "+15005550006"
VERA = "+79990000077"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def server(aiohttp_server, config, engine, clock):
    return await aiohttp_server(create_app(config, clock=clock))


def text_of(key: str, language: str) -> str:
    return TEMPLATES[key][language]


def client_of(demo: dict, number: str) -> str:
    return next(r["client_phone"] for r in demo["requests"] if r["number"] == number)


async def manager_calls(simulator, number: str, *, result: str = "answered", caller: str = ANNA):
    """A manager's call to the request's client: talked, or the client did not answer."""
    presses = [f"{number}#"] if result == "answered" else [f"{number}#", HANG_UP]
    record = await simulator.call(ScriptedCaller(presses, [result]), from_number=caller)
    return record


def dial_of(record) -> ET.Element:
    """The <Dial> the client's call back was answered with."""
    (first_url, first), *_ = record.documents
    assert first_url.endswith("/ivr/voice")
    dial = ET.fromstring(first).find("Dial")
    assert dial is not None, first
    return dial


def said(record, leg: str = "caller") -> str:
    return " ".join(h.text or "" for h in record.heard if h.kind == "say" and h.leg == leg)


async def test_a_client_calling_back_reaches_the_manager_who_talked_with_them(
    simulator, demo, sessions
):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    client = client_of(demo, polis["number"])
    record = await simulator.call(ScriptedCaller([], ["answered"]), from_number=client)

    dial = dial_of(record)
    assert dial.get("callerId") == SERVICE, "the manager sees the service number"
    assert (dial.find("Number").text, dial.get("action").endswith("/ivr/callback/result")) == (
        ANNA,
        True,
    )
    assert "Polis Insurance" in said(record) and "CASCO renewal" in said(record)
    assert " ".join(polis["number"]) in said(record, leg="client"), "the manager hears the number"
    assert [h.kind for h in record.heard].count("bridged") == 1
    assert prompt_keys(record)[-1] == "call_ended"

    call = await call_row(sessions, record.call_sid)
    assert (call.kind, call.outcome, call.caller) == (
        CallKind.CALLBACK,
        CallOutcome.BRIDGED,
        client,
    )
    async with sessions() as session:
        dials = list(
            await session.scalars(select(DialAttempt).where(DialAttempt.call_id == call.id))
        )
    assert [(d.outcome, d.client_accepted, d.talk_seconds) for d in dials] == [
        (CallOutcome.BRIDGED, True, 42)
    ]


async def test_a_missed_callback_tells_the_client_and_shows_on_the_request(
    simulator, demo, sessions, api_agent, agent
):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    client = client_of(demo, polis["number"])
    for manager_leg in ("no-answer", "busy", "voicemail"):
        record = await simulator.call(ScriptedCaller([], [manager_leg]), from_number=client)
        assert prompt_keys(record)[-1] == "callback_missed", manager_leg
        call = await call_row(sessions, record.call_sid)
        assert call.outcome is CallOutcome.CALLBACK_MISSED, manager_leg

    history = (await api_agent.get(f"/api/v1/requests/{polis['number']}/calls")).json["items"]
    assert [(item["kind"], item["outcome"]) for item in history] == [
        ("client_callback", "callback_missed"),
        ("client_callback", "callback_missed"),
        ("client_callback", "callback_missed"),
        ("manager_call", "bridged"),
    ]
    assert history[0]["manager_name"] == "Anna Sokolova"
    page = await agent.get(f"/requests/{polis['number']}")
    assert page.status == 200
    assert has_text(page.text, "Client called back") and has_text(page.text, "callback missed")


async def test_a_stranger_hears_the_line_is_for_managers(simulator, demo, sessions):
    record = await simulator.call(ScriptedCaller([]), from_number="+79995550101")
    assert prompt_keys(record) == ["unknown_caller"]
    call = await call_row(sessions, record.call_sid)
    assert (call.kind, call.outcome) == (CallKind.MANAGER, CallOutcome.UNKNOWN_CALLER)


async def test_a_client_with_nothing_to_call_back_about_is_told_politely(
    simulator, demo, sessions, api_agent, clock
):
    polis = open_polis(demo)
    client = client_of(demo, polis["number"])
    never_called = await simulator.call(ScriptedCaller([]), from_number=client)
    assert prompt_keys(never_called) == ["callback_nothing_open"]

    await manager_calls(simulator, polis["number"])
    clock.advance(15 * 24 * 3600)
    too_long_ago = await simulator.call(ScriptedCaller([]), from_number=client)
    assert prompt_keys(too_long_ago) == ["callback_nothing_open"]

    await manager_calls(simulator, polis["number"])
    closed = await api_agent.post(f"/api/v1/requests/{polis['number']}/close")
    assert closed.status == 200
    only_closed = await simulator.call(ScriptedCaller([]), from_number=client)
    assert prompt_keys(only_closed) == ["callback_nothing_open"]
    for record in (never_called, too_long_ago, only_closed):
        assert "Dial" not in record.documents[0][1]
        assert (await call_row(sessions, record.call_sid)).outcome is CallOutcome.CALLBACK_NONE


async def test_two_open_requests_called_about_are_not_chosen_between(
    simulator, demo, sessions, api_agent
):
    polis = open_polis(demo)
    repeated = await api_agent.post(f"/api/v1/requests/{polis['number']}/repeat")
    assert repeated.status == 201, repeated.text
    second = repeated.json["number"]
    await manager_calls(simulator, polis["number"])
    await manager_calls(simulator, second, result="no-answer")
    record = await simulator.call(ScriptedCaller([]), from_number=client_of(demo, polis["number"]))
    assert prompt_keys(record) == ["callback_several"]
    answer = record.documents[0][1]
    for hidden in (polis["number"], second, "Polis", "CASCO", ANNA, "Anna"):
        assert hidden not in answer, hidden
    assert (await call_row(sessions, record.call_sid)).outcome is CallOutcome.CALLBACK_AMBIGUOUS


async def add_vera(sessions, clock) -> None:
    """A second manager of Polis Insurance, with a phone of her own."""
    admin = await account_actor(sessions, ADMIN[0])
    async with sessions.begin() as session:
        partner = await session.scalar(
            select(Organization).where(Organization.name == "Polis Insurance")
        )
        await add_manager(
            session,
            actor=admin,
            organization_id=partner.id,
            data=ManagerIn(name="Vera Lis", phones=[VERA]),
            now=clock.now,
        )


async def test_the_manager_who_talked_is_preferred_over_one_who_only_called(
    simulator, demo, sessions, clock
):
    await add_vera(sessions, clock)
    polis = open_polis(demo)
    client = client_of(demo, polis["number"])
    await manager_calls(simulator, polis["number"], caller=ANNA_SECOND_PHONE)
    clock.advance(3600)
    await manager_calls(simulator, polis["number"], result="no-answer", caller=VERA)
    talked = await simulator.call(ScriptedCaller([], ["no-answer"]), from_number=client)
    assert dial_of(talked).find("Number").text == ANNA_SECOND_PHONE, "the phone Anna called from"


async def test_the_manager_who_last_called_is_rung_when_nobody_talked(
    simulator, demo, sessions, clock
):
    await add_vera(sessions, clock)
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"], result="no-answer")
    clock.advance(3600)
    await manager_calls(simulator, polis["number"], result="busy", caller=VERA)
    record = await simulator.call(
        ScriptedCaller([], ["no-answer"]), from_number=client_of(demo, polis["number"])
    )
    assert dial_of(record).find("Number").text == VERA


async def test_no_manager_leg_and_no_log_line_carries_the_clients_number(simulator, demo):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    client = client_of(demo, polis["number"])
    with captured_logs() as stream:
        records = [
            await simulator.call(ScriptedCaller([], [leg]), from_number=client)
            for leg in ("answered", "no-answer", "voicemail")
        ]
    forms = phone_forms(client)
    for record, leg in zip(records, ("answered", "no-answer", "voicemail"), strict=True):
        manager_leg = [body for url, body in record.documents if "/ivr/callback/whisper" in url]
        assert bool(manager_leg) is (leg != "no-answer"), leg
        for body in manager_leg:
            assert not any(form in body for form in forms), body
        assert not any(form in said(record, leg="client") for form in forms)
    logged = stream.getvalue()
    assert "callback" in logged and not any(form in logged for form in forms)


async def test_a_retried_first_webhook_answers_the_same_and_dials_once(
    server, http, demo, sessions, simulator
):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    url, sid = str(server.make_url("")), new_sid()
    params = {"CallSid": sid, "From": client_of(demo, polis["number"])}
    first = await signed_post(http, url, "/ivr/voice", params)
    again = await signed_post(http, url, "/ivr/voice", params)
    assert first == again and "<Dial" in first[2]
    call = await call_row(sessions, sid)
    async with sessions() as session:
        dials = await session.scalar(
            select(func.count(DialAttempt.id)).where(DialAttempt.call_id == call.id)
        )
    assert (call.dials, dials) == (1, 1)


async def test_the_client_hanging_up_while_the_manager_rings_ends_the_call_once(
    server, http, demo, sessions, simulator
):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    url, sid = str(server.make_url("")), new_sid()
    await signed_post(
        http, url, "/ivr/voice", {"CallSid": sid, "From": client_of(demo, polis["number"])}
    )
    await signed_post(http, url, "/ivr/status", {"CallSid": sid, "CallStatus": "completed"})
    late_leg = {"CallSid": new_sid(), "ParentCallSid": sid}
    _, _, whisper = await signed_post(http, url, "/ivr/callback/whisper", late_leg)
    assert verbs(whisper) == ["Hangup"], "an ended call is never bridged"
    _, _, late = await signed_post(
        http, url, "/ivr/callback/result", {"CallSid": sid, "DialCallStatus": "no-answer"}
    )
    assert verbs(late) == []
    call = await call_row(sessions, sid)
    assert call.outcome is CallOutcome.CALLER_HUNG_UP
    async with sessions() as session:
        (dial,) = await session.scalars(select(DialAttempt).where(DialAttempt.call_id == call.id))
    assert (dial.outcome, dial.dial_status) == (CallOutcome.CALLER_HUNG_UP, "no-answer")


async def test_a_replayed_result_changes_nothing(server, http, demo, sessions, simulator):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    record = await simulator.call(
        ScriptedCaller([], ["answered"]), from_number=client_of(demo, polis["number"])
    )
    url = str(server.make_url(""))
    replay = {"CallSid": record.call_sid, "DialCallStatus": "no-answer"}
    _, _, body = await signed_post(http, url, "/ivr/callback/result", replay)
    assert "Dial" not in body and "Gather" not in body
    assert (await call_row(sessions, record.call_sid)).outcome is CallOutcome.BRIDGED


async def test_the_admins_call_log_marks_a_call_back(simulator, demo, admin):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    await simulator.call(
        ScriptedCaller([], ["answered"]), from_number=client_of(demo, polis["number"])
    )
    page = await admin.get("/admin/calls")
    assert has_text(page.text, "client calling back")


def test_the_greeting_says_who_calls_back_about_what_then_rings_the_manager():
    ctx = flow_context_for_tests()
    target = callback_flow.Target(
        request_number="48123573",
        company="Полис  Страхование",
        product="КАСКО\nпродление",
        manager_phone=ANNA,
    )
    root = ET.fromstring(str(callback_flow.greet(ctx, target)))
    greeting, connecting, dial = root
    assert greeting.text == text_of("callback_greeting", "en").format(
        company="Полис Страхование", product="КАСКО продление"
    )
    assert connecting.text == text("callback_connecting", "en")
    assert dial.attrib == {
        "callerId": SERVICE,
        "timeout": "25",
        "timeLimit": "3600",
        "action": ctx.urls.callback_result,
        "method": "POST",
        "answerOnBridge": "true",
    }
    (number,) = dial
    assert (number.text, number.get("url")) == (ANNA, ctx.urls.callback_whisper)


def test_the_managers_whisper_names_only_the_request_in_russian():
    ctx = flow_context_for_tests(language="ru")
    root = ET.fromstring(str(callback_flow.whisper(ctx, "48123573")))
    gather, hangup = root
    assert (gather.get("numDigits"), gather.get("action")) == (
        "1",
        ctx.urls.callback_whisper_answer,
    )
    (say,) = gather
    assert say.get("language") == "ru-RU"
    assert say.text == text_of("callback_whisper", "ru").format(number="4 8 1 2 3 5 7 3")
    assert hangup.tag == "Hangup"


@pytest.mark.parametrize(
    ("status", "accepted", "outcome", "prompt"),
    [
        ("completed", True, CallOutcome.BRIDGED, "call_ended"),
        ("completed", False, CallOutcome.CALLBACK_MISSED, "callback_missed"),
        ("busy", False, CallOutcome.CALLBACK_MISSED, "callback_missed"),
        ("no-answer", False, CallOutcome.CALLBACK_MISSED, "callback_missed"),
        ("failed", True, CallOutcome.CALLBACK_MISSED, "callback_missed"),
    ],
)
def test_only_an_accepted_completed_leg_is_a_conversation(status, accepted, outcome, prompt):
    ctx = flow_context_for_tests()
    response, got = callback_flow.finished(ctx, dial_status=status, manager_accepted=accepted)
    root = ET.fromstring(str(response))
    assert got is outcome
    assert [child.text for child in root if child.tag == "Say"] == [text(prompt, "en")]
    assert root[-1].tag == "Hangup"


async def test_a_clients_own_calls_back_do_not_keep_the_window_open(
    simulator, demo, sessions, clock
):
    polis = open_polis(demo)
    client = client_of(demo, polis["number"])
    await manager_calls(simulator, polis["number"])
    clock.advance(10 * 24 * 3600)
    first = await simulator.call(ScriptedCaller([], ["no-answer"]), from_number=client)
    assert prompt_keys(first)[-1] == "callback_missed"
    clock.advance(10 * 24 * 3600)  # 20 days after the manager's call, 10 after the client's
    later = await simulator.call(ScriptedCaller([], ["answered"]), from_number=client)
    assert prompt_keys(later) == ["callback_nothing_open"]


async def test_a_manager_step_posted_for_a_call_back_is_an_unknown_call(
    server, http, demo, simulator
):
    polis = open_polis(demo)
    await manager_calls(simulator, polis["number"])
    url, sid = str(server.make_url("")), new_sid()
    await signed_post(
        http, url, "/ivr/voice", {"CallSid": sid, "From": client_of(demo, polis["number"])}
    )
    _, _, body = await signed_post(
        http, url, "/ivr/dial-result", {"CallSid": sid, "DialCallStatus": "completed"}
    )
    assert spoken(parse(body)) == ["error"], "the manager's flow never runs on a call back"
