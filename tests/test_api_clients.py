"""Clients over the API: list, search, pages, create, replace; who may see whose."""

from __future__ import annotations

import pytest

from tests.api_helpers import IVAN, MARIA, NEW_CLIENT, demo_client_id

pytest_plugins = ("tests.api_fixtures",)


async def ivan_id(api) -> int:
    return demo_client_id((await api.get("/api/v1/clients")).json["items"], IVAN)


async def test_agent_lists_its_clients_in_an_envelope(api_agent):
    reply = await api_agent.get("/api/v1/clients")
    assert reply.status == 200
    page = reply.json
    assert {key: page[key] for key in ("page", "per_page", "total", "pages")} == {
        "page": 1,
        "per_page": 20,
        "total": 2,
        "pages": 1,
    }
    assert [item["last_name"] for item in page["items"]] == ["Petrov", "Smirnova"]
    assert page["items"][0]["phone"] == IVAN["phone"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("smirn", ["Smirnova"]),
        ("MOSCOW", ["Petrov"]),
        ("916 123", ["Petrov"]),
        ("nobody-like-this", []),
    ],
)
async def test_search_filters_by_name_city_or_phone_digits(api_agent, search, expected):
    reply = await api_agent.get("/api/v1/clients", params={"search": search})
    assert [item["last_name"] for item in reply.json["items"]] == expected
    assert reply.json["total"] == len(expected)


async def test_like_wildcards_in_the_search_match_only_themselves(api_agent):
    for search in ("%", "_", "Smirn_va", "%mirnova"):
        reply = await api_agent.get("/api/v1/clients", params={"search": search})
        assert (search, reply.json["total"]) == (search, 0)


async def test_per_page_splits_the_list_into_pages(api_agent):
    second = (await api_agent.get("/api/v1/clients", params={"page": 2, "per_page": 1})).json
    assert [item["last_name"] for item in second["items"]] == ["Smirnova"]
    assert (second["page"], second["per_page"], second["total"], second["pages"]) == (2, 1, 2, 2)
    beyond = (await api_agent.get("/api/v1/clients", params={"page": 9, "per_page": 1})).json
    assert beyond["items"] == [] and beyond["total"] == 2


@pytest.mark.parametrize(
    ("page", "per_page", "named"),
    [
        ("abc", "xyz", {"page", "per_page"}),
        ("-3", "0", {"page", "per_page"}),
        ("0", "20", {"page"}),
        ("1", "101", {"per_page"}),
        ("1", "100000", {"per_page"}),
        ("99999999999999999999999", "1e3", {"page", "per_page"}),
        ("1000001", "5", {"page"}),
        ("", "", {"page", "per_page"}),
        ("+2", " 5", {"page", "per_page"}),
    ],
)
async def test_paging_out_of_range_is_422_naming_the_parameter(api_agent, page, per_page, named):
    reply = await api_agent.get("/api/v1/clients", params={"page": page, "per_page": per_page})
    assert reply.status == 422
    assert set(reply.fields) == named


async def test_agent_adds_a_client_with_201_and_location(api_agent):
    reply = await api_agent.post("/api/v1/clients", json=NEW_CLIENT)
    assert reply.status == 201
    created = reply.json
    assert reply.headers["Location"] == f"/api/v1/clients/{created['id']}"
    assert created["phone"] == "+79123456789"
    assert created["email"] == "olga@example.com"
    fetched = await api_agent.get(reply.headers["Location"])
    assert fetched.status == 200 and fetched.json == created


async def test_put_replaces_the_clients_details(api_agent):
    client_id = await ivan_id(api_agent)
    reply = await api_agent.put(
        f"/api/v1/clients/{client_id}",
        json={**IVAN, "city": "Tula", "street": None, "phone": "+7 916 765-43-21"},
    )
    assert reply.status == 200
    assert (reply.json["city"], reply.json["street"], reply.json["phone"]) == (
        "Tula",
        None,
        "+79167654321",
    )
    assert (await api_agent.get(f"/api/v1/clients/{client_id}")).json == reply.json


async def test_put_with_a_bad_phone_names_phone_and_changes_nothing(api_agent):
    client_id = await ivan_id(api_agent)
    reply = await api_agent.put(f"/api/v1/clients/{client_id}", json={**IVAN, "phone": "+7"})
    assert reply.status == 422
    assert set(reply.fields) == {"phone"}
    assert (await api_agent.get(f"/api/v1/clients/{client_id}")).json["phone"] == IVAN["phone"]


async def test_missing_required_fields_are_each_named(api_agent):
    reply = await api_agent.post("/api/v1/clients", json={"city": "Tula"})
    assert reply.status == 422
    assert set(reply.fields) == {"first_name", "last_name", "phone"}


async def test_another_agent_gets_404_for_the_agents_client(apis, api_agent):
    other = await apis.other_agent()
    client_id = await ivan_id(api_agent)
    assert (await other.get(f"/api/v1/clients/{client_id}")).status == 404
    reply = await other.put(f"/api/v1/clients/{client_id}", json={**IVAN, "city": "Oslo"})
    assert reply.status == 404
    assert (await other.get("/api/v1/clients")).json["total"] == 0
    assert (await api_agent.get(f"/api/v1/clients/{client_id}")).json["city"] == IVAN["city"]


async def test_admin_sees_every_client_and_adds_one_for_a_named_agent(api_admin, api_agent):
    assert (await api_admin.get("/api/v1/clients")).json["total"] == 2
    agent_id = (await api_agent.get("/api/v1/clients")).json["items"][0]["agent_id"]
    reply = await api_admin.post("/api/v1/clients", json={**NEW_CLIENT, "agent_id": agent_id})
    assert reply.status == 201 and reply.json["agent_id"] == agent_id
    assert (await api_agent.get("/api/v1/clients")).json["total"] == 3


@pytest.mark.parametrize(
    ("agent_id", "message"),
    [
        (None, "choose the agent this client belongs to"),
        (999999, "no such agent"),
    ],
)
async def test_admin_must_name_an_existing_agent(api_admin, agent_id, message):
    reply = await api_admin.post("/api/v1/clients", json={**NEW_CLIENT, "agent_id": agent_id})
    assert reply.status == 422
    assert reply.fields == {"agent_id": message}


async def test_manager_is_refused_every_client_call(api_manager, api_agent):
    client_id = await ivan_id(api_agent)
    replies = [
        await api_manager.get("/api/v1/clients"),
        await api_manager.get(f"/api/v1/clients/{client_id}"),
        await api_manager.post("/api/v1/clients", json=NEW_CLIENT),
        await api_manager.put(f"/api/v1/clients/{client_id}", json=IVAN),
    ]
    assert [reply.status for reply in replies] == [403] * 4
    for reply in replies:
        assert IVAN["phone"] not in reply.text and MARIA["phone"] not in reply.text


async def test_a_client_id_too_large_for_any_row_is_404(api_agent):
    assert (await api_agent.get("/api/v1/clients/99999999999999999999")).status == 404


async def test_clients_sort_by_a_column_and_refuse_an_unknown_one(api_agent):
    by_city = await api_agent.get("/api/v1/clients", params={"sort": "-city"})
    assert by_city.status == 200, by_city.text
    assert [item["city"] for item in by_city.json["items"]] == ["Saint Petersburg", "Moscow"]
    default = await api_agent.get("/api/v1/clients")
    assert [item["last_name"] for item in default.json["items"]] == ["Petrov", "Smirnova"]
    unknown = await api_agent.get("/api/v1/clients", params={"sort": "created"})
    assert unknown.status == 422 and set(unknown.json["error"]["fields"]) == {"sort"}
