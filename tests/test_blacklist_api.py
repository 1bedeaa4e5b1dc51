"""The blacklist over HTTP: rules, the check at filing, the silent flag, re-checks, add from a
record, settings and the dry run; the admins' letter through a real SMTP server."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEntry
from crm.blacklist.models import BlacklistRule
from ivr.background import run_jobs
from ivr.simulator import ScriptedCaller
from tests.api_helpers import NEW_CLIENT, Api
from tests.conftest import make_config
from tests.crm_client import AGENT, MANAGER, CrmClient
from tests.helpers import ANNA
from tests.smtp import SmtpServer

pytest_plugins = ("tests.api_fixtures", "tests.crm_fixtures")

ADMINS = ["security@example.com"]
RULES = "/api/v1/blacklist/rules"
WROCLAW = {**NEW_CLIENT, "first_name": "Ewa", "last_name": "Nowak", "city": "Wrocław"}
KRAKOW = {**WROCLAW, "phone": "+48 12 345 67 89", "city": "Kraków", "email": "ewa@krakow.pl"}
JAN = {**NEW_CLIENT, "first_name": "Jan", "last_name": "Kowalski", "phone": "+48 22 111 22 33"}


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config(database_url, smtp):
    email = {
        "backend": "smtp",
        "admin_to": ADMINS,
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "timeout_seconds": 5},
    }
    return make_config(database_url, email=email, trust_proxy=True)


async def polis_id(api: Api) -> int:
    partners = (await api.get("/api/v1/organizations")).json["items"]
    return next(p["id"] for p in partners if p["name"] == "Polis Insurance")


async def new_client(api: Api, spec: dict) -> int:
    reply = await api.post("/api/v1/clients", json=spec)
    assert reply.status == 201, reply.text
    return reply.json["id"]


async def file(api: Api, client_id: int, *, ip: str | None = None, product: str = "OSAGO") -> dict:
    body = {"client_id": client_id, "organization_id": await polis_id(api), "product": product}
    if ip is not None:
        body["client_ip"] = ip
    reply = await api.post("/api/v1/requests", json=body)
    assert reply.status == 201, reply.text
    return reply.json


async def add_rule(api: Api, **fields: str) -> int:
    reply = await api.post(RULES, json=fields)
    assert reply.status == 201, reply.text
    return reply.json["id"]


async def flag(api_admin: Api, number: str) -> bool:
    return (await api_admin.get(f"/api/v1/requests/{number}")).json["suspicious"]


async def test_the_briefs_example_over_http(api_agent, api_admin):
    await add_rule(api_admin, ip="1.1.1.1", city="Wrocław")
    await add_rule(api_admin, first_name="Jan", last_name="Kowalski")
    from_wroclaw = await file(api_agent, await new_client(api_agent, WROCLAW), ip="1.1.1.1")
    jan = await file(api_agent, await new_client(api_agent, JAN), ip="203.0.113.9")
    from_krakow = await file(api_agent, await new_client(api_agent, KRAKOW), ip="1.1.1.1")
    assert await flag(api_admin, from_wroclaw["number"])
    assert await flag(api_admin, jan["number"])
    assert not await flag(api_admin, from_krakow["number"])


TYPED = {
    "first_name": ("  OLGA ", "Olga"),
    "last_name": ("ivanova", "Ivanova"),
    "street": ("LENINA", "Lenina"),
    "house": (" 5 ", "5"),
    "postal_code": ("620 014", "620014"),
    "city": ("yekaterinburg", "Yekaterinburg"),
    "email": (" OLGA@example.COM ", "olga@example.com"),
    "phone": ("8 912 345-67-89", "+79123456789"),
    "ip": ("10.1.0.0/16", "10.1.2.3"),
}


@pytest.mark.parametrize("field", sorted(TYPED))
async def test_each_field_alone_flags_a_request_at_filing(api_agent, api_admin, field):
    typed, matched = TYPED[field]
    rule = await add_rule(api_admin, **{field: typed}, note=f"only {field}")
    olga = await new_client(api_agent, NEW_CLIENT)
    other = await new_client(
        api_agent,
        {
            "first_name": "Pavel",
            "last_name": "Orlov",
            "phone": "+79031112233",
            "email": "pavel@example.com",
            "street": "Mira",
            "house": "7",
            "postal_code": "101000",
            "city": "Moscow",
        },
    )
    flagged = await file(api_agent, olga, ip="10.1.2.3")
    clean = await file(api_agent, other, ip="10.2.0.1")
    seen = (await api_admin.get(f"/api/v1/requests/{flagged['number']}")).json
    assert seen["suspicious"] is True
    assert seen["blacklist_matches"] == [
        {"rule_id": rule, "note": f"only {field}", "fields": {field: matched}}
    ]
    assert not await flag(api_admin, clean["number"])


async def test_every_filled_field_must_match_and_any_rule_flags(api_agent, api_admin):
    both = await add_rule(api_admin, city="Yekaterinburg", last_name="Ivanova")
    await add_rule(api_admin, city="Yekaterinburg", last_name="Smirnova")
    olga = await new_client(api_agent, NEW_CLIENT)
    filed = await file(api_agent, olga)
    matches = (await api_admin.get(f"/api/v1/requests/{filed['number']}")).json
    assert [m["rule_id"] for m in matches["blacklist_matches"]] == [both]
    assert matches["blacklist_matches"][0]["fields"] == {
        "last_name": "Ivanova",
        "city": "Yekaterinburg",
    }


async def test_an_ipv6_network_flags_requests_from_inside_it(api_agent, api_admin):
    await add_rule(api_admin, ip="2001:db8:42::/48")
    olga = await new_client(api_agent, NEW_CLIENT)
    inside = await file(api_agent, olga, ip="2001:db8:42:7::1")
    outside = await file(api_agent, olga, ip="2001:db8:43::1")
    assert await flag(api_admin, inside["number"])
    assert not await flag(api_admin, outside["number"])


async def test_without_client_ip_the_callers_own_address_is_checked(api_agent, api_admin):
    await add_rule(api_admin, ip="127.0.0.0/8", note="the test's own address")
    filed = await file(api_agent, await new_client(api_agent, NEW_CLIENT))
    seen = (await api_admin.get(f"/api/v1/requests/{filed['number']}")).json
    assert seen["source_ip"] == "127.0.0.1" and seen["suspicious"] is True


async def test_a_client_ip_that_is_no_address_is_refused_naming_it(api_agent):
    olga = await new_client(api_agent, NEW_CLIENT)
    body = {"client_id": olga, "organization_id": await polis_id(api_agent), "product": "OSAGO"}
    reply = await api_agent.post("/api/v1/requests", json={**body, "client_ip": "1.1.1"})
    assert reply.status == 422 and set(reply.fields) == {"client_ip"}


async def test_rules_are_kept_over_http(api_admin):
    empty = await api_admin.post(RULES, json={"note": "nothing else"})
    assert empty.status == 422 and set(empty.fields) == {"rule"}
    wrong = await api_admin.post(RULES, json={"ip": "10.0.0.1/24", "email": "no-at-sign"})
    assert wrong.status == 422 and set(wrong.fields) == {"ip", "email"}
    rule = await add_rule(api_admin, city="Tula", note="seen twice")
    one = f"{RULES}/{rule}"
    assert (await api_admin.get(one)).json["city"] == "Tula"
    replaced = await api_admin.put(one, json={"email": "x@example.com"})
    assert replaced.status == 200
    assert (replaced.json["email"], replaced.json["city"], replaced.json["note"]) == (
        "x@example.com",
        None,
        None,
    )
    found = (await api_admin.get(RULES, params={"search": "X@EXAMPLE"})).json
    assert [item["id"] for item in found["items"]] == [rule] and found["total"] == 1
    assert (await api_admin.call("DELETE", one)).status == 204
    assert (await api_admin.get(one)).status == 404
    assert (await api_admin.call("DELETE", one)).status == 404


async def test_the_rules_list_pages(api_admin, sessions):
    for index in range(25):
        await add_rule(api_admin, email=f"spam{index}@example.com")
    first = (await api_admin.get(RULES, params={"per_page": 10})).json
    third = (await api_admin.get(RULES, params={"per_page": 10, "page": 3})).json
    assert (first["total"], first["pages"], len(first["items"]), len(third["items"])) == (
        25,
        3,
        10,
        5,
    )
    assert first["items"][0]["email"] == "spam24@example.com"  # newest first


@pytest.mark.parametrize("role", ["agent", "manager"])
async def test_only_admins_reach_the_blacklist(apis, api_admin, role):
    caller = await apis.as_user({"agent": AGENT[0], "manager": MANAGER[0]}[role])
    rule = await add_rule(api_admin, city="Tula")
    for method, path, body in [
        ("GET", RULES, None),
        ("POST", RULES, {"city": "Tula"}),
        ("GET", f"{RULES}/{rule}", None),
        ("PUT", f"{RULES}/{rule}", {"city": "Omsk"}),
        ("DELETE", f"{RULES}/{rule}", None),
        ("POST", f"{RULES}/dry-run", {"city": "Tula"}),
        ("POST", "/api/v1/blacklist/check", {"numbers": ["12345678"]}),
        ("GET", "/api/v1/blacklist/settings", None),
        ("PUT", "/api/v1/blacklist/settings", {"copy_fields": ["email"]}),
        ("POST", "/api/v1/requests/12345678/blacklist", None),
        ("POST", "/api/v1/clients/1/blacklist", None),
    ]:
        reply = await caller.call(method, path, json=body)
        assert reply.status == 403, (method, path, reply.text)
    assert (await api_admin.get(f"{RULES}/{rule}")).json["city"] == "Tula"


# The silent flag: what the filing side sees of a flagged request is what it sees of a clean
# one. The two requests share their client; a rule on the client's email, added between the
# two filings, flags the second only.


def same_but_numbers(text: str, numbers: tuple[str, str]) -> str:
    """The text with both request numbers, every timestamp and every call id made alike."""
    for number in numbers:
        text = text.replace(number, "NUMBER")
    text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?", "TIME", text)
    text = re.sub(r"\d{1,2} \w{3} \d{4},? \d\d:\d\d", "TIME", text)
    text = re.sub(r"(?i)\b(today|yesterday), \d\d:\d\d", "TIME", text)  # filed a minute apart
    return re.sub(r"CA[0-9a-f]{32}|/calls/\d+|call=\d+", "CALL", text)


async def test_the_filing_side_cannot_tell_a_flagged_request(
    api_agent, api_admin, api_manager, browser, simulator, demo, smtp, server
):
    ivan = next(
        c
        for c in (await api_agent.get("/api/v1/clients")).json["items"]
        if c["first_name"] == "Ivan"
    )
    clean = await file(api_agent, ivan["id"], ip="198.51.100.4")
    await add_rule(api_admin, email=ivan["email"], note="chargebacks")
    flagged = await file(api_agent, ivan["id"], ip="198.51.100.4")
    numbers = (clean["number"], flagged["number"])
    assert (await flag(api_admin, flagged["number"]), await flag(api_admin, clean["number"])) == (
        True,
        False,
    )

    def alike(first: str, second: str) -> None:
        assert same_but_numbers(first, numbers) == same_but_numbers(second, numbers)

    # What an admin's key gets of the two does differ, under the same comparison.
    one, two = [await api_admin.get(f"/api/v1/requests/{n}") for n in numbers]
    with pytest.raises(AssertionError):
        alike(one.text, two.text)

    # The agent's API: the answer at filing, the request, its calls.
    alike(str(clean), str(flagged))
    for suffix in ("", "/calls"):
        one, two = [await api_agent.get(f"/api/v1/requests/{n}{suffix}") for n in numbers]
        alike(one.text, two.text)
    listed = (await api_agent.get("/api/v1/requests", params={"suspicious": "true"})).json
    assert {item["number"] for item in listed["items"]} >= set(numbers)
    assert not any("suspicious" in item for item in listed["items"])

    # The agent's pages: the request's page and its row in the list.
    agent: CrmClient = await browser(AGENT)
    pages = [(await agent.get(f"/requests/{n}")).text for n in numbers]
    alike(*pages)
    listing = (await agent.get("/requests?suspicious=1")).text
    rows = [re.search(rf"<tr>\s*<td[^>]*><a[^>]*>{n}</a>.*?</tr>", listing, re.S) for n in numbers]
    assert all(rows)
    alike(*(row.group(0) for row in rows if row))
    assert "uspicious" not in listing and "lacklist" not in listing

    # The partner's manager: the company's list (API and page), and the call itself.
    partner = (await api_manager.get("/api/v1/partner/requests")).json["items"]
    alike(*(str(next(i for i in partner if i["number"] == n)) for n in numbers))
    manager_page = (await (await browser(MANAGER)).get("/partner/requests")).text
    rows = [re.search(rf"<tr>(?:(?!</tr>).)*{n}.*?</tr>", manager_page, re.S) for n in numbers]
    assert all(rows)
    alike(*(row.group(0) for row in rows if row))
    assert "uspicious" not in manager_page
    heard = []
    for number in numbers:
        record = await simulator.call(
            ScriptedCaller([f"{number}#"], talk_seconds=5), from_number=ANNA
        )
        heard.append("\n".join(twiml for _, twiml in record.documents))
    alike(*heard)

    # The admins were told, and only they: once, however many passes the job makes.
    await run_jobs(server.app)
    await run_jobs(server.app)
    ((recipients, letter),) = smtp.inbox.messages
    assert recipients == ADMINS and flagged["number"] in letter["Subject"]
    body = letter.get_payload(decode=True).decode()
    assert "chargebacks" in body and f"email: {ivan['email']}" in body
    assert clean["number"] not in body


async def test_a_clean_request_sends_no_letter(api_agent, server, smtp):
    await file(api_agent, await new_client(api_agent, NEW_CLIENT))
    await run_jobs(server.app)
    assert smtp.inbox.messages == []


async def test_a_page_filing_is_checked_from_the_browsers_address(api_agent, api_admin, server):
    await add_rule(api_admin, ip="203.0.113.50", note="seen in chargebacks")
    olga = await new_client(api_agent, NEW_CLIENT)
    # Behind the trusted proxy, the hop it added last is the browser's address.
    browser = CrmClient(
        str(server.make_url("")), headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.50"}
    )
    try:
        await browser.login(*AGENT)
        reply = await browser.submit(
            "/requests/new",
            {
                "client_id": str(olga),
                "organization_id": str(await polis_id(api_agent)),
                "product": "OSAGO",
            },
        )
    finally:
        await browser.close()
    number = reply.path.rsplit("/", 1)[1]
    seen = (await api_admin.get(f"/api/v1/requests/{number}")).json
    assert (seen["source_ip"], seen["suspicious"]) == ("203.0.113.50", True)


async def test_a_repeat_is_checked_as_a_new_filing(api_agent, api_admin):
    olga = await new_client(api_agent, NEW_CLIENT)
    first = await file(api_agent, olga)
    await add_rule(api_admin, phone="+7 912 345 67 89")
    repeated = await api_agent.post(f"/api/v1/requests/{first['number']}/repeat")
    assert repeated.status == 201
    assert await flag(api_admin, repeated.json["number"])
    assert not await flag(api_admin, first["number"])


# Checked once; re-checked on demand.


async def test_new_rules_leave_old_requests_until_a_re_check(api_agent, api_admin):
    olga = await new_client(api_agent, NEW_CLIENT)
    old = await file(api_agent, olga, ip="203.0.113.5")
    rule = await add_rule(api_admin, ip="203.0.113.0/24", note="proxy farm")
    assert not await flag(api_admin, old["number"])
    reply = await api_admin.post("/api/v1/blacklist/check", json={"numbers": [old["number"]]})
    assert reply.status == 200
    (result,) = reply.json["items"]
    assert result == {
        "number": old["number"],
        "was_suspicious": False,
        "suspicious": True,
        "added": [rule],
        "removed": [],
        "blacklist_matches": [
            {"rule_id": rule, "note": "proxy farm", "fields": {"ip": "203.0.113.5"}}
        ],
    }
    assert await flag(api_admin, old["number"])
    assert (await api_admin.call("DELETE", f"{RULES}/{rule}")).status == 204
    # The flag and its explanation outlive the rule until the next re-check.
    kept = (await api_admin.get(f"/api/v1/requests/{old['number']}")).json
    assert kept["suspicious"] and kept["blacklist_matches"][0]["note"] == "proxy farm"
    again = await api_admin.post("/api/v1/blacklist/check", json={"numbers": [old["number"]]})
    (cleared,) = again.json["items"]
    assert (cleared["was_suspicious"], cleared["suspicious"], cleared["removed"]) == (
        True,
        False,
        [rule],
    )


async def test_a_re_check_naming_an_unknown_request_changes_nothing(api_agent, api_admin):
    olga = await new_client(api_agent, NEW_CLIENT)
    known = await file(api_agent, olga)
    await add_rule(api_admin, city="Yekaterinburg")
    reply = await api_admin.post(
        "/api/v1/blacklist/check", json={"numbers": [known["number"], "00000000"]}
    )
    assert reply.status == 422 and reply.fields == {"numbers.1": "no such request"}
    assert not await flag(api_admin, known["number"])
    empty = await api_admin.post("/api/v1/blacklist/check", json={"numbers": []})
    assert empty.status == 422 and "numbers" in empty.fields


async def test_the_suspicious_filter_lists_only_flagged_requests(api_agent, api_admin):
    await add_rule(api_admin, ip="192.0.2.1")
    olga = await new_client(api_agent, NEW_CLIENT)
    flagged = await file(api_agent, olga, ip="192.0.2.1")
    clean = await file(api_agent, olga, ip="192.0.2.2")
    only = (await api_admin.get("/api/v1/requests", params={"suspicious": "true"})).json
    assert [item["number"] for item in only["items"]] == [flagged["number"]]
    assert only["items"][0]["blacklist_matches"][0]["fields"] == {"ip": "192.0.2.1"}
    others = (await api_admin.get("/api/v1/requests", params={"suspicious": "false"})).json
    assert clean["number"] in {item["number"] for item in others["items"]}
    assert flagged["number"] not in {item["number"] for item in others["items"]}
    wrong = await api_admin.get("/api/v1/requests", params={"suspicious": "maybe"})
    assert wrong.status == 422 and set(wrong.fields) == {"suspicious"}


# Add to the blacklist from a record.


async def test_add_from_a_request_copies_only_the_email_by_default(api_agent, api_admin):
    olga = await new_client(api_agent, NEW_CLIENT)
    filed = await file(api_agent, olga, ip="203.0.113.77")
    reply = await api_admin.post(f"/api/v1/requests/{filed['number']}/blacklist")
    assert reply.status == 201, reply.text
    rule = reply.json
    assert reply.headers["Location"].endswith(f"{RULES}/{rule['id']}")
    filled = {k: v for k, v in rule.items() if v and k not in ("id", "created_at", "note")}
    assert filled == {"email": "olga@example.com"}
    assert filed["number"] in rule["note"]
    # The rule flags the client's next request, not the one it came from.
    assert not await flag(api_admin, filed["number"])
    assert await flag(api_admin, (await file(api_agent, olga))["number"])


async def test_add_from_a_record_copies_the_chosen_fields(api_agent, api_admin):
    chosen = {"copy_fields": ["ip", "city", "last_name"]}
    saved = await api_admin.put("/api/v1/blacklist/settings", json=chosen)
    assert saved.json == {"copy_fields": ["last_name", "city", "ip"]}  # in the pages' order
    assert (await api_admin.get("/api/v1/blacklist/settings")).json == saved.json
    olga = await new_client(api_agent, NEW_CLIENT)
    filed = await file(api_agent, olga, ip="203.0.113.77")
    from_request = await api_admin.post(
        f"/api/v1/requests/{filed['number']}/blacklist", json={"note": "fraud ring"}
    )
    rule = from_request.json
    assert (rule["last_name"], rule["city"], rule["ip"], rule["email"], rule["note"]) == (
        "Ivanova",
        "Yekaterinburg",
        "203.0.113.77",
        None,
        "fraud ring",
    )
    from_client = (await api_admin.post(f"/api/v1/clients/{olga}/blacklist")).json
    assert (from_client["last_name"], from_client["city"], from_client["ip"]) == (
        "Ivanova",
        "Yekaterinburg",
        None,
    )


async def test_a_record_without_the_chosen_values_is_a_clear_error(api_agent, api_admin, sessions):
    await api_admin.put("/api/v1/blacklist/settings", json={"copy_fields": ["email", "street"]})
    bare = await new_client(
        api_agent, {"first_name": "Lev", "last_name": "Gromov", "phone": "+79035556677"}
    )
    reply = await api_admin.post(f"/api/v1/clients/{bare}/blacklist")
    assert reply.status == 422 and set(reply.fields) == {"copy_fields"}
    assert "(street, email)" in reply.fields["copy_fields"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BlacklistRule)) == 0


async def test_settings_refuse_unknown_or_no_fields(api_admin):
    unknown = await api_admin.put("/api/v1/blacklist/settings", json={"copy_fields": ["age"]})
    assert unknown.status == 422 and set(unknown.fields) == {"copy_fields.0"}
    none = await api_admin.put("/api/v1/blacklist/settings", json={"copy_fields": []})
    assert none.status == 422 and set(none.fields) == {"copy_fields"}
    assert (await api_admin.get("/api/v1/blacklist/settings")).json == {"copy_fields": ["email"]}


# The dry run.


async def test_the_dry_run_counts_past_requests_and_changes_nothing(api_agent, api_admin):
    olga = await new_client(api_agent, NEW_CLIENT)
    first = await file(api_agent, olga, ip="203.0.113.10")
    second = await file(api_agent, olga, ip="203.0.113.20")
    await file(api_agent, olga, ip="198.51.100.1")
    reply = await api_admin.post(
        f"{RULES}/dry-run", json={"ip": "203.0.113.0/24", "city": "yekaterinburg"}
    )
    assert reply.status == 200
    assert reply.json["count"] == 2
    assert [r["number"] for r in reply.json["requests"]] == [second["number"], first["number"]]
    assert reply.json["requests"][0]["client"]["last_name"] == "Ivanova"
    assert (await api_admin.get(RULES)).json["total"] == 0
    assert not await flag(api_admin, first["number"])
    empty = await api_admin.post(f"{RULES}/dry-run", json={})
    assert empty.status == 422 and set(empty.fields) == {"rule"}


async def test_an_audit_entry_for_each_change(api_admin, sessions):
    rule = await add_rule(api_admin, city="Tula")
    await api_admin.put(f"{RULES}/{rule}", json={"city": "Omsk"})
    await api_admin.call("DELETE", f"{RULES}/{rule}")
    await api_admin.put("/api/v1/blacklist/settings", json={"copy_fields": ["phone"]})
    async with sessions() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.entity).where(
                AuditEntry.entity.in_(("blacklist_rule", "blacklist_settings"))
            )
        )
        assert sorted(rows) == sorted(
            [
                ("create", "blacklist_rule"),
                ("update", "blacklist_rule"),
                ("delete", "blacklist_rule"),
                ("update", "blacklist_settings"),
            ]
        )
