"""The long lists: sorted by their columns (pages and API), the call log's filters, and the
request form's client search with and without JavaScript."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.call_log import SORTS as CALL_SORTS
from crm.clients.service import SORTS as CLIENT_SORTS
from crm.enums import CallOutcome, RequestStatus
from crm.models import Agent, Call, Client, Manager, Organization, Request
from crm.requests.service import SORTS as REQUEST_SORTS
from tests.api_helpers import AGENT, IVAN
from tests.conftest import SESSION_KEY, make_config

pytest_plugins = ("tests.api_fixtures", "tests.crm_fixtures")

T = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
NUMBER_LINK = re.compile(r'href="/requests/(\d{8})"')
CALLER = re.compile(r'data-label="Caller" class="mono">(\+\d+)')
CLIENT_LINK = re.compile(r'href="/clients/(\d+)/edit"')


def rows(page: str) -> str:
    """The table's body: what the list shows, not its filters' choices."""
    return page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""


async def ids(sessions) -> dict[str, int]:
    async with sessions() as db:
        return {
            "agent": await db.scalar(select(Agent.id).where(Agent.email == AGENT)),
            "polis": await db.scalar(
                select(Organization.id).where(Organization.name == "Polis Insurance")
            ),
            "sunny": await db.scalar(
                select(Organization.id).where(Organization.name == "Sunny Tours")
            ),
            "anna": await db.scalar(select(Manager.id).where(Manager.name == "Anna Sokolova")),
            "boris": await db.scalar(select(Manager.id).where(Manager.name == "Boris Orlov")),
        }


async def add_requests(sessions, count: int = 23) -> None:
    """Requests with many ties: three products, two statuses, four per minute."""
    known = await ids(sessions)
    async with sessions.begin() as db:
        clients = list(await db.scalars(select(Client.id).where(Client.agent_id == known["agent"])))
        for i in range(count):
            db.add(
                Request(
                    number=f"9{i:07d}",
                    agent_id=known["agent"],
                    client_id=clients[i % len(clients)],
                    organization_id=known["polis"],
                    product=("Alpha", "Beta", "Gamma")[i % 3],
                    status=RequestStatus.OPEN if i % 2 else RequestStatus.CLOSED,
                    created_at=T + timedelta(minutes=i // 4),
                )
            )


async def add_clients(sessions, count: int = 22) -> None:
    """Clients whose names, emails, cities and phones repeat."""
    agent_id = (await ids(sessions))["agent"]
    async with sessions.begin() as db:
        for i in range(count):
            first = ("Anna", "Boris")[i % 2]
            db.add(
                Client(
                    agent_id=agent_id,
                    first_name=first,
                    last_name=("Adams", "Brown", "Clark")[i % 3],
                    phone=f"+7916555{i // 2:04d}",
                    email=f"{first.lower()}@example.com",
                    city=("Kazan", "Omsk")[i % 2],
                    created_at=T,
                )
            )


async def walk(api, path: str, sort: str, per_page: int = 5) -> tuple[list[dict], int]:
    items: list[dict] = []
    page = 1
    while True:
        reply = await api.get(path, params={"sort": sort, "page": page, "per_page": per_page})
        assert reply.status == 200, reply.text
        items += reply.json["items"]
        if page >= reply.json["pages"]:
            return items, reply.json["total"]
        page += 1


REQUEST_KEYS = {
    "created": lambda item: datetime.fromisoformat(item["created_at"]),
    "number": lambda item: item["number"],
    "product": lambda item: item["product"],
    "status": lambda item: item["status"],
}
CLIENT_KEYS = {
    "name": lambda item: (item["last_name"], item["first_name"]),
    "email": lambda item: item["email"],
    "city": lambda item: item["city"],
    "phone": lambda item: item["phone"],
}


def assert_sorted(keys: list, sort: str) -> None:
    assert keys == sorted(keys, reverse=sort.startswith("-")), sort


@pytest.mark.parametrize("sort", REQUEST_SORTS.values)
async def test_requests_sort_both_ways_across_pages(api_agent, sessions, sort):
    await add_requests(sessions)
    items, total = await walk(api_agent, "/api/v1/requests", sort)
    numbers = [item["number"] for item in items]
    assert len(numbers) == len(set(numbers)) == total == 26  # the demo's three too
    assert_sorted([REQUEST_KEYS[sort.lstrip("-")](item) for item in items], sort)


@pytest.mark.parametrize("sort", CLIENT_SORTS.values)
async def test_clients_sort_both_ways_across_pages(api_agent, sessions, sort):
    await add_clients(sessions)
    items, total = await walk(api_agent, "/api/v1/clients", sort, per_page=4)
    found = [item["id"] for item in items]
    assert len(found) == len(set(found)) == total == 24
    assert_sorted([CLIENT_KEYS[sort.lstrip("-")](item) for item in items], sort)


@pytest.mark.parametrize("sort", ["email", "-email", "city", "-city"])
async def test_empty_values_come_last_either_way_on_every_database(api_agent, sessions, sort):
    await add_clients(sessions, count=6)
    async with sessions.begin() as db:
        for client in await db.scalars(select(Client).where(Client.phone.like("+7916555%"))):
            if client.phone[-1] in "02":
                client.email, client.city = None, None
    items, _total = await walk(api_agent, "/api/v1/clients", sort, per_page=3)
    values = [item[sort.lstrip("-")] for item in items]
    filled = [value for value in values if value is not None]
    assert values == filled + [None] * (len(values) - len(filled)), values
    assert len(filled) < len(values)
    assert_sorted(filled, sort)


async def page_walk(browser_client, path: str, pattern: re.Pattern) -> list[str]:
    """Every row's key over all pages, following the page's own "Next" links."""
    found: list[str] = []
    while path:
        page = await browser_client.get(path)
        assert page.status == 200, page.text
        found += pattern.findall(rows(page.text))
        following = re.search(r'<a rel="next" href="([^"]+)"', page.text)
        path = html.unescape(following.group(1)) if following else ""
    return found


@pytest.mark.parametrize("sort", ["-product", "status", "number"])
async def test_the_requests_page_sorts_like_the_api_and_keeps_the_sort_in_its_links(
    agent, api_agent, sessions, sort
):
    await add_requests(sessions)
    expected = [item["number"] for item in (await walk(api_agent, "/api/v1/requests", sort))[0]]
    assert await page_walk(agent, f"/requests?sort={sort}", NUMBER_LINK) == expected


async def test_the_requests_page_headers_toggle_and_show_the_order(agent, sessions):
    await add_requests(sessions)
    default = await agent.get("/requests")
    assert '<th aria-sort="descending"><a href="/requests?sort=created">Filed' in default.text
    assert 'href="/requests?sort=product">Product</a>' in default.text
    ascending = await agent.get("/requests?sort=product&status=open")
    assert (
        '<th aria-sort="ascending"><a href="/requests?status=open&amp;sort=-product">Product '
        '<span aria-hidden="true">▲</span>' in ascending.text
    )
    assert 'name="sort" value="product"' in ascending.text  # the search form keeps it
    assert 'href="/requests?sort=product&amp;status=closed"' in ascending.text  # and the tabs
    paged = await agent.get("/requests?sort=product")
    assert 'rel="next" href="/requests?sort=product&amp;page=2"' in paged.text


async def test_an_unknown_sort_is_the_default_on_pages_and_422_in_the_api(
    agent, api_agent, sessions
):
    await add_requests(sessions)
    default = await agent.get("/requests")
    for bogus in ("bogus", "-", "id", "created;drop"):
        page = await agent.get(f"/requests?sort={bogus}")
        assert page.status == 200
        assert NUMBER_LINK.findall(rows(page.text)) == NUMBER_LINK.findall(rows(default.text))
        for path in ("/api/v1/requests", "/api/v1/clients"):
            reply = await api_agent.get(path, params={"sort": bogus})
            assert reply.status == 422 and "sort" in reply.json["error"]["fields"], reply.text
    clients = await agent.get("/clients?sort=bogus")
    assert clients.status == 200 and '<th aria-sort="ascending">' in clients.text


async def test_the_clients_page_sorts_by_city_descending(agent, api_agent, sessions):
    await add_clients(sessions)
    expected = [str(item["id"]) for item in (await walk(api_agent, "/api/v1/clients", "-city"))[0]]
    assert await page_walk(agent, "/clients?sort=-city", CLIENT_LINK) == expected
    page = await agent.get("/clients?sort=-city&q=kazan")
    assert '<th aria-sort="descending"><a href="/clients?q=kazan&amp;sort=city">City' in page.text


# The call log, on the reader's clock: the admin reads Moscow time.


@pytest.fixture
def config(database_url):
    """This file's readers are in Moscow (the other tests' default zone is UTC)."""
    web = {"session_key": SESSION_KEY, "language": "en", "timezone": "Europe/Moscow"}
    return make_config(database_url, web=web)


async def add_call(sessions, *, caller: str, manager_id: int | None, started: datetime, **extra):
    async with sessions.begin() as db:
        db.add(
            Call(
                call_sid=f"CA{caller[1:]}{started.timestamp():.0f}",
                caller=caller,
                manager_id=manager_id,
                stage="ended",
                outcome=extra.get("outcome", CallOutcome.BRIDGED),
                started_at=started,
                ended_at=started + timedelta(minutes=2),
                duration_seconds=extra.get("duration", 120),
            )
        )


async def test_the_date_range_is_the_readers_days(admin, sessions):
    known = await ids(sessions)
    # 23:30 in Moscow on 1 November, and half past midnight on the 2nd.
    await add_call(
        sessions,
        caller="+79000000101",
        manager_id=known["anna"],
        started=datetime(2026, 11, 1, 20, 30, tzinfo=UTC),
    )
    await add_call(
        sessions,
        caller="+79000000102",
        manager_id=known["anna"],
        started=datetime(2026, 11, 1, 21, 30, tzinfo=UTC),
    )
    first = await admin.get("/admin/calls?from=2026-11-01&to=2026-11-01")
    assert CALLER.findall(rows(first.text)) == ["+79000000101"]
    second = await admin.get("/admin/calls?from=2026-11-02&to=2026-11-02")
    assert CALLER.findall(rows(second.text)) == ["+79000000102"]
    since = await admin.get("/admin/calls?from=2026-11-02")
    assert CALLER.findall(rows(since.text)) == ["+79000000102"]
    until = await admin.get("/admin/calls?to=2026-11-01")
    assert CALLER.findall(rows(until.text)) == ["+79000000101"]


async def test_company_and_manager_filters(admin, sessions):
    known = await ids(sessions)
    await add_call(sessions, caller="+79000000201", manager_id=known["anna"], started=T)
    await add_call(sessions, caller="+79000000202", manager_id=known["boris"], started=T)
    await add_call(
        sessions,
        caller="+79000000203",
        manager_id=None,
        started=T,
        outcome=CallOutcome.UNKNOWN_CALLER,
    )
    sunny = await admin.get(f"/admin/calls?organization_id={known['sunny']}")
    assert CALLER.findall(rows(sunny.text)) == ["+79000000202"]
    manager_list = sunny.text.split('name="manager_id"')[1].split("</select>")[0]
    assert "Boris Orlov" in manager_list and "Anna Sokolova" not in manager_list
    anna = await admin.get(f"/admin/calls?manager_id={known['anna']}")
    assert CALLER.findall(rows(anna.text)) == ["+79000000201"]
    both = await admin.get(
        f"/admin/calls?organization_id={known['polis']}&manager_id={known['anna']}&outcome=bridged"
    )
    assert CALLER.findall(rows(both.text)) == ["+79000000201"]
    garbage = await admin.get("/admin/calls?organization_id=x&manager_id=99999999999999999999")
    assert garbage.status == 200 and len(CALLER.findall(rows(garbage.text))) == 3
    elsewhere = await admin.get(
        f"/admin/calls?organization_id={known['sunny']}&manager_id={known['anna']}"
    )
    assert CALLER.findall(rows(elsewhere.text)) == ["+79000000202"]  # as the form shows: all
    assert f"manager_id={known['anna']}" not in elsewhere.text


async def test_a_bad_date_is_named_and_the_other_filters_kept(admin, sessions):
    known = await ids(sessions)
    await add_call(sessions, caller="+79000000301", manager_id=known["anna"], started=T)
    await add_call(sessions, caller="+79000000302", manager_id=known["boris"], started=T)
    page = await admin.get(
        f"/admin/calls?from=2026-13-01&organization_id={known['polis']}&outcome=bridged"
    )
    assert page.status == 400
    assert "“Since” is not a date: enter it as YYYY-MM-DD." in html.unescape(page.text)
    assert 'value="2026-13-01" aria-invalid="true"' in page.text
    assert f'<option value="{known["polis"]}" selected>' in page.text
    assert '<option value="bridged" selected>' in page.text
    assert CALLER.findall(rows(page.text)) == ["+79000000301"]
    for far in ("to=9999-12-31", "from=0001-01-01"):
        refused = await admin.get(f"/admin/calls?{far}")
        assert refused.status == 400, far
        assert "is not a date: enter it as YYYY-MM-DD." in html.unescape(refused.text), far
    backwards = await admin.get("/admin/calls?from=2026-11-05&to=2026-11-01")
    assert backwards.status == 400 and "“Until” is before “Since”." in html.unescape(backwards.text)


@pytest.mark.parametrize("sort", CALL_SORTS.values)
async def test_the_call_log_sorts_across_pages_and_keeps_its_filters(admin, sessions, sort):
    known = await ids(sessions)
    facts = {}
    for i in range(23):
        caller = f"+7900000{(i // 2):04d}{i % 2}"
        started = T + timedelta(minutes=i // 3)
        facts[caller] = {"started": started, "caller": caller, "duration": 60 + (i % 4) * 10}
        await add_call(
            sessions,
            caller=caller,
            manager_id=known["anna"],
            started=started,
            duration=facts[caller]["duration"],
        )
    await add_call(sessions, caller="+79000009999", manager_id=known["boris"], started=T)
    path = f"/admin/calls?organization_id={known['polis']}&from=2026-11-10&sort={sort}"
    found = await page_walk(admin, path, CALLER)
    assert sorted(found) == sorted(facts)
    assert_sorted([facts[caller][sort.lstrip("-")] for caller in found], sort)
    first = await admin.get(path)
    links = [
        html.unescape(link) for link in re.findall(r'href="(/admin/calls\?[^"]+)"', first.text)
    ]
    paging = [link for link in links if "page=" in link]
    headers = [link for link in links if "page=" not in link]
    assert paging and len(headers) == 3
    for link in links:
        assert f"organization_id={known['polis']}" in link and "from=2026-11-10" in link, link
        assert "sort=" in link or sort == "-started", link


# The request form's client: a search, never a list of every client.


async def test_the_lookup_returns_only_the_agents_clients_without_contacts(
    agent, other_agent, admin, sessions
):
    await add_clients(sessions, count=25)
    mine = await agent.get("/clients/lookup?q=a")
    items = json.loads(mine.text)["items"]
    assert len(items) == 20 and set(items[0]) == {"id", "label"}
    assert "@" not in mine.text and "+7" not in mine.text
    petrov = json.loads((await agent.get("/clients/lookup?q=petrov")).text)
    assert [item["label"] for item in petrov["items"]] == ["Petrov Ivan, Moscow"]
    by_phone = await agent.get("/clients/lookup?q=" + IVAN["phone"][-7:])
    assert "Petrov Ivan, Moscow" in by_phone.text and IVAN["phone"] not in by_phone.text
    none = await other_agent.get("/clients/lookup?q=petrov")
    assert json.loads(none.text) == {"items": []}
    everyone = await admin.get("/clients/lookup?q=petrov")
    assert "Petrov Ivan, Moscow" in everyone.text


async def test_the_form_without_javascript_searches_and_files(agent, sessions):
    await add_clients(sessions, count=25)
    form = await agent.get("/requests/new")
    options = re.findall(
        r'<option value="(\d+)"', form.text.split('name="client_id"')[1].split("</select>")[0]
    )
    assert len(options) == 20, "a short list, not every client"
    assert '<script src="/static/client-picker.js" defer></script>' in form.text
    found = await agent.get("/requests/new?client_search=petrov")
    listed = found.text.split('name="client_id"')[1].split("</select>")[0]
    ivan = re.findall(r'<option value="(\d+)"', listed)
    assert len(ivan) == 1 and "Petrov Ivan, Moscow" in listed
    assert 'name="client_search" value="petrov"' in found.text
    nobody = await agent.get("/requests/new?client_search=nobody")
    assert "No client matches “nobody”." in html.unescape(nobody.text)
    polis = (await ids(sessions))["polis"]
    filed = await agent.submit(
        "/requests/new?client_search=petrov",
        {"client_id": ivan[0], "organization_id": str(polis), "product": "Loan"},
        action="/requests/new",
    )
    assert filed.status == 200 and "Give this number to the partner" in filed.text


async def test_find_without_javascript_keeps_what_was_typed(agent, sessions):
    await add_clients(sessions, count=3)
    polis = (await ids(sessions))["polis"]
    typed = {"organization_id": str(polis), "product": "Travel cover", "comment": "Call after 6"}
    found = await agent.submit(
        "/requests/new",
        {**typed, "client_search": "petrov", "action": "find"},
        action="/requests/new",
    )
    assert found.status == 200 and found.path == "/requests/new"
    listed = found.text.split('name="client_id"')[1].split("</select>")[0]
    assert "Petrov Ivan, Moscow" in listed
    assert f'<option value="{polis}" selected>' in found.text
    assert 'value="Travel cover"' in found.text and ">Call after 6</textarea>" in found.text
    async with sessions() as db:
        assert await db.scalar(select(Request.id).where(Request.product == "Travel cover")) is None


async def test_a_client_named_in_the_link_is_preselected_and_anothers_is_not(
    agent, other_agent, sessions
):
    await add_clients(sessions, count=25)
    async with sessions() as db:
        ivan = await db.scalar(select(Client.id).where(Client.last_name == "Petrov"))
    form = await agent.get(f"/requests/new?client_id={ivan}")
    assert f'<option value="{ivan}" selected>Petrov Ivan, Moscow</option>' in form.text
    theirs = await other_agent.get(f"/requests/new?client_id={ivan}")
    assert "Petrov" not in theirs.text


async def test_namesakes_are_told_apart_by_their_phones_last_digits(agent, sessions):
    agent_id = (await ids(sessions))["agent"]
    async with sessions.begin() as db:
        for phone in ("+79165550101", "+79165550202"):
            db.add(
                Client(
                    agent_id=agent_id,
                    first_name="Oleg",
                    last_name="Smirnov",
                    phone=phone,
                    city="Tver",
                    created_at=T,
                )
            )
    found = json.loads((await agent.get("/clients/lookup?q=oleg")).text)["items"]
    assert sorted(item["label"] for item in found) == [
        "Smirnov Oleg, Tver · …0101",
        "Smirnov Oleg, Tver · …0202",
    ]
    alone = json.loads((await agent.get("/clients/lookup?q=petrov")).text)["items"]
    assert [item["label"] for item in alone] == ["Petrov Ivan, Moscow"]
    form = await agent.get("/requests/new?client_search=smirnov")
    assert "Smirnov Oleg, Tver · …0101" in form.text and "Smirnov Oleg, Tver · …0202" in form.text
