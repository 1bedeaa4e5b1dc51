"""The agent's client pages over real HTTP: list, search, pages, create, edit, escaping, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import func, select

from crm.clients.service import create_client
from crm.models import Agent, Client, Organization
from crm.schemas import ClientIn
from tests.crm_client import AGENT, IVAN, account_actor, client_id, has_text

pytest_plugins = ("tests.crm_fixtures",)

NEW = {
    "first_name": "Olga",
    "last_name": "Ivanova",
    "phone": "8 (912) 345-67-89",
    "email": "Olga@Example.com",
    "street": "Lenina",
    "house": "5, flat 7",
    "postal_code": "620014",
    "city": "Yekaterinburg",
}


async def count_clients(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Client))


async def test_list_shows_the_agents_clients(agent):
    reply = await agent.get("/clients")
    assert reply.status == 200
    assert "Ivan Petrov" in reply.text and "Maria Smirnova" in reply.text
    assert IVAN["phone"] in reply.text


async def test_search_narrows_the_list(agent):
    reply = await agent.get("/clients?q=smirn")
    assert "Maria Smirnova" in reply.text
    assert "Ivan Petrov" not in reply.text
    by_phone = await agent.get("/clients?q=916 123")
    assert "Ivan Petrov" in by_phone.text and "Maria Smirnova" not in by_phone.text


async def test_long_list_has_page_links_that_keep_the_search(agent, sessions):
    async with sessions.begin() as session:
        actor = await account_actor(session, AGENT[0])
        for n in range(25):
            data = ClientIn(first_name=f"Test{n:02}", last_name="Pager", phone=f"+7916000{n:04}")
            await create_client(session, actor=actor, data=data, now=datetime.now(UTC))
    first = await agent.get("/clients?q=pager")
    assert first.text.count("Pager</a>") == 20
    assert 'href="/clients?q=pager&amp;page=2"' in first.text
    second = await agent.get("/clients?q=pager&page=2")
    assert second.text.count("Pager</a>") == 5
    assert "21–25 of 25" in second.text
    assert 'rel="prev" href="/clients?q=pager&amp;page=1"' in second.text


async def test_new_client_is_saved_with_the_phone_in_e164(agent, sessions):
    reply = await agent.submit("/clients/new", NEW)
    assert reply.status == 200 and reply.path == "/clients"
    assert has_text(reply.text, "Client Olga Ivanova added.")
    async with sessions() as session:
        saved = await session.scalar(select(Client).where(Client.last_name == "Ivanova"))
    assert saved.phone == "+79123456789"
    assert saved.email == "olga@example.com"
    assert (saved.house, saved.city) == ("5, flat 7", "Yekaterinburg")


async def test_invalid_phone_keeps_every_typed_value_and_names_the_phone(agent, sessions):
    before = await count_clients(sessions)
    typed = {**NEW, "phone": "12345"}
    reply = await agent.submit("/clients/new", typed)
    assert reply.status == 400
    assert 'id="error-phone"' in reply.text
    assert "not a valid phone number" in reply.text
    for name, value in typed.items():
        assert f'name="{name}" type' in reply.text
        assert f'value="{value}"' in reply.text, name
    assert 'id="error-first_name"' not in reply.text
    assert await count_clients(sessions) == before


async def test_missing_last_name_is_shown_next_to_that_field(agent):
    reply = await agent.submit("/clients/new", {**NEW, "last_name": "  "})
    assert reply.status == 400
    assert 'id="error-last_name">fill this in</span>' in reply.text
    assert 'id="error-phone"' not in reply.text


async def test_edit_changes_the_client(agent, sessions):
    ivan = await client_id(sessions, phone=IVAN["phone"])
    page = await agent.get(f"/clients/{ivan}/edit")
    assert 'value="Tverskaya"' in page.text
    reply = await agent.submit(
        f"/clients/{ivan}/edit", {**IVAN, "city": "Tula", "phone": "+7 916 765-43-21"}
    )
    assert reply.path == "/clients"
    async with sessions() as session:
        saved = await session.get(Client, ivan)
    assert (saved.city, saved.phone) == ("Tula", "+79167654321")


async def test_edit_with_a_bad_email_keeps_the_typed_values(agent, sessions):
    ivan = await client_id(sessions, phone=IVAN["phone"])
    reply = await agent.submit(
        f"/clients/{ivan}/edit", {**IVAN, "email": "not-an-email", "city": "Tula"}
    )
    assert reply.status == 400
    assert 'id="error-email"' in reply.text
    assert 'value="not-an-email"' in reply.text and 'value="Tula"' in reply.text
    async with sessions() as session:
        assert (await session.get(Client, ivan)).city == "Moscow"


async def test_script_in_a_name_is_shown_escaped(agent, sessions):
    script = "<script>alert(1)</script>"
    await agent.submit("/clients/new", {**NEW, "first_name": script})
    listing = await agent.get("/clients")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
    assert script not in listing.text
    new_id = await client_id(sessions, phone="+79123456789")
    edit = await agent.get(f"/clients/{new_id}/edit")
    assert "&lt;script&gt;" in edit.text and script not in edit.text
    async with sessions() as session:
        partner = await session.scalar(select(Organization.id))
    detail = await agent.submit(
        "/requests/new",
        {"client_id": str(new_id), "organization_id": str(partner), "product": script},
    )
    assert detail.path.startswith("/requests/") and detail.path[-8:].isdigit()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Ivanova" in detail.text
    assert script not in detail.text


async def test_post_without_csrf_token_is_refused_and_saves_nothing(agent, sessions):
    before = await count_clients(sessions)
    reply = await agent.post("/clients/new", NEW)
    assert reply.status == 403
    assert "security token" in reply.text
    forged = await agent.post("/clients/new", {**NEW, "_csrf": "forged"})
    assert forged.status == 403
    assert await count_clients(sessions) == before


async def test_admin_adds_a_client_for_a_chosen_agent(admin, sessions):
    async with sessions() as session:
        agent_id = await session.scalar(select(Agent.id))
    form = await admin.get("/clients/new")
    assert "Demo Agent (agent@example.com)" in form.text
    missing = await admin.submit("/clients/new", NEW)
    assert missing.status == 400 and 'id="error-agent_id"' in missing.text
    reply = await admin.submit("/clients/new", {**NEW, "agent_id": str(agent_id)})
    assert reply.path == "/clients"
    async with sessions() as session:
        saved = await session.scalar(select(Client).where(Client.last_name == "Ivanova"))
    assert saved.agent_id == agent_id


WILDCARD_SEARCHES = {
    "%": ["Fifty_50%"],
    "_": ["Fifty_50%"],
    "y_5": ["Fifty_50%"],
    "Smirn_va": [],
    "%mirnova": [],
    "\\": [],
    "/": [],
    "Fifty/_": [],
}


async def test_like_wildcards_in_a_search_match_only_themselves(agent, sessions):
    async with sessions.begin() as session:
        await create_client(
            session,
            actor=await account_actor(session, AGENT[0]),
            data=ClientIn(first_name="Percy", last_name="Fifty_50%", phone="+79161230050"),
            now=datetime.now(UTC),
        )
    shown = {}
    for search in WILDCARD_SEARCHES:
        reply = await agent.get("/clients?" + urlencode({"q": search}))
        assert reply.status == 200
        names = ("Fifty_50%", "Petrov", "Smirnova")
        shown[search] = [name for name in names if has_text(reply.text, name)]
    assert shown == WILDCARD_SEARCHES
