"""Requests over the API: file, list, close, reopen, repeat, calls; the manager's view."""

from __future__ import annotations

import re

import pytest

from ivr.simulator import ScriptedCaller
from tests.api_helpers import IVAN, MARIA, demo_client_id
from tests.helpers import ANNA, open_polis, request_number

pytest_plugins = ("tests.api_fixtures",)

CONTACTS = [
    IVAN["phone"],
    IVAN["email"],
    IVAN["street"],
    MARIA["phone"],
    MARIA["email"],
    MARIA["street"],
]


def closed_polis(demo: dict) -> str:
    return request_number(demo, partner="Polis Insurance", status="closed")


async def polis_id(api) -> int:
    items = (await api.get("/api/v1/organizations")).json["items"]
    return next(item["id"] for item in items if item["name"] == "Polis Insurance")


async def test_agent_lists_its_requests_by_status(api_agent, demo):
    every = (await api_agent.get("/api/v1/requests")).json
    assert every["total"] == 3
    opened = (await api_agent.get("/api/v1/requests", params={"status": "open"})).json
    assert {item["status"] for item in opened["items"]} == {"open"} and opened["total"] == 2
    closed = (await api_agent.get("/api/v1/requests", params={"status": "closed"})).json
    assert [item["number"] for item in closed["items"]] == [closed_polis(demo)]
    assert closed["items"][0]["closed_at"] is not None


async def test_unknown_status_filter_names_status(api_agent):
    reply = await api_agent.get("/api/v1/requests", params={"status": "lost"})
    assert reply.status == 422
    assert reply.fields == {"status": "use one of: open, closed"}


async def test_request_lists_refuse_paging_past_the_documented_limits(api_agent, api_manager):
    for caller, path in (
        (api_agent, "/api/v1/requests"),
        (api_manager, "/api/v1/partner/requests"),
    ):
        too_many = await caller.get(path, params={"per_page": 101})
        assert too_many.status == 422 and set(too_many.fields) == {"per_page"}
        before_first = await caller.get(path, params={"page": 0, "status": "open"})
        assert before_first.status == 422 and set(before_first.fields) == {"page"}
        at_limits = await caller.get(path, params={"page": 1_000_000, "per_page": 100})
        assert at_limits.status == 200 and at_limits.json["per_page"] == 100


async def test_request_shows_its_client_partner_and_last_call(api_agent, demo):
    number = open_polis(demo)["number"]
    reply = await api_agent.get(f"/api/v1/requests/{number}")
    assert reply.status == 200
    body = reply.json
    assert (body["client"]["last_name"], body["organization"]["name"]) == (
        "Petrov",
        "Polis Insurance",
    )
    assert (body["status"], body["last_call_at"], body["last_outcome"]) == ("open", None, None)


async def test_agent_files_a_request_with_201_and_location(api_agent):
    client_id = demo_client_id((await api_agent.get("/api/v1/clients")).json["items"], MARIA)
    reply = await api_agent.post(
        "/api/v1/requests",
        json={
            "client_id": client_id,
            "organization_id": await polis_id(api_agent),
            "product": "Mortgage insurance",
            "comment": "renewal in May",
        },
    )
    assert reply.status == 201
    filed = reply.json
    assert re.fullmatch(r"[1-9][0-9]{7}", filed["number"])
    assert reply.headers["Location"] == f"/api/v1/requests/{filed['number']}"
    assert (filed["status"], filed["client"]["id"], filed["comment"]) == (
        "open",
        client_id,
        "renewal in May",
    )
    assert (await api_agent.get(reply.headers["Location"])).json == filed


async def test_filing_names_each_wrong_reference(apis, api_agent):
    other = await apis.other_agent()
    client_id = demo_client_id((await api_agent.get("/api/v1/clients")).json["items"], IVAN)
    polis = await polis_id(api_agent)
    reply = await other.post(
        "/api/v1/requests",
        json={"client_id": client_id, "organization_id": polis, "product": "OSAGO"},
    )
    assert reply.status == 422 and reply.fields == {"client_id": "no such client"}
    reply = await api_agent.post(
        "/api/v1/requests",
        json={"client_id": client_id, "organization_id": 999999, "product": "OSAGO"},
    )
    assert reply.status == 422 and reply.fields == {"organization_id": "no such partner company"}
    reply = await api_agent.post("/api/v1/requests", json={"client_id": client_id})
    assert reply.status == 422 and set(reply.fields) == {"organization_id", "product"}


async def test_close_then_reopen_changes_the_status_each_time(api_agent, demo):
    number = open_polis(demo)["number"]
    closed = await api_agent.post(f"/api/v1/requests/{number}/close")
    assert closed.status == 200
    assert closed.json["status"] == "closed" and closed.json["closed_at"] is not None
    again = await api_agent.post(f"/api/v1/requests/{number}/close")
    assert again.json["closed_at"] == closed.json["closed_at"]
    reopened = await api_agent.post(f"/api/v1/requests/{number}/reopen")
    assert (reopened.json["status"], reopened.json["closed_at"]) == ("open", None)


async def test_repeat_files_a_new_open_request_like_the_old(api_agent, demo):
    old = (await api_agent.get(f"/api/v1/requests/{closed_polis(demo)}")).json
    reply = await api_agent.post(f"/api/v1/requests/{old['number']}/repeat")
    assert reply.status == 201
    new = reply.json
    assert new["number"] != old["number"]
    assert reply.headers["Location"] == f"/api/v1/requests/{new['number']}"
    assert (new["status"], new["product"], new["client"], new["organization"]) == (
        "open",
        old["product"],
        old["client"],
        old["organization"],
    )


async def test_calls_say_who_called_and_never_a_phone(api_agent, simulator, demo):
    number = open_polis(demo)["number"]
    await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=64), from_number=ANNA)
    reply = await api_agent.get(f"/api/v1/requests/{number}/calls")
    assert reply.status == 200
    [call] = reply.json["items"]
    assert (
        call["manager_name"],
        call["organization_name"],
        call["outcome"],
        call["bridged_seconds"],
    ) == ("Anna Sokolova", "Polis Insurance", "bridged", 64)
    assert ANNA not in reply.text and IVAN["phone"] not in reply.text
    assert ANNA.lstrip("+") not in reply.text and IVAN["phone"].lstrip("+") not in reply.text
    request = (await api_agent.get(f"/api/v1/requests/{number}")).json
    assert request["last_outcome"] == "bridged" and request["last_call_at"] == call["started_at"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("POST", "/close"),
        ("POST", "/reopen"),
        ("POST", "/repeat"),
        ("GET", "/calls"),
    ],
)
async def test_another_agent_gets_404_for_the_agents_request(apis, api_agent, demo, method, suffix):
    other = await apis.other_agent()
    number = open_polis(demo)["number"]
    reply = await other.call(method, f"/api/v1/requests/{number}{suffix}")
    assert reply.status == 404
    assert (await other.get("/api/v1/requests")).json["total"] == 0
    unchanged = (await api_agent.get("/api/v1/requests")).json
    assert unchanged["total"] == 3
    assert (await api_agent.get(f"/api/v1/requests/{number}")).json["status"] == "open"


async def test_admin_sees_and_closes_any_request(api_admin, demo):
    assert (await api_admin.get("/api/v1/requests")).json["total"] == 3
    number = open_polis(demo)["number"]
    reply = await api_admin.post(f"/api/v1/requests/{number}/close")
    assert reply.status == 200 and reply.json["status"] == "closed"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("POST", "/close"),
        ("POST", "/repeat"),
        ("GET", "/calls"),
    ],
)
async def test_manager_is_refused_the_agents_request_calls(api_manager, demo, method, suffix):
    number = open_polis(demo)["number"]
    reply = await api_manager.call(method, f"/api/v1/requests/{number}{suffix}")
    assert reply.status == 403
    assert not [contact for contact in CONTACTS if contact in reply.text]


async def test_manager_lists_its_companys_open_requests_without_contacts(api_manager, demo):
    assert (await api_manager.get("/api/v1/requests")).status == 403
    reply = await api_manager.get("/api/v1/partner/requests")
    assert reply.status == 200
    [item] = reply.json["items"]
    assert item["number"] == open_polis(demo)["number"]
    assert set(item) == {
        *("number", "product", "client_first_name", "city", "created_at"),
        *("payer", "delivery_address"),  # the agent's side's, none on this request
    }
    assert item["payer"] is None and item["delivery_address"] is None
    assert (item["client_first_name"], item["city"]) == ("Ivan", "Moscow")
    assert not [contact for contact in CONTACTS if contact in reply.text]
    assert IVAN["house"] not in item.values()


async def test_the_partner_list_is_for_managers_only(api_agent, api_admin):
    assert (await api_agent.get("/api/v1/partner/requests")).status == 403
    assert (await api_admin.get("/api/v1/partner/requests")).status == 403


async def test_requests_sort_by_a_column_and_refuse_an_unknown_one(api_agent):
    by_product = await api_agent.get("/api/v1/requests", params={"sort": "-product"})
    assert by_product.status == 200, by_product.text
    products = [item["product"] for item in by_product.json["items"]]
    assert products == ["Package tour to Sochi", "OSAGO", "CASCO renewal"]
    unknown = await api_agent.get("/api/v1/requests", params={"sort": "client"})
    assert unknown.status == 422 and set(unknown.json["error"]["fields"]) == {"sort"}
