"""Number guessing locked out across calls: counted per caller number and per manager in
the database, over a sliding window of the service's clock, told to the admins once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEntry
from crm.enums import CallOutcome
from crm.lockout.models import Lockout, WrongNumber
from ivr.app import create_app
from ivr.background import run_jobs
from ivr.flows.prompts import text
from ivr.simulator import ScriptedCaller, TwilioSimulator, new_sid
from tests.conftest import AUTH_TOKEN, make_config
from tests.crm_client import has_text
from tests.helpers import (
    ANNA,
    ANNA_SECOND_PHONE,
    BORIS,
    call_row,
    open_polis,
    prompt_keys,
    request_number,
    signed_post,
    verbs,
)
from tests.signup_helpers import Clock
from tests.smtp import SmtpServer

pytest_plugins = ("tests.api_fixtures", "tests.crm_fixtures")

ADMINS = ["alerts@example.com"]
WRONG = ["1#", "12345#", "99999999#"]
"""Three kinds of miss: too short, no number's format, a number of no request."""


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(database_url, smtp):
    email = {
        "backend": "smtp",
        "admin_to": ADMINS,
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "timeout_seconds": 5},
    }
    return make_config(database_url, email=email)


@pytest.fixture
async def server(aiohttp_server, config, engine, clock):
    return await aiohttp_server(create_app(config, clock=clock))


async def guess(simulator, *wrong: str, caller: str = ANNA):
    """One call typing these numbers (a call ends itself after `max_attempts` misses)."""
    return await simulator.call(ScriptedCaller(list(wrong)), from_number=caller)


def is_lock(twiml: str) -> bool:
    """The answer says the line is locked (played or said), and nothing else."""
    return ("line_locked" in twiml or text("line_locked", "en") in twiml) and "error" not in twiml


async def lockouts(sessions) -> list[Lockout]:
    async with sessions() as session:
        return list(await session.scalars(select(Lockout).order_by(Lockout.id)))


async def wrong_numbers(sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count(WrongNumber.id))) or 0)


async def test_the_eleventh_wrong_number_across_four_calls_locks_the_line(
    simulator, demo, sessions
):
    for _ in range(3):
        record = await guess(simulator, *WRONG)
        assert prompt_keys(record)[-1] == "too_many_attempts"
    record = await guess(simulator, "1#", "2#")
    assert prompt_keys(record)[-3:] == ["invalid_number", "enter_number", "line_locked"]
    assert "Gather" not in verbs(record.documents[-1][1])
    call = await call_row(sessions, record.call_sid)
    assert call.outcome is CallOutcome.LOCKED_OUT
    (lockout,) = await lockouts(sessions)
    assert (lockout.caller, lockout.wrong_count, lockout.unlocked_at) == (ANNA, 11, None)

    fifth = await simulator.call(
        ScriptedCaller([open_polis(demo)["number"] + "#"]), from_number=ANNA
    )
    assert prompt_keys(fifth) == ["line_locked"], "told before any lookup"
    assert verbs(fifth.documents[0][1]) == ["Play", "Hangup"]
    assert (await call_row(sessions, fifth.call_sid)).outcome is CallOutcome.LOCKED_OUT
    assert await wrong_numbers(sessions) == 11


async def test_silence_and_closed_requests_are_not_guesses(simulator, demo, sessions):
    closed = request_number(demo, partner="Polis Insurance", status="closed")
    for _ in range(4):
        await simulator.call(ScriptedCaller([None, f"{closed}#", None]), from_number=ANNA)
    assert await wrong_numbers(sessions) == 0 and await lockouts(sessions) == []


async def test_another_companys_request_counts_as_a_wrong_number(simulator, demo, sessions):
    theirs = request_number(demo, partner="Sunny Tours", status="open")
    await guess(simulator, f"{theirs}#")
    async with sessions() as session:
        (result,) = await session.scalars(select(WrongNumber.result))
    assert result == "not_found"


async def test_a_correct_number_between_guesses_does_not_reset_the_count(simulator, demo, sessions):
    for _ in range(3):
        await guess(simulator, *WRONG)
    polis = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller(["1#", f"{polis}#"]), from_number=ANNA)
    assert (await call_row(sessions, record.call_sid)).outcome is CallOutcome.BRIDGED
    record = await guess(simulator, "7#")
    assert prompt_keys(record)[-1] == "line_locked"


async def test_the_window_slides_on_the_services_clock(simulator, demo, sessions, clock):
    await guess(simulator, *WRONG)
    await guess(simulator, *WRONG)  # 6 at 09:00
    clock.advance(61 * 60)
    await guess(simulator, *WRONG)
    await guess(simulator, "1#", "2#")  # 5 at 10:01: the first six slid out
    assert await lockouts(sessions) == []
    clock.advance(30 * 60)
    await guess(simulator, *WRONG)
    record = await guess(simulator, "1#", "2#", "3#")  # 11 since 10:01
    assert prompt_keys(record)[-3:] == ["invalid_number", "enter_number", "line_locked"]
    assert [lockout.wrong_count for lockout in await lockouts(sessions)] == [11]


async def test_a_lock_ends_by_itself_and_counts_afresh(simulator, demo, sessions, clock):
    for _ in range(4):
        await guess(simulator, *WRONG)
    assert len(await lockouts(sessions)) == 1
    clock.advance(59 * 60)
    assert prompt_keys(await guess(simulator, "1#")) == ["line_locked"]
    clock.advance(2 * 60)
    record = await guess(simulator, "1#")
    assert prompt_keys(record)[:3] == ["rules", "enter_number", "invalid_number"]
    assert len(await lockouts(sessions)) == 1, (
        "the wrong numbers before the lock ended count no more"
    )


async def test_a_manager_is_counted_over_all_their_numbers(simulator, demo, sessions):
    await guess(simulator, *WRONG)
    await guess(simulator, *WRONG, caller=ANNA_SECOND_PHONE)
    await guess(simulator, *WRONG)
    record = await guess(simulator, "1#", "2#", caller=ANNA_SECOND_PHONE)
    assert prompt_keys(record)[-1] == "line_locked"
    for phone in (ANNA, ANNA_SECOND_PHONE):
        assert prompt_keys(await guess(simulator, "1#", caller=phone)) == ["line_locked"]
    other = await simulator.call(ScriptedCaller([None]), from_number=BORIS)
    assert prompt_keys(other)[:2] == ["rules", "enter_number"], "another manager is not locked"


async def test_a_lock_from_another_call_ends_this_one_before_its_lookup(
    server, http, simulator, demo, sessions
):
    url, sid = str(server.make_url("")), new_sid()
    await signed_post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    for _ in range(4):
        await guess(simulator, *WRONG, caller=ANNA_SECOND_PHONE)
    number = open_polis(demo)["number"]
    _, _, body = await signed_post(
        http, url, "/ivr/number", {"CallSid": sid, "Digits": f"{number}#"}
    )
    assert verbs(body) == ["Play", "Hangup"]
    assert (await call_row(sessions, sid)).outcome is CallOutcome.LOCKED_OUT


async def test_the_admins_get_one_letter_per_lockout(simulator, demo, sessions, server, smtp):
    for _ in range(5):
        await guess(simulator, *WRONG)
    await run_jobs(server.app)
    await run_jobs(server.app)
    ((recipients, letter),) = smtp.inbox.messages
    assert recipients == ADMINS
    assert "Anna" in letter["Subject"] and "Polis Insurance" in letter["Subject"]
    body = letter.get_payload(decode=True).decode()
    assert f"Caller: {ANNA}" in body and "Wrong numbers in 60 minutes: 11" in body


async def test_an_admin_sees_and_unlocks_a_caller_through_the_api(
    simulator, demo, sessions, api_admin, api_agent, api_manager, clock
):
    for _ in range(4):
        await guess(simulator, *WRONG)
    listed = await api_admin.get("/api/v1/lockouts?active=true")
    assert listed.status == 200, listed.text
    (item,) = listed.json["items"]
    assert (item["caller"], item["company"], item["wrong_count"], item["active"]) == (
        ANNA,
        "Polis Insurance",
        11,
        True,
    )
    for outsider in (api_agent, api_manager):
        assert (await outsider.get("/api/v1/lockouts")).status == 403
        assert (await outsider.post(f"/api/v1/lockouts/{item['id']}/unlock")).status == 403
    clock.advance(60)
    unlocked = await api_admin.post(f"/api/v1/lockouts/{item['id']}/unlock")
    assert unlocked.status == 200, unlocked.text
    assert (unlocked.json["active"], unlocked.json["unlocked_by"]) == (False, "admin@example.com")
    again = await api_admin.post(f"/api/v1/lockouts/{item['id']}/unlock")
    assert (again.status, list(again.fields)) == (422, ["lockout"])
    assert (await api_admin.get("/api/v1/lockouts?active=true")).json["items"] == []
    assert (await api_admin.get("/api/v1/lockouts?active=maybe")).fields == {
        "active": "use true or false"
    }

    record = await guess(simulator, *WRONG)
    assert prompt_keys(record)[:2] == ["rules", "enter_number"]
    assert prompt_keys(record)[-1] == "too_many_attempts", "the count starts afresh at the unlock"
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "unlock"))
    assert (entry.entity, entry.entity_id, entry.actor) == (
        "lockout",
        str(item["id"]),
        "admin@example.com",
    )


async def test_many_wrong_numbers_at_once_lock_exactly_once(server, http, demo, sessions):
    url = str(server.make_url(""))
    sids = [new_sid() for _ in range(24)]
    for sid in sids:
        await signed_post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    answers = await asyncio.gather(
        *(signed_post(http, url, "/ivr/number", {"CallSid": sid, "Digits": "1#"}) for sid in sids)
    )
    assert all(status == 200 for status, _, _ in answers)
    locked = [body for _, _, body in answers if "Gather" not in body]
    assert len(locked) == 24 - 10, "the eleventh and every one after it hear the lock"
    assert all(is_lock(body) for body in locked), "a lock, not an apology"
    assert await wrong_numbers(sessions) == 11
    assert len(await lockouts(sessions)) == 1


async def test_admin_lockouts_page_lists_and_unlocks(simulator, demo, sessions, admin, agent):
    assert has_text((await admin.get("/admin/lockouts")).text, "No caller is locked out now.")
    for _ in range(4):
        await guess(simulator, *WRONG)
    page = await admin.get("/admin/lockouts")
    assert page.status == 200
    for shown in (ANNA, "Anna Sokolova", "Polis Insurance", "Unlock"):
        assert has_text(page.text, shown), shown
    assert (await agent.get("/admin/lockouts")).status == 403
    (lockout,) = await lockouts(sessions)
    reply = await admin.submit("/admin/lockouts", {}, action=f"/admin/lockouts/{lockout.id}/unlock")
    assert reply.path == "/admin/lockouts"
    assert has_text(reply.text, "Anna Sokolova is unlocked")
    assert has_text(reply.text, "No caller is locked out now.")
    history = await admin.get("/admin/lockouts?show=all")
    assert has_text(history.text, "unlocked") and has_text(history.text, "admin@example.com")
    twice = await admin.submit(
        "/admin/lockouts?show=all", {}, action=f"/admin/lockouts/{lockout.id}/unlock"
    )
    assert has_text(twice.text, "nothing to unlock")
    assert prompt_keys(await guess(simulator, "1#"))[:2] == ["rules", "enter_number"]


@pytest.fixture
def config_short_lock(database_url, smtp):
    return make_config(database_url, ivr={"lockout": {"lock_minutes": 5}})


async def test_a_lock_restarts_the_count_of_every_phone_of_the_manager(
    aiohttp_server, config_short_lock, engine, clock, http, demo, sessions
):
    server = await aiohttp_server(create_app(config_short_lock, clock=clock))
    simulator = TwilioSimulator(http, server_url=str(server.make_url("")), auth_token=AUTH_TOKEN)
    for _ in range(3):
        await guess(simulator, *WRONG)
    await guess(simulator, "1#")  # 10 from the first phone
    record = await guess(simulator, "2#", caller=ANNA_SECOND_PHONE)  # the manager's 11th
    assert prompt_keys(record)[-1] == "line_locked"
    clock.advance(6 * 60)  # the lock is over, the window (60 minutes) is not
    again = await guess(simulator, "3#")
    assert prompt_keys(again)[:3] == ["rules", "enter_number", "invalid_number"]
    assert "line_locked" not in prompt_keys(again), "counted afresh on every phone"
    assert len(await lockouts(sessions)) == 1


async def test_a_redial_after_a_lock_from_another_call_is_refused(
    server, http, simulator, demo, sessions
):
    url, sid = str(server.make_url("")), new_sid()
    number = open_polis(demo)["number"]
    await signed_post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    await signed_post(http, url, "/ivr/number", {"CallSid": sid, "Digits": f"{number}#"})
    await signed_post(http, url, "/ivr/dial-result", {"CallSid": sid, "DialCallStatus": "busy"})
    for _ in range(4):
        await guess(simulator, *WRONG, caller=ANNA_SECOND_PHONE)
    _, _, body = await signed_post(
        http, url, "/ivr/after-unreachable", {"CallSid": sid, "Digits": "1"}
    )
    assert is_lock(body) and "Dial" not in body
