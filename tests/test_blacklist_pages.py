"""The blacklist's admin pages over real HTTP: rules, dry run, settings, add from a record,
re-check, the suspicious mark; nothing of it for agents and managers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm.blacklist.models import BlacklistRule
from crm.blacklist.schemas import BlacklistRuleIn
from crm.blacklist.service import create_rule, delete_rule
from crm.models import Organization, Request
from tests.crm_client import ADMIN, IVAN, CrmClient, account_actor, client_id, has_text
from tests.helpers import open_polis, request_number

pytest_plugins = ("tests.crm_fixtures",)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NUMBER_ON_PAGE = re.compile(r'<p class="number"[^>]*>(\d{8})</p>')
ICON = re.compile(
    r'href="/requests/(\d{8})">\1</a> <span class="suspicious"[^>]*aria-label="Suspicious"'
)
LISTED = re.compile(r'class="mono" href="/requests/(\d{8})"')
NOT_ALLOWED = "Your role does not open this page."


async def add_rule(sessions, **fields: str) -> int:
    async with sessions.begin() as session:
        admin = await account_actor(session, ADMIN[0])
        rule = await create_rule(session, actor=admin, data=BlacklistRuleIn(**fields), now=NOW)
        return rule.id


async def rule_of(sessions, rule_id: int) -> BlacklistRule | None:
    async with sessions() as session:
        return await session.get(BlacklistRule, rule_id)


async def rule_count(sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(BlacklistRule)) or 0)


async def filled(sessions, rule_id: int) -> dict[str, str]:
    rule = await rule_of(sessions, rule_id)
    assert rule is not None
    fields = ("first_name", "last_name", "street", "house", "city", "postal_code", "email")
    return {name: value for name in (*fields, "ip", "phone") if (value := getattr(rule, name))}


async def file_for_ivan(agent: CrmClient, sessions) -> str:
    """File a request for Ivan through the agent's page (the filing runs the check)."""
    async with sessions() as session:
        polis = await session.scalar(
            select(Organization.id).where(Organization.name == "Polis Insurance")
        )
    reply = await agent.submit(
        "/requests/new",
        {
            "client_id": str(await client_id(sessions, phone=IVAN["phone"])),
            "organization_id": str(polis),
            "product": "Loan",
            "comment": "",
        },
    )
    found = NUMBER_ON_PAGE.search(reply.text)
    assert reply.status == 200 and found, reply.text
    return found.group(1)


async def is_suspicious(sessions, number: str) -> bool:
    async with sessions() as session:
        return bool(
            await session.scalar(select(Request.suspicious).where(Request.number == number))
        )


def rule_id_in(path: str) -> int:
    found = re.fullmatch(r"/admin/blacklist/(\d+)", path)
    assert found, path
    return int(found.group(1))


# Rules: create, edit, delete, search, pages.


async def test_a_rule_made_on_its_page_is_listed_with_its_fields_and_note(admin, sessions):
    reply = await admin.submit(
        "/admin/blacklist/new",
        {"city": "Wrocław", "ip": "1.1.1.1", "note": "Chargeback in March", "first_name": ""},
    )
    assert reply.path == "/admin/blacklist"
    created = re.search(r"Rule (\d+) created\.", reply.text)
    assert created, reply.text
    rule_id = int(created.group(1))
    assert await filled(sessions, rule_id) == {"city": "Wrocław", "ip": "1.1.1.1"}
    assert has_text(reply.text, "City: Wrocław") and has_text(reply.text, "IP address: 1.1.1.1")
    assert "Chargeback in March" in reply.text
    assert f'href="/admin/blacklist/{rule_id}"' in reply.text
    assert "First name:" not in reply.text


async def test_editing_a_rule_saves_its_new_fields(admin, sessions):
    rule_id = await add_rule(sessions, email="fraud@example.com", note="old")
    page = f"/admin/blacklist/{rule_id}"
    form = await admin.get(page)
    assert 'value="fraud@example.com"' in form.text and ">old</textarea>" in form.text
    reply = await admin.submit(page, {"last_name": "Kowalski", "email": "", "note": "new"})
    assert reply.path == "/admin/blacklist" and has_text(reply.text, f"Rule {rule_id} saved.")
    assert await filled(sessions, rule_id) == {"last_name": "Kowalski"}
    assert (await rule_of(sessions, rule_id)).note == "new"


async def test_deleting_a_rule_needs_the_tick(admin, sessions):
    rule_id = await add_rule(sessions, city="Kraków")
    page = f"/admin/blacklist/{rule_id}"
    unticked = await admin.submit(page, {}, action=f"{page}/delete")
    assert unticked.status == 400 and has_text(unticked.text, "Tick “Yes, delete it”")
    assert 'value="Kraków"' in unticked.text
    assert await rule_of(sessions, rule_id) is not None
    ticked = await admin.submit(page, {"confirm": "yes"}, action=f"{page}/delete")
    assert ticked.path == "/admin/blacklist" and has_text(ticked.text, f"Rule {rule_id} deleted")
    assert await rule_of(sessions, rule_id) is None
    assert (await admin.get(page)).status == 404


async def test_search_finds_a_part_of_a_value_and_pages_keep_it(admin, sessions):
    for index in range(22):
        await add_rule(sessions, city="Wrocław", house=str(index))
    other = await add_rule(sessions, city="Kraków", note="seen twice")
    found = await admin.get("/admin/blacklist?q=WROC")
    assert f'href="/admin/blacklist/{other}"' not in found.text
    assert "1–20 of 22" in found.text
    assert 'href="/admin/blacklist?q=WROC&amp;page=2"' in found.text
    second = await admin.get("/admin/blacklist?q=WROC&page=2")
    assert "21–22 of 22" in second.text
    assert len(re.findall(r'href="/admin/blacklist/\d+">Edit', second.text)) == 2
    by_note = await admin.get("/admin/blacklist?q=twice")
    assert re.findall(r'href="/admin/blacklist/(\d+)">Edit', by_note.text) == [str(other)]
    everything = await admin.get("/admin/blacklist")
    assert "1–20 of 23" in everything.text and 'href="/admin/blacklist?page=2"' in everything.text
    nothing = await admin.get("/admin/blacklist?q=Gdańsk")
    assert has_text(nothing.text, "No rule matches “Gdańsk”.")


async def test_wrong_fields_are_named_and_everything_typed_kept(admin, sessions):
    typed = {"city": "Kraków", "phone": "12345", "email": "not an address", "note": "why"}
    reply = await admin.submit("/admin/blacklist/new", typed)
    assert reply.status == 400
    assert 'id="error-phone"' in reply.text and 'id="error-email"' in reply.text
    assert 'id="error-city"' not in reply.text
    assert 'value="Kraków"' in reply.text and 'value="12345"' in reply.text
    assert 'value="not an address"' in reply.text and ">why</textarea>" in reply.text
    network = await admin.submit("/admin/blacklist/new", {"ip": "10.0.0.5/24"})
    error = re.search(r'id="error-ip">([^<]+)<', network.text)
    assert network.status == 400 and error and "10.0.0.0/24" in error.group(1)
    assert await rule_count(sessions) == 0


async def test_a_rule_with_nothing_filled_is_refused_at_the_top(admin, sessions):
    reply = await admin.submit("/admin/blacklist/new", {"note": "only a note", "city": "  "})
    assert reply.status == 400
    form = reply.text.index('<form method="post" novalidate')
    summary = reply.text[reply.text.index('role="alert"') : form]
    assert "fill in at least one field" in summary
    assert ">only a note</textarea>" in reply.text
    assert await rule_count(sessions) == 0


async def test_an_edit_with_errors_keeps_the_typed_values_and_the_rule(admin, sessions):
    rule_id = await add_rule(sessions, city="Kraków")
    page = f"/admin/blacklist/{rule_id}"
    reply = await admin.submit(page, {"city": "Gdańsk", "phone": "12345"})
    assert reply.status == 400 and 'id="error-phone"' in reply.text
    assert 'value="Gdańsk"' in reply.text
    assert await filled(sessions, rule_id) == {"city": "Kraków"}


# The dry run.


async def test_the_dry_run_shows_the_count_and_requests_and_saves_nothing(
    admin, agent, sessions, demo
):
    filed = await file_for_ivan(agent, sessions)
    typed = {"email": IVAN["email"].upper(), "note": "try", "action": "dry-run"}
    reply = await admin.submit("/admin/blacklist/new", typed)
    assert reply.status == 200
    assert "It would match 2 past requests" in reply.text
    listed = re.findall(r'<a class="mono" href="/requests/(\d{8})">', reply.text)
    assert listed == [filed, open_polis(demo)["number"]]
    assert "Ivan Petrov" in reply.text
    assert f'value="{IVAN["email"].upper()}"' in reply.text and ">try</textarea>" in reply.text
    assert await rule_count(sessions) == 0
    assert not await is_suspicious(sessions, filed)
    nobody = await admin.submit(
        "/admin/blacklist/new", {"last_name": "Kowalski", "action": "dry-run"}
    )
    assert "It would match 0 past requests" in nobody.text and "<table>" not in nobody.text


async def test_the_dry_run_of_an_edit_leaves_the_rule_as_it_was(admin, sessions, demo):
    rule_id = await add_rule(sessions, city="Kraków")
    page = f"/admin/blacklist/{rule_id}"
    reply = await admin.submit(page, {"city": "Saint Petersburg", "action": "dry-run"})
    assert reply.status == 200 and "It would match 2 past requests" in reply.text
    assert 'value="Saint Petersburg"' in reply.text
    assert await filled(sessions, rule_id) == {"city": "Kraków"}
    wrong = await admin.submit(page, {"phone": "12345", "action": "dry-run"})
    assert wrong.status == 400 and 'id="error-phone"' in wrong.text
    assert "It would match" not in wrong.text


# Settings and "add to blacklist".


async def test_add_from_a_request_copies_only_the_email_by_default(admin, sessions, demo):
    number = open_polis(demo)["number"]
    settings = await admin.get("/admin/blacklist")
    assert re.search(r'value="email" checked', settings.text)
    assert len(re.findall(r'name="copy_fields" value="\w+" checked', settings.text)) == 1
    reply = await admin.submit(f"/requests/{number}", {}, action=f"/requests/{number}/blacklist")
    rule_id = rule_id_in(reply.path)
    assert has_text(reply.text, f"Rule {rule_id} created from request {number} with: email.")
    assert await filled(sessions, rule_id) == {"email": IVAN["email"]}
    assert f'value="{IVAN["email"]}"' in reply.text


async def test_the_settings_choose_what_add_from_a_request_copies(admin, agent, sessions):
    reply = await admin.post(
        "/admin/blacklist/settings",
        [
            ("_csrf", await admin.token("/admin/blacklist")),
            ("copy_fields", "city"),
            ("copy_fields", "last_name"),
        ],
    )
    assert reply.path == "/admin/blacklist"
    assert has_text(reply.text, "“Add to blacklist” now copies: last name, city.")
    checked = re.findall(r'name="copy_fields" value="(\w+)" checked', reply.text)
    assert checked == ["last_name", "city"]
    number = await file_for_ivan(agent, sessions)
    added = await admin.submit(f"/requests/{number}", {}, action=f"/requests/{number}/blacklist")
    rule_id = rule_id_in(added.path)
    assert has_text(added.text, f"created from request {number} with: last name, city.")
    assert await filled(sessions, rule_id) == {"last_name": "Petrov", "city": "Moscow"}


async def test_settings_with_no_field_or_an_unknown_one_are_refused(admin):
    none = await admin.submit("/admin/blacklist", {}, action="/admin/blacklist/settings")
    assert none.status == 400
    assert re.search(r'id="error-copy_fields">choose at least one field<', none.text)
    assert not re.search(r'name="copy_fields" value="\w+" checked', none.text)
    unknown = await admin.submit(
        "/admin/blacklist", {"copy_fields": "password"}, action="/admin/blacklist/settings"
    )
    assert unknown.status == 400 and "not a blacklist field: password" in unknown.text
    still = await admin.get("/admin/blacklist")
    assert re.findall(r'name="copy_fields" value="(\w+)" checked', still.text) == ["email"]


async def test_the_source_address_is_copied_when_chosen(admin, agent, sessions):
    await admin.submit(
        "/admin/blacklist", {"copy_fields": "ip"}, action="/admin/blacklist/settings"
    )
    number = await file_for_ivan(agent, sessions)
    page = await admin.get(f"/requests/{number}")
    assert "<dt>Filed from</dt>" in page.text and ">127.0.0.1</dd>" in page.text
    added = await admin.submit(f"/requests/{number}", {}, action=f"/requests/{number}/blacklist")
    assert has_text(added.text, "with: IP address.")
    assert await filled(sessions, rule_id_in(added.path)) == {"ip": "127.0.0.1"}


async def test_add_from_a_client_copies_the_chosen_fields(admin, sessions):
    ivan = await client_id(sessions, phone=IVAN["phone"])
    page = await admin.get(f"/clients/{ivan}/edit")
    assert f'action="/clients/{ivan}/blacklist"' in page.text
    reply = await admin.submit(f"/clients/{ivan}/edit", {}, action=f"/clients/{ivan}/blacklist")
    rule_id = rule_id_in(reply.path)
    assert has_text(reply.text, f"Rule {rule_id} created from client #{ivan} with: email.")
    assert await filled(sessions, rule_id) == {"email": IVAN["email"]}


async def test_a_record_without_the_copied_values_gets_a_clear_error(admin, sessions, demo):
    await admin.submit(
        "/admin/blacklist", {"copy_fields": "ip"}, action="/admin/blacklist/settings"
    )
    number = open_polis(demo)["number"]  # the demo's requests were filed with no address
    reply = await admin.submit(f"/requests/{number}", {}, action=f"/requests/{number}/blacklist")
    assert reply.path == f"/requests/{number}"
    assert has_text(
        reply.text, f"No rule created: request {number} has none of the fields the blacklist"
    )
    ivan = await client_id(sessions, phone=IVAN["phone"])
    client = await admin.submit(f"/clients/{ivan}/edit", {}, action=f"/clients/{ivan}/blacklist")
    assert client.path == f"/clients/{ivan}/edit"
    assert has_text(client.text, "No rule created: client Ivan Petrov") and "(ip)" in client.text
    assert await rule_count(sessions) == 0


# The mark: the request page, the list, its filter, the re-check.


async def test_a_flagged_request_shows_its_matches_to_the_admin(admin, agent, sessions, demo):
    rule_id = await add_rule(sessions, email=IVAN["email"], note="Two chargebacks")
    number = await file_for_ivan(agent, sessions)
    assert await is_suspicious(sessions, number)
    page = await admin.get(f"/requests/{number}")
    assert "Suspicious: matched the blacklist" in page.text
    assert f'<a href="/admin/blacklist/{rule_id}">Rule {rule_id}</a>: Two chargebacks' in page.text
    assert f"<li>Email = {IVAN['email']}</li>" in page.text
    clean = await admin.get(
        f"/requests/{request_number(demo, partner='Sunny Tours', status='open')}"
    )
    assert clean.status == 200 and "matched the blacklist" not in clean.text
    async with sessions.begin() as session:
        actor = await account_actor(session, ADMIN[0])
        await delete_rule(session, actor=actor, rule_id=rule_id, now=NOW)
    kept = await admin.get(f"/requests/{number}")
    assert f"Rule {rule_id} (since deleted): Two chargebacks" in kept.text
    assert f'href="/admin/blacklist/{rule_id}"' not in kept.text


async def test_the_list_marks_flagged_requests_and_filters_them(admin, agent, sessions, demo):
    await add_rule(sessions, email=IVAN["email"])
    flagged = await file_for_ivan(agent, sessions)
    everything = await admin.get("/requests")
    assert ICON.findall(everything.text) == [flagged]
    assert len(LISTED.findall(everything.text)) == 4
    assert 'href="/requests?suspicious=1"' in everything.text
    only = await admin.get("/requests?suspicious=1")
    assert LISTED.findall(only.text) == [flagged]
    assert '<strong aria-current="page">Suspicious</strong>' in only.text
    for _ in range(20):
        await file_for_ivan(agent, sessions)
    first = await admin.get("/requests?suspicious=1")
    assert 'href="/requests?suspicious=1&amp;page=2"' in first.text
    assert "1–20 of 21" in first.text


async def test_the_agent_sees_no_mark_no_filter_and_no_boxes(agent, sessions, demo):
    await add_rule(sessions, email=IVAN["email"])
    flagged = await file_for_ivan(agent, sessions)
    listed = await agent.get("/requests")
    filtered = await agent.get("/requests?suspicious=1")
    for page in (listed, filtered):
        assert flagged in page.text and len(LISTED.findall(page.text)) == 4
        assert "uspicious" not in page.text and 'name="number"' not in page.text
        assert "/admin/requests/recheck" not in page.text
    detail = await agent.get(f"/requests/{flagged}")
    assert "blacklist" not in detail.text.lower() and "Filed from" not in detail.text
    ivan = await client_id(sessions, phone=IVAN["phone"])
    assert "blacklist" not in (await agent.get(f"/clients/{ivan}/edit")).text.lower()


async def test_a_recheck_of_selected_requests_reports_what_changed(admin, agent, sessions, demo):
    ivans = open_polis(demo)["number"]
    marias = request_number(demo, partner="Sunny Tours", status="open")
    rule_id = await add_rule(sessions, email=IVAN["email"])
    page = await admin.get("/requests")
    assert f'name="number" value="{ivans}"' in page.text
    reply = await admin.post(
        "/admin/requests/recheck",
        [("_csrf", await admin.token("/requests")), ("number", ivans), ("number", marias)],
    )
    assert reply.status == 200 and "Re-checked against the blacklist" in reply.text
    rows = dict(re.findall(r'href="/requests/(\d{8})">\1</a></td>(.*?)</tr>', reply.text, re.S))
    assert re.search(r">clean<.*<strong>suspicious</strong>", rows[ivans], re.S)
    assert f'<a href="/admin/blacklist/{rule_id}">rule {rule_id}</a>' in rows[ivans]
    assert rows[marias].count(">clean</td>") == 2 and f"rule {rule_id}" not in rows[marias]
    assert await is_suspicious(sessions, ivans) and not await is_suspicious(sessions, marias)
    async with sessions.begin() as session:
        actor = await account_actor(session, ADMIN[0])
        await delete_rule(session, actor=actor, rule_id=rule_id, now=NOW)
    again = await admin.post(
        "/admin/requests/recheck", [("_csrf", await admin.token("/requests")), ("number", ivans)]
    )
    row = re.search(r'href="/requests/\d{8}">\d{8}</a></td>(.*?)</tr>', again.text, re.S)
    assert row and f"rule {rule_id} (deleted)" in row.group(1)
    assert re.search(r">suspicious<.*>clean<", row.group(1), re.S)
    assert not await is_suspicious(sessions, ivans)


async def test_a_recheck_without_a_selection_asks_for_one(admin, sessions, demo):
    reply = await admin.submit("/requests", {}, action="/admin/requests/recheck")
    assert reply.path == "/requests"
    assert has_text(reply.text, "Select the requests to re-check")
    unknown = await admin.submit(
        "/requests", {"number": "00000000"}, action="/admin/requests/recheck"
    )
    assert unknown.path == "/requests"
    assert has_text(unknown.text, "Nothing was re-checked: 00000000: no such request.")


# Nothing of it for agents and managers.


async def _refused_everywhere(user: CrmClient, token_page: str, sessions, demo) -> None:
    rule_id = await add_rule(sessions, city="Kraków")
    number = open_polis(demo)["number"]
    ivan = await client_id(sessions, phone=IVAN["phone"])
    for path in ("/admin/blacklist", "/admin/blacklist/new", f"/admin/blacklist/{rule_id}"):
        reply = await user.get(path)
        assert reply.status == 403 and NOT_ALLOWED in reply.text, path
    token = await user.token(token_page)
    posts = {
        "/admin/blacklist/settings": {"copy_fields": "city"},
        "/admin/blacklist/new": {"city": "Gdańsk"},
        f"/admin/blacklist/{rule_id}": {"city": "Gdańsk"},
        f"/admin/blacklist/{rule_id}/delete": {"confirm": "yes"},
        "/admin/requests/recheck": {"number": number},
        f"/requests/{number}/blacklist": {},
        f"/clients/{ivan}/blacklist": {},
    }
    for path, data in posts.items():
        reply = await user.post(path, {"_csrf": token, **data})
        assert reply.status == 403 and NOT_ALLOWED in reply.text, path
    assert await filled(sessions, rule_id) == {"city": "Kraków"}
    assert await rule_count(sessions) == 1


async def test_agents_get_none_of_the_blacklist_pages(agent, sessions, demo):
    await _refused_everywhere(agent, "/requests", sessions, demo)


async def test_managers_get_none_of_the_blacklist_pages(manager, sessions, demo):
    await _refused_everywhere(manager, "/partner/requests", sessions, demo)


@pytest.mark.parametrize("path", ["/admin/blacklist", "/admin/blacklist/new"])
async def test_signed_out_visitors_are_sent_to_log_in(browser, path):
    visitor = await browser()
    reply = await visitor.get(path, follow=False)
    assert reply.status == 303 and reply.location.startswith("/login")


async def test_the_admin_nav_links_the_blacklist(admin, agent):
    assert 'href="/admin/blacklist">Blacklist</a>' in (await admin.get("/requests")).text
    assert "/admin/blacklist" not in (await agent.get("/requests")).text
