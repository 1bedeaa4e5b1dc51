"""Loyalty points: earned by requests that reached their client, pooled at the head office."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm import i18n
from crm.enums import CallOutcome
from crm.models import Agent, Organization
from crm.organizations.loyalty import accrue, history, list_standings, standing, tier_title
from crm.organizations.models import LoyaltyEntry
from ivr.background import run_jobs
from ivr.config import ConfigError, LoyaltyConfig, LoyaltyTier, load_config
from ivr.simulator import ScriptedCaller
from tests.crm_client import ADMIN, AGENT, account_actor, has_text
from tests.helpers import ANNA, open_polis
from tests.loyalty_helpers import (
    T0,
    add_agent,
    add_dial,
    add_organization,
    add_request,
    join,
    partner_id,
)

pytest_plugins = ("tests.crm_fixtures",)

RULES = LoyaltyConfig()


async def credited(sessions) -> dict[int, int]:
    """Each credited request's head office."""
    async with sessions() as session:
        rows = await session.execute(select(LoyaltyEntry.request_id, LoyaltyEntry.organization_id))
        return dict(rows.all())


async def run_accrue(sessions, settings: LoyaltyConfig = RULES) -> int:
    async with sessions.begin() as session:
        return await accrue(session, now=T0, settings=settings)


@pytest.fixture
async def network(sessions, demo) -> dict:
    """A head office with an agent, its branch with an agent, and a bridged request of each."""
    async with sessions.begin() as session:
        polis = await partner_id(session)
        head = await add_organization(session, "Romashka", kpp="773601001")
        branch = await add_organization(session, "Romashka Novosibirsk", kpp="540602001", main=head)
        head_agent = await add_agent(session, "Head Agent", head)
        branch_agent = await add_agent(session, "Branch Agent", branch)
        at_head = await add_request(session, head_agent.id, partner=polis)
        at_branch = await add_request(session, branch_agent.id, partner=polis)
        for request in (at_head, at_branch):
            await add_dial(session, request)
        return {
            "polis": polis,
            "head": head.id,
            "branch": branch.id,
            "head_agent": head_agent.id,
            "branch_agent": branch_agent.id,
            "requests": {"head": at_head.id, "branch": at_branch.id},
            "numbers": {"head": at_head.number, "branch": at_branch.number},
        }


async def test_points_pool_at_the_head_office_across_its_branches(sessions, network):
    assert await run_accrue(sessions) == 2
    assert await credited(sessions) == {
        network["requests"]["head"]: network["head"],
        network["requests"]["branch"]: network["head"],
    }
    async with sessions() as session:
        for organization in (network["head"], network["branch"]):
            found = await standing(session, organization_id=organization, settings=RULES)
            assert (found.organization_id, found.points, found.requests) == (network["head"], 20, 2)
            assert (found.tier.name, found.next_tier.name, found.points_to_next) == (
                "bronze",
                "silver",
                80,
            )
        entries = await history(session, organization_id=network["branch"])
    # The whole pool's points; who filed what only within the reader's own office.
    assert len(entries.items) == 2
    assert {entry.request_number for entry in entries.items} == {network["numbers"]["branch"], None}
    assert {entry.agent_name for entry in entries.items} == {"Branch Agent", None}


async def test_a_request_is_credited_once_however_many_calls_and_passes(sessions, network):
    async with sessions.begin() as session:
        request = await add_request(session, network["head_agent"], partner=network["polis"])
        for _ in range(3):
            await add_dial(session, request)
    assert await run_accrue(sessions) == 3
    assert await run_accrue(sessions) == 0
    async with sessions.begin() as session:  # another conversation later changes nothing
        await add_dial(session, await session.get(type(request), request.id))
    assert await run_accrue(sessions) == 0
    async with sessions() as session:
        found = await standing(session, organization_id=network["head"], settings=RULES)
        entries = await session.scalar(
            select(func.count()).where(LoyaltyEntry.request_id == request.id)
        )
    assert (found.points, found.requests, entries) == (30, 3, 1)


async def test_a_request_whose_calls_never_bridged_earns_nothing(sessions, network):
    async with sessions.begin() as session:
        request = await add_request(session, network["head_agent"], partner=network["polis"])
        for outcome in (
            CallOutcome.CLIENT_NO_ANSWER,
            CallOutcome.CLIENT_BUSY,
            CallOutcome.VOICEMAIL,
        ):
            await add_dial(session, request, outcome=outcome)
        silent = await add_request(session, network["branch_agent"], partner=network["polis"])
    await run_accrue(sessions)
    assert not {request.id, silent.id} & set(await credited(sessions))


async def test_an_agent_without_an_organization_earns_nothing(sessions, network):
    async with sessions.begin() as session:
        loner = await add_agent(session, "Lone Agent", None)
        request = await add_request(session, loner.id, partner=network["polis"])
        await add_dial(session, request)
    assert await run_accrue(sessions) == 2
    assert request.id not in await credited(sessions)


async def test_an_agent_waiting_to_be_confirmed_earns_nothing_until_confirmed(sessions, network):
    async with sessions.begin() as session:
        head = await session.get(Organization, network["head"])
        waiting = await add_agent(session, "Waiting Agent", head)
        waiting.organization_confirmed = False
        request = await add_request(session, waiting.id, partner=network["polis"])
        await add_dial(session, request)
    assert await run_accrue(sessions) == 2
    assert request.id not in await credited(sessions)
    async with sessions.begin() as session:
        (await session.get(Agent, waiting.id)).organization_confirmed = True
    assert await run_accrue(sessions) == 1
    assert request.id in await credited(sessions)


async def test_concurrent_passes_credit_each_request_once(sessions, network):
    async with sessions.begin() as session:
        for _ in range(8):
            request = await add_request(session, network["branch_agent"], partner=network["polis"])
            await add_dial(session, request)

    async def one_pass() -> int:
        async with sessions.begin() as session:
            return await accrue(session, now=T0, settings=RULES)

    counts = await asyncio.gather(one_pass(), one_pass(), one_pass())
    assert sum(counts) == 10
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LoyaltyEntry)) == 10
        found = await standing(session, organization_id=network["head"], settings=RULES)
    assert found.points == 100 and found.tier.name == "silver"


async def test_a_pass_credits_at_most_a_batch(sessions, network):
    rules = LoyaltyConfig(batch_size=1)
    assert [await run_accrue(sessions, rules) for _ in range(3)] == [1, 1, 0]


async def test_points_and_tiers_come_from_the_config(sessions, network):
    rules = LoyaltyConfig(
        points_per_request=35,
        tiers=(LoyaltyTier(name="Starter", points=0), LoyaltyTier(name="Pro", points=50)),
        batch_size=1,
    )
    seen = []
    for _ in range(2):
        async with sessions.begin() as session:
            await accrue(session, now=T0, settings=rules)
        async with sessions() as session:
            found = await standing(session, organization_id=network["head"], settings=rules)
        next_name = found.next_tier.name if found.next_tier else None
        seen.append((found.points, found.tier.name, next_name, found.points_to_next))
    assert seen == [(35, "Starter", "Pro", 15), (70, "Pro", None, None)]


async def test_the_background_loop_credits_bridged_requests(server, sessions, network):
    await run_jobs(server.app)
    assert len(await credited(sessions)) == 2


async def test_a_bridged_call_through_the_line_earns_the_agents_organization(
    sessions, demo, simulator, network
):
    await join(sessions, AGENT[0], network["branch"])
    number = open_polis(demo)["number"]
    await simulator.call(ScriptedCaller([f"{number}#"], ["no-answer"]), from_number=ANNA)
    await run_accrue(sessions)
    async with sessions() as session:
        found = await standing(session, organization_id=network["head"], settings=RULES)
    assert found.requests == 2  # the network's own two; the unanswered dial earned nothing
    await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=30), from_number=ANNA)
    await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=40), from_number=ANNA)
    assert await run_accrue(sessions) == 1
    async with sessions() as session:
        found = await standing(session, organization_id=network["head"], settings=RULES)
        entries = await history(session, organization_id=network["head"])
    assert (found.points, found.requests) == (30, 3)
    assert len(entries.items) == 3


async def test_the_admin_list_has_every_head_office_by_points(sessions, network):
    async with sessions.begin() as session:
        other = await add_organization(session, "Vasilek", inn="5001007329")
        agent = await add_agent(session, "Vasilek Agent", other)
        for _ in range(3):
            request = await add_request(session, agent.id, partner=network["polis"])
            await add_dial(session, request)
    await run_accrue(sessions)
    async with sessions() as session:
        admin = await account_actor(session, ADMIN[0])
        page = await list_standings(session, actor=admin, settings=RULES)
    rows = [(row.organization_name, row.points, row.requests) for row in page.items]
    assert rows == [("Vasilek", 30, 3), ("Romashka", 20, 2)]  # no branch, no partner company


async def test_a_branch_linked_later_brings_its_earlier_points_to_the_head_office(
    sessions, network
):
    """Credited while unlinked, the entry names the branch; read, it pools at the head."""
    async with sessions.begin() as session:
        late = await add_organization(session, "Romashka Kazan", kpp="165501001")
        late_agent = await add_agent(session, "Kazan Agent", late)
        for _ in range(3):
            request = await add_request(session, late_agent.id, partner=network["polis"])
            await add_dial(session, request)
    assert await run_accrue(sessions) == 5
    assert set((await credited(sessions)).values()) == {network["head"], late.id}
    async with sessions.begin() as session:  # the refresh finds its head office
        (await session.get_one(Organization, late.id)).main_organization_id = network["head"]
    async with sessions() as session:
        admin = await account_actor(session, ADMIN[0])
        for organization in (network["head"], late.id):
            found = await standing(session, organization_id=organization, settings=RULES)
            assert (found.organization_id, found.points, found.requests) == (network["head"], 50, 5)
        entries = await history(session, organization_id=network["head"])
        page = await list_standings(session, actor=admin, settings=RULES)
    assert entries.total == 5
    assert {entry.agent_name for entry in entries.items} == {"Head Agent", None}
    rows = [(row.organization_id, row.points, row.requests) for row in page.items]
    assert rows == [(network["head"], 50, 5)]  # one pooled row; the branch is not listed


# The pages


async def test_the_agent_sees_the_organizations_points_tier_and_history(browser, sessions, network):
    await join(sessions, AGENT[0], network["branch"])
    await run_accrue(sessions)
    page = await (await browser(AGENT)).get("/organization/loyalty")
    assert page.status == 200
    assert has_text(page.text, "Romashka: the points of its agents")
    assert "20 points" in page.text and ">bronze<" in page.text
    assert "80 more points to reach silver" in page.text
    assert network["numbers"]["branch"] in page.text and "Branch Agent" in page.text
    # The head office's requests count, but who filed them stays with the head office.
    assert network["numbers"]["head"] not in page.text and "Head Agent" not in page.text
    assert "another office" in page.text


async def test_an_agent_sees_only_their_own_organizations_standing(browser, sessions, network):
    async with sessions.begin() as session:
        other = await add_organization(session, "Vasilek", inn="5001007329")
    await join(sessions, AGENT[0], other.id)
    await run_accrue(sessions)
    page = await (await browser(AGENT)).get("/organization/loyalty")
    assert has_text(page.text, "Vasilek: the points")
    assert "Romashka" not in page.text
    assert not any(number in page.text for number in network["numbers"].values())
    assert "0 points" in page.text and "No request has earned points yet." in page.text


async def test_an_agent_without_an_organization_is_told_why_nothing_accrues(agent, network):
    page = await agent.get("/organization/loyalty")
    assert page.status == 200
    assert has_text(page.text, "You do not belong to an organization yet")
    assert 'href="/organization"' in page.text


async def test_the_admin_sees_every_organizations_standing(admin, sessions, network):
    await run_accrue(sessions)
    page = await admin.get("/admin/loyalty")
    assert page.status == 200
    assert "Romashka" in page.text and "20 points" in page.text
    assert "Romashka Novosibirsk" not in page.text  # a branch: its points are its head's
    assert "Polis Insurance" not in page.text
    assert 'href="/admin/loyalty"' in page.text


@pytest.mark.parametrize("path", ["/organization/loyalty", "/admin/loyalty"])
async def test_other_roles_are_refused(browser, path):
    refused = {"/organization/loyalty": ADMIN, "/admin/loyalty": AGENT}[path]
    reply = await (await browser(refused)).get(path)
    assert reply.status == 403


def test_points_take_the_russian_plural_forms():
    with i18n.reading("ru"):
        forms = [
            i18n.ngettext("%(num)d point", "%(num)d points", n) % {"num": n} for n in (1, 3, 5, 21)
        ]
        assert forms == ["1 балл", "3 балла", "5 баллов", "21 балл"]
        assert tier_title("silver") == "серебряный"
        assert tier_title("Pro") == "Pro"  # a configured name is shown as typed
    assert tier_title("silver") == "silver"


# The configuration


def _config(tmp_path: Path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ={"IVR_TWILIO_AUTH_TOKEN": "t", "IVR_SESSION_KEY": SESSION})


SESSION = "yVtZ0ZqK3mH1Qe2cJm8Zr4o0b9sT6uW1xA2dF5gH7jE="


def test_the_default_tiers(tmp_path):
    config = _config(tmp_path, "{}\n")
    assert config.loyalty.points_per_request == 10
    assert [(tier.name, tier.points) for tier in config.loyalty.tiers] == [
        ("bronze", 0),
        ("silver", 100),
        ("gold", 500),
        ("platinum", 2000),
    ]


@pytest.mark.parametrize(
    ("tiers", "why"),
    [
        ("[{name: a, points: 10}, {name: b, points: 20}]", "start at 0"),
        ("[{name: a, points: 0}, {name: A, points: 20}]", "must differ"),
        ("[{name: a, points: 0}, {name: b, points: 50}, {name: c, points: 50}]", "more points"),
        ("[]", "at least one"),
    ],
)
def test_bad_tiers_fail_at_start_naming_the_key(tmp_path, tiers, why):
    with pytest.raises(ConfigError, match=re.escape("'loyalty.tiers'") + ".*" + why):
        _config(tmp_path, f"loyalty:\n  tiers: {tiers}\n")


def test_bad_points_fail_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("'loyalty.points_per_request'")):
        _config(tmp_path, "loyalty:\n  points_per_request: 0\n")
