"""Who reaches which page: anonymous, agents (only their own), managers (only their list)."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.models import Client, Request
from tests.crm_client import AGENT, IVAN, MANAGER, client_id
from tests.helpers import open_polis, request_number

pytest_plugins = ("tests.crm_fixtures",)

PAGES = [
    "/clients",
    "/clients/new",
    "/requests",
    "/requests/new",
    "/partner/requests",
    "/admin/organizations",
    "/admin/agents",
    "/admin/calls",
    "/admin/audit",
    "/admin/api-keys",
]
ADMIN_PAGES = [page for page in PAGES if page.startswith("/admin/")]


async def counts(sessions) -> tuple[int, int]:
    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Client)),
            await session.scalar(select(func.count()).select_from(Request)),
        )


async def test_anonymous_is_sent_to_login(browser):
    anonymous = await browser()
    for page in PAGES:
        reply = await anonymous.get(page, follow=False)
        assert (reply.status, reply.location.split("=")[0]) == (303, "/login?next"), page
    followed = await anonymous.get("/clients")
    assert followed.path.startswith("/login") and 'name="password"' in followed.text


async def test_login_returns_to_the_page_asked_for(browser):
    anonymous = await browser()
    await anonymous.get("/clients?q=ivan")
    reply = await anonymous.submit(
        "/login?next=/clients?q%3Divan",
        {"email": AGENT[0], "password": AGENT[1], "next": "/clients?q=ivan"},
        action="/login",
    )
    assert reply.path == "/clients?q=ivan" and "Ivan Petrov" in reply.text


async def test_manager_is_refused_everything_but_its_list(manager):
    for page in PAGES:
        reply = await manager.get(page)
        if page == "/partner/requests":
            assert reply.status == 200
        else:
            assert reply.status == 403, page
            assert "Your role does not open this page" in reply.text


async def test_manager_cannot_post_a_client(manager, sessions):
    before = await counts(sessions)
    reply = await manager.submit(
        "/partner/requests",
        {"first_name": "X", "last_name": "Y", "phone": "+79160000000"},
        action="/clients/new",
    )
    assert reply.status == 403
    assert await counts(sessions) == before


async def test_agent_is_refused_admin_and_partner_pages(agent):
    for page in [*ADMIN_PAGES, "/partner/requests"]:
        assert (await agent.get(page)).status == 403, page


async def test_admin_opens_every_page_but_the_partner_list(admin):
    for page in PAGES:
        reply = await admin.get(page)
        assert reply.status == (403 if page == "/partner/requests" else 200), page


async def test_other_agent_gets_404_on_the_client_and_its_edit(other_agent, sessions):
    ivan = await client_id(sessions, phone=IVAN["phone"])
    assert (await other_agent.get(f"/clients/{ivan}/edit")).status == 404
    reply = await other_agent.submit(
        "/clients", {**IVAN, "city": "Hacked"}, action=f"/clients/{ivan}/edit"
    )
    assert reply.status == 404 and "not yours" in reply.text
    async with sessions() as session:
        assert (await session.get(Client, ivan)).city == "Moscow"


async def test_other_agent_sees_none_of_the_first_agents_data(other_agent, demo):
    clients = await other_agent.get("/clients?q=petrov")
    assert "Ivan Petrov" not in clients.text and "No client matches" in clients.text
    requests = await other_agent.get("/requests")
    assert not any(filed["number"] in requests.text for filed in demo["requests"])
    form = await other_agent.get("/requests/new")
    assert "Petrov" not in form.text and "Add a client first" in form.text


async def test_other_agent_gets_404_on_request_page_and_actions(other_agent, demo, sessions):
    number = open_polis(demo)["number"]
    before = await counts(sessions)
    assert (await other_agent.get(f"/requests/{number}")).status == 404
    for action in ("close", "reopen", "repeat"):
        reply = await other_agent.submit(
            "/requests", {"confirm": "yes"}, action=f"/requests/{number}/{action}"
        )
        assert reply.status == 404, action
    assert await counts(sessions) == before
    async with sessions() as session:
        status = await session.scalar(select(Request.status).where(Request.number == number))
    assert status.value == "open"


async def test_other_agent_cannot_file_for_someone_elses_client(other_agent, sessions):
    await other_agent.submit(
        "/clients/new", {"first_name": "Own", "last_name": "Client", "phone": "+79167770000"}
    )
    ivan = await client_id(sessions, phone=IVAN["phone"])
    before = await counts(sessions)
    reply = await other_agent.submit(
        "/requests",
        {"client_id": str(ivan), "organization_id": "1", "product": "Loan"},
        action="/requests/new",
    )
    assert reply.status == 400 and 'id="error-client_id"' in reply.text
    assert "Client Own" in reply.text and "Petrov" not in reply.text
    assert await counts(sessions) == before


async def test_manager_list_has_no_contact_details_of_the_client(browser, demo):
    manager = await browser(MANAGER)
    reply = await manager.get("/partner/requests")
    assert reply.status == 200
    assert open_polis(demo)["number"] in reply.text
    assert "CASCO renewal" in reply.text and "Ivan" in reply.text and "Moscow" in reply.text
    for private in (IVAN["phone"], IVAN["phone"][2:], IVAN["email"], IVAN["street"], "Petrov"):
        assert private not in reply.text, private
    assert f">{IVAN['house']}<" not in reply.text


async def test_manager_list_shows_only_its_companys_open_requests(manager, demo):
    reply = await manager.get("/partner/requests")
    assert request_number(demo, partner="Sunny Tours", status="open") not in reply.text
    assert request_number(demo, partner="Polis Insurance", status="closed") not in reply.text


async def test_an_address_that_matches_no_page_gets_the_friendly_404(agent):
    reply = await agent.get("/requests/not-a-number")
    assert reply.status == 404
    assert "There is nothing here" in reply.text and 'action="/logout"' in reply.text


async def test_a_huge_page_number_shows_an_empty_page_not_an_error(agent):
    reply = await agent.get("/clients?page=99999999999999999999")
    assert reply.status == 200
