"""The loyalty API: an agent's organization's standing and history, every one's for admins."""

from __future__ import annotations

from sqlalchemy import select

from crm.auth.models import User
from crm.models import Organization
from crm.organizations.loyalty import accrue
from ivr.config import LoyaltyConfig
from tests.api_helpers import AGENT, OTHER_AGENT
from tests.loyalty_helpers import (
    T0,
    add_agent,
    add_dial,
    add_organization,
    add_request,
    join,
    partner_id,
)

pytest_plugins = ("tests.api_fixtures",)


async def seed(sessions) -> dict:
    """A head office with a branch, an agent of each with a bridged request; a second head
    office with two; points credited."""
    async with sessions.begin() as session:
        polis = await partner_id(session)
        head = await add_organization(session, "Romashka", kpp="773601001")
        branch = await add_organization(session, "Romashka Novosibirsk", kpp="540602001", main=head)
        other = await add_organization(session, "Vasilek", inn="5001007329")
        numbers = []
        for name, organization, count in (
            ("Head Agent", head, 1),
            ("Branch Agent", branch, 1),
            ("Vasilek Agent", other, 2),
        ):
            agent = await add_agent(session, name, organization)
            for _ in range(count):
                request = await add_request(session, agent.id, partner=polis)
                await add_dial(session, request)
                numbers.append(request.number)
        await accrue(session, now=T0, settings=LoyaltyConfig())
    return {"head": head.id, "branch": branch.id, "other": other.id, "numbers": numbers}


async def test_the_agent_gets_the_head_offices_standing_and_history(apis, api_agent, sessions):
    seeded = await seed(sessions)
    await join(sessions, AGENT, seeded["branch"])
    reply = await api_agent.get("/api/v1/organization/loyalty?per_page=1")
    assert reply.status == 200, reply.text
    body = reply.json
    assert body["standing"] == {
        "organization_id": seeded["head"],
        "organization_name": "Romashka",
        "points": 20,
        "requests": 2,
        "tier": "bronze",
        "next_tier": "silver",
        "points_to_next": 80,
    }
    assert (body["history"]["total"], body["history"]["pages"]) == (2, 2)
    (entry,) = body["history"]["items"]
    assert entry["request_number"] in seeded["numbers"][:2] and entry["points"] == 10
    assert body["points_per_request"] == 10
    assert [tier["name"] for tier in body["tiers"]] == ["bronze", "silver", "gold", "platinum"]


async def test_an_agent_sees_only_their_own_organization(apis, sessions):
    seeded = await seed(sessions)
    other = await apis.other_agent()
    async with sessions() as session:
        assert await session.scalar(select(User.agent_id).where(User.email == OTHER_AGENT))
    await join(sessions, OTHER_AGENT, seeded["other"])
    body = (await other.get("/api/v1/organization/loyalty")).json
    assert body["standing"]["organization_name"] == "Vasilek"
    assert {entry["request_number"] for entry in body["history"]["items"]} == set(
        seeded["numbers"][2:]
    )


async def test_an_agent_without_an_organization_has_no_standing(api_agent, sessions):
    await seed(sessions)
    reply = await api_agent.get("/api/v1/organization/loyalty")
    assert reply.status == 200
    assert reply.json["standing"] is None and reply.json["history"]["items"] == []


async def test_the_admin_lists_every_head_office_by_points(api_admin, sessions):
    await seed(sessions)
    reply = await api_admin.get("/api/v1/loyalty")
    assert reply.status == 200, reply.text
    rows = [(item["organization_name"], item["points"]) for item in reply.json["items"]]
    assert rows == [("Romashka", 20), ("Vasilek", 20)]
    assert reply.json["total"] == 2


async def test_each_list_is_its_roles_only(api_agent, api_admin, api_manager):
    assert (await api_agent.get("/api/v1/loyalty")).status == 403
    assert (await api_manager.get("/api/v1/loyalty")).status == 403
    assert (await api_admin.get("/api/v1/organization/loyalty")).status == 403
    assert (await api_manager.get("/api/v1/organization/loyalty")).status == 403
    bad = await api_admin.get("/api/v1/loyalty?page=0")
    assert bad.status == 422 and "page" in bad.fields


async def test_the_admin_list_pools_a_branch_linked_after_its_points(api_admin, sessions):
    seeded = await seed(sessions)
    async with sessions.begin() as session:  # Vasilek turns out to be Romashka's branch
        (await session.get_one(Organization, seeded["other"])).main_organization_id = seeded["head"]
    reply = await api_admin.get("/api/v1/loyalty")
    rows = [
        (item["organization_id"], item["points"], item["requests"]) for item in reply.json["items"]
    ]
    assert rows == [(seeded["head"], 40, 4)] and reply.json["total"] == 1
