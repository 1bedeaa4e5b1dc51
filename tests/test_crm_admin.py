"""Admin pages over real HTTP: partner companies, managers, agents, calls, audit, API keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm.auth.models import ApiKey
from crm.auth.service import actor_for_api_key
from crm.models import Manager, ManagerPhone
from ivr.simulator import HANG_UP, ScriptedCaller
from tests.crm_client import AGENT, has_text
from tests.helpers import ANNA, open_polis

pytest_plugins = ("tests.crm_fixtures",)

ALFA = {"name": "Alfa Leasing", "inn": "7728168971"}
PLAIN_KEY = re.compile(r'id="plain-key"[^>]*value="(ivr_[^"]+)"')


async def add_company(admin) -> str:
    """Add ALFA; the path of its page."""
    reply = await admin.submit("/admin/organizations", ALFA)
    assert re.fullmatch(r"/admin/organizations/\d+", reply.path), reply.path
    return reply.path


async def test_adding_a_partner_company_opens_its_page(admin):
    page = await add_company(admin)
    reply = await admin.get(page)
    assert "Alfa Leasing" in reply.text and "7728168971" in reply.text
    assert "No managers yet" in reply.text
    assert "Alfa Leasing" in (await admin.get("/admin/organizations")).text


async def test_bad_inn_is_named_and_the_name_kept(admin):
    reply = await admin.submit("/admin/organizations", {**ALFA, "inn": "1234567890"})
    assert reply.status == 400
    error = re.search(r'id="error-inn">([^<]+)<', reply.text).group(1)
    assert "INN" in error
    assert 'value="Alfa Leasing"' in reply.text and 'value="1234567890"' in reply.text


async def test_a_second_company_with_the_same_inn_is_refused(admin):
    reply = await admin.submit("/admin/organizations", {"name": "Copy", "inn": "7707083893"})
    assert reply.status == 400
    assert "a company with this INN already exists" in reply.text


async def test_manager_with_phones_and_a_login_sees_the_company_list(admin, browser):
    page = await add_company(admin)
    reply = await admin.submit(
        page,
        {
            "name": "Lev Tolstoy",
            "phones": "8 916 111-22-33, +7 916 111-22-44\n+79161112255",
            "email": "lev@alfa.example.com",
            "password": "lev-password",
        },
        action=page + "/managers",
    )
    assert reply.path == page and has_text(reply.text, "Manager Lev Tolstoy added.")
    for phone in ("+79161112233", "+79161112244", "+79161112255"):
        assert phone in reply.text
    assert "lev@alfa.example.com" in reply.text
    lev = await browser(("lev@alfa.example.com", "lev-password"))
    own = await lev.get("/partner/requests")
    assert own.status == 200 and "no open requests" in own.text


async def test_a_phone_of_another_manager_is_refused(admin, sessions):
    page = await add_company(admin)
    reply = await admin.submit(
        page, {"name": "Copycat", "phones": f"+79161112233\n{ANNA}"}, action=page + "/managers"
    )
    assert reply.status == 400
    assert re.search(
        r'id="error-phones">already a manager&#39;s number: \+79990000001<', reply.text
    )
    assert 'value="Copycat"' in reply.text and f"+79161112233\n{ANNA}</textarea>" in reply.text
    async with sessions() as session:
        assert not await session.scalar(select(Manager.id).where(Manager.name == "Copycat"))
        assert not await session.scalar(
            select(ManagerPhone.id).where(ManagerPhone.phone == "+79161112233")
        )


async def test_manager_login_needs_both_email_and_password(admin):
    page = await add_company(admin)
    reply = await admin.submit(
        page,
        {"name": "Half", "phones": "+79161112233", "email": "half@alfa.example.com"},
        action=page + "/managers",
    )
    assert reply.status == 400 and 'id="error-password"' in reply.text
    no_phone = await admin.submit(
        page, {"name": "Half", "phones": " , "}, action=page + "/managers"
    )
    assert no_phone.status == 400 and "give at least one phone number" in no_phone.text


async def test_new_agent_can_log_in(admin, browser):
    reply = await admin.submit(
        "/admin/agents",
        {"name": "Nina Agent", "email": "Nina@Example.com", "password": "nina-password"},
    )
    assert reply.path == "/admin/agents" and "nina@example.com" in reply.text
    nina = await browser(("nina@example.com", "nina-password"))
    assert "No requests." in (await nina.get("/requests")).text


async def test_agent_form_errors_keep_name_and_email(admin):
    short = await admin.submit(
        "/admin/agents", {"name": "Nina", "email": "nina@example.com", "password": "short"}
    )
    assert short.status == 400 and 'id="error-password"' in short.text
    assert 'value="nina@example.com"' in short.text and 'value="short"' not in short.text
    taken = await admin.submit(
        "/admin/agents", {"name": "Copy", "email": AGENT[0], "password": "long-enough"}
    )
    assert taken.status == 400 and "already exists" in taken.text


async def test_calls_page_filters_by_outcome(admin, demo, simulator):
    number = open_polis(demo)["number"]
    await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
    await simulator.call(ScriptedCaller([HANG_UP]), from_number="+79000000000")
    every = await admin.get("/admin/calls")
    assert "Anna Sokolova" in every.text and "+79000000000" in every.text
    bridged = await admin.get("/admin/calls?outcome=bridged")
    assert "Anna Sokolova" in bridged.text and "+79000000000" not in bridged.text
    assert f'href="/requests/{number}"' in bridged.text
    unknown = await admin.get("/admin/calls?outcome=unknown_caller")
    listed = unknown.text.split("<tbody>")[1]  # the manager filter's list names everyone
    assert "+79000000000" in listed and "Anna Sokolova" not in listed


async def test_audit_log_shows_who_did_what(admin):
    await add_company(admin)
    reply = await admin.get("/admin/audit")
    row = re.search(r"<tr>\s*<td[^>]*>.*?</tr>", reply.text, re.S).group(0)
    assert "admin@example.com" in row and "create" in row and "organization" in row
    assert "Alfa Leasing" in row


async def test_api_key_is_shown_once_and_can_be_revoked(admin, sessions):
    form = await admin.get("/admin/api-keys")
    agent_user = re.search(r'<option value="(\d+)"[^>]*>Demo Agent \(agent', form.text).group(1)
    issued = await admin.submit("/admin/api-keys", {"user_id": agent_user, "name": "platform site"})
    plain = PLAIN_KEY.search(issued.text).group(1)
    listing = await admin.get("/admin/api-keys")
    assert plain not in listing.text and f"{plain[:12]}…" in listing.text
    assert "platform site" in listing.text and "never" in listing.text
    async with sessions.begin() as session:
        assert (
            await actor_for_api_key(session, plain=plain, now=datetime.now(UTC))
        ).email == AGENT[0]
        key_id = await session.scalar(select(ApiKey.id))
    revoke = f"/admin/api-keys/{key_id}/revoke"
    unconfirmed = await admin.submit("/admin/api-keys", {}, action=revoke)
    assert unconfirmed.status == 400 and 'id="error-revoke"' in unconfirmed.text
    revoked = await admin.submit("/admin/api-keys", {"confirm": "yes"}, action=revoke)
    assert "revoked" in revoked.text
    async with sessions() as session:
        assert await actor_for_api_key(session, plain=plain, now=datetime.now(UTC)) is None


async def test_api_key_needs_an_owner_and_a_name(admin, sessions):
    reply = await admin.submit("/admin/api-keys", {"user_id": "", "name": ""})
    assert reply.status == 400 and 'id="error-user_id"' in reply.text
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 0


async def test_an_agent_password_is_kept_exactly_as_typed_spaces_too(admin, browser):
    password = "  two words, spaced  "
    reply = await admin.submit(
        "/admin/agents", {"name": "Vera", "email": "vera@example.com", "password": password}
    )
    assert reply.path == "/admin/agents", reply.text
    assert (await (await browser()).login("vera@example.com", password.strip())).status == 401
    vera = await browser(("vera@example.com", password))
    assert (await vera.get("/requests")).path == "/requests"


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("password123", "most common"),
        ("Qwerty123456", "most common"),
        ("1234567890", "most common"),
        ("aaaaaaaaaaaa", "different characters"),
        ("nine-char", "at least 10 characters"),
        ("          ", "different characters"),
    ],
)
async def test_weak_passwords_are_refused_naming_the_password_field(admin, password, says):
    agent = await admin.submit(
        "/admin/agents", {"name": "Weak", "email": "weak@example.com", "password": password}
    )
    assert agent.status == 400 and says in agent.text
    assert re.search(r'id="error-password">[^<]*' + says, agent.text)
    page = await add_company(admin)
    manager = await admin.submit(
        page,
        {
            "name": "Weak",
            "phones": "+79161112233",
            "email": "weak@alfa.example.com",
            "password": password,
        },
        action=page + "/managers",
    )
    assert manager.status == 400 and re.search(r'id="error-password">[^<]*' + says, manager.text)
