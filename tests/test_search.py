"""Search that works in Cyrillic on SQLite and PostgreSQL: clients by name, email or city,
requests by number, client's name or product; case and `ё` do not matter."""

from __future__ import annotations

from sqlalchemy import text

from crm.db import create_sessionmaker
from crm.models import Client
from ivr.migrate import upgrade
from tests.api_helpers import NEW_CLIENT
from tests.crm_client import has_text
from tests.signup_helpers import T0
from tests.test_migrations import downgrade

pytest_plugins = ("tests.api_fixtures", "tests.crm_fixtures")

OLEG = {
    **NEW_CLIENT,
    "first_name": "Олег",
    "last_name": "Сидорёнков",
    "phone": "+79175550101",
    "email": "oleg@example.ru",
    "city": "Казань",
}


async def add_oleg(api_agent) -> dict:
    reply = await api_agent.post("/api/v1/clients", json=OLEG)
    assert reply.status == 201, reply.text
    return reply.json


async def found_clients(api, term: str) -> list[str]:
    reply = await api.get("/api/v1/clients", params={"search": term})
    assert reply.status == 200, reply.text
    return [client["last_name"] for client in reply.json["items"]]


async def test_cyrillic_names_and_cities_are_found_in_any_case(api_agent, api_admin):
    await add_oleg(api_agent)
    for term in (
        "Казань",
        "казань",
        "КАЗАНЬ",
        "олег",
        "ОЛЕГ",
        "Олег",
        "сидоренков",
        "СИДОРЁН",
        "Олег  Сидорёнков",
    ):
        assert await found_clients(api_agent, term) == ["Сидорёнков"], term
        assert await found_clients(api_admin, term) == ["Сидорёнков"], term
    assert await found_clients(api_agent, "Самара") == []
    assert await found_clients(api_agent, "каз%") == [], "a typed % matches itself"
    assert await found_clients(api_agent, "ru\nолег") == [], "no match across two fields"


async def test_the_clients_page_searches_in_cyrillic(api_agent, agent):
    await add_oleg(api_agent)
    page = await agent.get("/clients?q=КАЗАНЬ")
    assert has_text(page.text, "Сидорёнков") and has_text(page.text, "Олег")


async def test_an_edited_client_is_found_by_the_new_name_only(api_agent):
    oleg = await add_oleg(api_agent)
    edited = await api_agent.put(f"/api/v1/clients/{oleg['id']}", json={**OLEG, "city": "Тула"})
    assert edited.status == 200, edited.text
    assert await found_clients(api_agent, "тула") == ["Сидорёнков"]
    assert await found_clients(api_agent, "казань") == []


async def test_requests_are_found_by_number_client_or_product(api_agent, apis, demo, agent):
    oleg = await add_oleg(api_agent)
    polis = next(p for p in (await api_agent.get("/api/v1/organizations")).json["items"])
    filed = await api_agent.post(
        "/api/v1/requests",
        json={"client_id": oleg["id"], "organization_id": polis["id"], "product": "КАСКО Премиум"},
    )
    assert filed.status == 201, filed.text
    number = filed.json["number"]

    async def numbers(api, term: str) -> list[str]:
        reply = await api.get("/api/v1/requests", params={"search": term})
        assert reply.status == 200, reply.text
        return [item["number"] for item in reply.json["items"]]

    for term in (number, number[:4], "каско", "ПРЕМИУМ", "олег", "Сидоренков"):
        assert await numbers(api_agent, term) == [number], term
    assert await numbers(api_agent, "осаго премиум") == []
    other = await apis.other_agent()
    assert await numbers(other, "каско") == [], "another agent's request is never found"
    page = await agent.get("/requests?q=каско")
    assert has_text(page.text, number) and has_text(page.text, "КАСКО Премиум")
    nothing = await agent.get("/requests?q=самолёт")
    assert has_text(nothing.text, "No request matches “самолёт”.")


async def test_clients_and_requests_saved_before_the_column_are_found_after_it(engine, demo):
    await downgrade(engine, "0014_access")
    async with engine.begin() as connection:
        agent_id = await connection.scalar(text("SELECT id FROM agents ORDER BY id LIMIT 1"))
        await connection.execute(
            text(
                "INSERT INTO clients (agent_id, first_name, last_name, phone, city, created_at) "
                "VALUES (:agent, 'Олег', 'Петров', '+79175550102', 'Казань', :at)"
            ),
            {"agent": agent_id, "at": T0},
        )
    await upgrade(engine)
    async with create_sessionmaker(engine)() as session:
        found = await session.scalar(
            Client.__table__.select()
            .with_only_columns(Client.search_text)
            .where(Client.last_name == "Петров")
        )
    assert found == "олег петров\nказань"
