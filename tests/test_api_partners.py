"""Partner companies and their managers over the API: INN and phone checks, who may do what."""

from __future__ import annotations

import pytest

from crm.demo import PARTNERS
from tests.helpers import ANNA

pytest_plugins = ("tests.api_fixtures",)

NEW_PARTNER = {"name": "Volga Leasing", "inn": "7728168971"}


async def add_partner(api) -> dict:
    reply = await api.post("/api/v1/organizations", json=NEW_PARTNER)
    assert reply.status == 201, reply.text
    return reply.json


async def test_admin_adds_a_partner_with_201_and_location(api_admin):
    reply = await api_admin.post("/api/v1/organizations", json=NEW_PARTNER)
    assert reply.status == 201
    created = reply.json
    assert reply.headers["Location"] == f"/api/v1/organizations/{created['id']}"
    assert (created["name"], created["inn"]) == (NEW_PARTNER["name"], NEW_PARTNER["inn"])
    assert (await api_admin.get(reply.headers["Location"])).json == created
    listed = (await api_admin.get("/api/v1/organizations")).json
    assert [item["name"] for item in listed["items"]] == [
        "Polis Insurance",
        "Sunny Tours",
        "Volga Leasing",
    ]


@pytest.mark.parametrize("inn", ["1234567890", "77281689", "abcdefghij", ""])
async def test_invalid_inn_is_422_naming_inn(api_admin, inn):
    reply = await api_admin.post("/api/v1/organizations", json={"name": "X", "inn": inn})
    assert reply.status == 422
    assert set(reply.fields) == {"inn"}


async def test_an_inn_already_known_is_409_naming_inn(api_admin):
    reply = await api_admin.post(
        "/api/v1/organizations", json={"name": "Polis again", "inn": PARTNERS[0]["inn"]}
    )
    assert reply.status == 409
    assert reply.json["error"]["code"] == "conflict"
    assert reply.fields == {"inn": "a company with this INN already exists"}


async def test_admin_adds_a_manager_with_phones_in_e164(api_admin):
    partner = await add_partner(api_admin)
    path = f"/api/v1/organizations/{partner['id']}/managers"
    reply = await api_admin.post(
        path, json={"name": "Vera Lis", "phones": ["8 916 000-00-07", "+7 495 123 45 67"]}
    )
    assert reply.status == 201
    assert reply.json["phones"] == ["+79160000007", "+74951234567"]
    listed = (await api_admin.get(path)).json["items"]
    assert [(item["name"], sorted(item["phones"])) for item in listed] == [
        ("Vera Lis", ["+74951234567", "+79160000007"])
    ]


async def test_a_phone_of_another_manager_is_409_naming_phones(api_admin):
    partner = await add_partner(api_admin)
    reply = await api_admin.post(
        f"/api/v1/organizations/{partner['id']}/managers",
        json={"name": "Copycat", "phones": [ANNA]},
    )
    assert reply.status == 409
    assert set(reply.fields) == {"phones"} and ANNA in reply.fields["phones"]


@pytest.mark.parametrize("phones", [["12"], [], ["+79160000007", "8 916 000 00 07"], "+7916"])
async def test_bad_phone_lists_are_422_naming_phones(api_admin, phones):
    partner = await add_partner(api_admin)
    reply = await api_admin.post(
        f"/api/v1/organizations/{partner['id']}/managers",
        json={"name": "Vera Lis", "phones": phones},
    )
    assert reply.status == 422
    assert set(reply.fields) == {"phones"}


async def test_managers_of_an_unknown_company_are_404(api_admin):
    assert (await api_admin.get("/api/v1/organizations/999999/managers")).status == 404
    reply = await api_admin.post(
        "/api/v1/organizations/999999/managers",
        json={"name": "Vera Lis", "phones": ["+79160000007"]},
    )
    assert reply.status == 404
    assert (await api_admin.get("/api/v1/organizations/999999")).status == 404


async def test_demo_managers_are_listed_with_their_phones(api_admin):
    polis = (await api_admin.get("/api/v1/organizations")).json["items"][0]
    [anna] = (await api_admin.get(f"/api/v1/organizations/{polis['id']}/managers")).json["items"]
    assert (anna["name"], sorted(anna["phones"])) == (
        "Anna Sokolova",
        sorted(PARTNERS[0]["managers"][0]["phones"]),
    )


async def test_agent_lists_partners_but_changes_nothing(api_agent, api_admin):
    listed = await api_agent.get("/api/v1/organizations")
    assert listed.status == 200 and listed.json["total"] == 2
    polis_id = listed.json["items"][0]["id"]
    assert (await api_agent.post("/api/v1/organizations", json=NEW_PARTNER)).status == 403
    assert (await api_agent.get(f"/api/v1/organizations/{polis_id}")).status == 403
    assert (await api_agent.get(f"/api/v1/organizations/{polis_id}/managers")).status == 403
    reply = await api_agent.post(
        f"/api/v1/organizations/{polis_id}/managers",
        json={"name": "Mole", "phones": ["+79160000007"]},
    )
    assert reply.status == 403
    assert (await api_admin.get("/api/v1/organizations")).json["total"] == 2


async def test_manager_may_not_list_companies_or_their_managers(api_manager, api_admin):
    polis_id = (await api_admin.get("/api/v1/organizations")).json["items"][0]["id"]
    assert (await api_manager.get("/api/v1/organizations")).status == 403
    reply = await api_manager.get(f"/api/v1/organizations/{polis_id}/managers")
    assert reply.status == 403 and ANNA not in reply.text
