"""Request pages over real HTTP: list and filter, filing, the call history, close/reopen/repeat."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from crm.enums import RequestStatus
from crm.models import Organization, Request
from crm.requests.service import create_request
from crm.schemas import RequestIn
from ivr.simulator import ScriptedCaller
from tests.crm_client import AGENT, IVAN, account_actor, client_id, has_text
from tests.helpers import ANNA, open_polis, request_number

pytest_plugins = ("tests.crm_fixtures",)

NUMBER_ON_PAGE = re.compile(r'<p class="number"[^>]*>(\d{8})</p>')


async def stored(sessions, number: str) -> Request:
    async with sessions() as session:
        return await session.scalar(select(Request).where(Request.number == number))


async def polis_id(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(Organization.id).where(Organization.name == "Polis Insurance")
        )


async def test_list_shows_number_client_partner_product_and_status(agent, demo):
    reply = await agent.get("/requests")
    assert reply.status == 200
    for filed in demo["requests"]:
        assert filed["number"] in reply.text
    assert "Ivan Petrov" in reply.text and "Sunny Tours" in reply.text
    assert "CASCO renewal" in reply.text and "none yet" in reply.text


async def test_status_filter_shows_only_that_status(agent, demo):
    closed = request_number(demo, partner="Polis Insurance", status="closed")
    opened = [r["number"] for r in demo["requests"] if r["status"] == "open"]
    only_closed = await agent.get("/requests?status=closed")
    assert closed in only_closed.text
    assert not any(number in only_closed.text for number in opened)
    only_open = await agent.get("/requests?status=open")
    assert closed not in only_open.text and all(n in only_open.text for n in opened)
    anything = await agent.get("/requests?status=bogus")
    assert closed in anything.text and all(n in anything.text for n in opened)


async def test_long_list_pages_keep_the_status_filter(agent, sessions):
    data = RequestIn(
        client_id=await client_id(sessions, phone=IVAN["phone"]),
        organization_id=await polis_id(sessions),
        product="Loan",
    )
    async with sessions.begin() as session:
        actor = await account_actor(session, AGENT[0])
        for _ in range(20):
            await create_request(
                session, actor=actor, data=data, source_ip=None, now=datetime.now(UTC)
            )
    first = await agent.get("/requests?status=open")
    assert 'href="/requests?status=open&amp;page=2"' in first.text
    second = await agent.get("/requests?status=open&page=2")
    assert "21–22 of 22" in second.text
    assert len(re.findall(r'class="mono" href="/requests/\d{8}"', second.text)) == 2


async def test_filing_a_request_opens_its_page_with_the_number_large(agent, sessions):
    ivan = await client_id(sessions, phone=IVAN["phone"])
    form = await agent.get(f"/requests/new?client_id={ivan}")
    assert f'<option value="{ivan}" selected>' in form.text
    reply = await agent.submit(
        f"/requests/new?client_id={ivan}",
        {
            "client_id": str(ivan),
            "organization_id": str(await polis_id(sessions)),
            "product": "Mortgage insurance",
            "comment": "Call after 18:00",
        },
        action="/requests/new",
    )
    number = NUMBER_ON_PAGE.search(reply.text).group(1)
    assert reply.path == f"/requests/{number}"
    saved = await stored(sessions, number)
    assert (saved.client_id, saved.product, saved.comment, saved.status) == (
        ivan,
        "Mortgage insurance",
        "Call after 18:00",
        RequestStatus.OPEN,
    )
    assert "Polis Insurance" in reply.text and "Call after 18:00" in reply.text


async def test_filing_without_partner_and_product_names_both_and_keeps_the_rest(agent, sessions):
    ivan = await client_id(sessions, phone=IVAN["phone"])
    reply = await agent.submit(
        "/requests/new",
        {"client_id": str(ivan), "organization_id": "", "product": "", "comment": "keep me"},
    )
    assert reply.status == 400
    assert 'id="error-organization_id"' in reply.text and 'id="error-product"' in reply.text
    assert f'<option value="{ivan}" selected>' in reply.text
    assert ">keep me</textarea>" in reply.text


async def test_a_simulated_call_shows_on_the_request_page(agent, demo, simulator):
    number = open_polis(demo)["number"]
    await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=95), from_number=ANNA)
    page = await agent.get(f"/requests/{number}")
    calls = page.text[page.text.index("<h2>Calls</h2>") :]
    assert "Anna Sokolova" in calls and "Polis Insurance" in calls
    assert ">bridged</td>" in calls
    assert "1 min 35 s" in calls
    assert "today, " in calls
    listing = await agent.get("/requests")
    assert "· bridged" in listing.text


async def test_closing_needs_the_confirmation_box(agent, demo, sessions):
    number = open_polis(demo)["number"]
    refused = await agent.submit(f"/requests/{number}", {}, action=f"/requests/{number}/close")
    assert refused.status == 400 and has_text(refused.text, "to confirm closing")
    assert (await stored(sessions, number)).status is RequestStatus.OPEN
    closed = await agent.submit(
        f"/requests/{number}", {"confirm": "yes"}, action=f"/requests/{number}/close"
    )
    assert closed.path == f"/requests/{number}"
    assert "partner managers can no longer call" in closed.text
    assert f'action="/requests/{number}/reopen"' in closed.text
    assert (await stored(sessions, number)).status is RequestStatus.CLOSED


async def test_reopening_a_closed_request(agent, demo, sessions):
    number = request_number(demo, partner="Polis Insurance", status="closed")
    reply = await agent.submit(f"/requests/{number}", {}, action=f"/requests/{number}/reopen")
    assert reply.path == f"/requests/{number}"
    assert f'action="/requests/{number}/close"' in reply.text
    saved = await stored(sessions, number)
    assert (saved.status, saved.closed_at) == (RequestStatus.OPEN, None)


async def test_repeat_opens_the_page_of_a_new_request(agent, demo, sessions):
    past = request_number(demo, partner="Polis Insurance", status="closed")
    reply = await agent.submit(f"/requests/{past}", {}, action=f"/requests/{past}/repeat")
    number = NUMBER_ON_PAGE.search(reply.text).group(1)
    assert number != past and reply.path == f"/requests/{number}"
    assert has_text(reply.text, f"repeat of {past}")
    old, new = await stored(sessions, past), await stored(sessions, number)
    assert (new.client_id, new.organization_id, new.product, new.status) == (
        old.client_id,
        old.organization_id,
        old.product,
        RequestStatus.OPEN,
    )


async def test_admin_sees_every_agents_requests(admin, demo):
    reply = await admin.get("/requests")
    assert "All requests" in reply.text
    assert all(filed["number"] in reply.text for filed in demo["requests"])
    page = await admin.get(f"/requests/{open_polis(demo)['number']}")
    assert page.status == 200 and "CASCO renewal" in page.text
