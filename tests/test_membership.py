"""Membership of an agents' organization: the agent who gives a new organization's INN is its
first member; one who gives the INN of a stored one waits, seeing none of its data and
naming none of its payers on a request, until a member or an admin confirms them (or refuses
them: they leave it). Also: a partner company and an agents' organization of one INN are two
records, DaData is never awaited inside a write transaction, and two sign-ups with one new
INN at the same moment make one organization."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from crm.audit import AuditEntry
from crm.enums import OrganizationKind
from crm.models import Agent, Organization
from crm.organizations.models import Payer
from tests.api_helpers import IVAN, Api, demo_client_id, issue_key
from tests.conftest import make_config
from tests.crm_client import AGENT, OTHER_AGENT, has_text
from tests.fake_dadata import KEY, FakeDadata
from tests.org_helpers import SBER as SBER_BIK
from tests.org_helpers import SBER_ACCOUNT

pytest_plugins = (
    "tests.crm_fixtures",
    "tests.api_fixtures",
    "tests.dadata_fixtures",
    "tests.signup_fixtures",
)

SOLE, SBER = "771234567859", "7707083893"
SBER_MAIN_KPP = "773601001"
PAYERS = "/api/v1/organization/payers"


def dadata(fake: FakeDadata, timeout: float = 0.5) -> dict:
    return {"base_url": fake.url, "api_key": KEY, "timeout_seconds": timeout}


@pytest.fixture
def config(database_url, fake_dadata):
    return make_config(database_url, dadata=dadata(fake_dadata))


async def agent_row(sessions, email: str) -> Agent:
    async with sessions() as session:
        return await session.scalar(select(Agent).where(Agent.email == email))


async def audit_actions(sessions, agent_id: int) -> list[tuple[str, dict]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "agent", AuditEntry.entity_id == str(agent_id))
            .order_by(AuditEntry.id)
        )
        return [(row.action, json.loads(row.details)) for row in rows]


async def request_body(api: Api, **choices) -> dict:
    clients = (await api.get("/api/v1/clients?per_page=100")).json["items"]
    partners = (await api.get("/api/v1/organizations")).json["items"]
    polis = next(item["id"] for item in partners if item["name"] == "Polis Insurance")
    client_id = demo_client_id(clients, IVAN) if clients else None
    if client_id is None:
        made = await api.post(
            "/api/v1/clients",
            json={"first_name": "Oleg", "last_name": "Orlov", "phone": "+79031112233"},
        )
        client_id = made.json["id"]
    return {"client_id": client_id, "organization_id": polis, "product": "Leasing", **choices}


@pytest.fixture
async def joined(agent, other_agent, apis, sessions, fake_dadata):
    """The demo agent made the sole proprietor's organization (with a payer card); the other
    agent gave the same INN and waits."""
    made = await agent.submit("/organization", {"inn": SOLE})
    assert has_text(made.text, "You belong to ИП Иванова Анна Сергеевна now."), made.text
    member = await apis.as_user(AGENT[0])
    payer = await member.post(PAYERS, json={"bik": SBER_BIK, "account": SBER_ACCOUNT})
    assert payer.status == 201, payer.text
    asked = await other_agent.submit("/organization", {"inn": SOLE})
    assert has_text(asked.text, "You asked to join ИП Иванова Анна Сергеевна"), asked.text
    joiner = await apis.as_user(OTHER_AGENT[0])
    waiting = await agent_row(sessions, OTHER_AGENT[0])
    assert waiting.organization_id is not None and waiting.organization_confirmed is False
    first = await agent_row(sessions, AGENT[0])
    assert first.organization_id == waiting.organization_id and first.organization_confirmed
    return member, joiner, payer.json, waiting.id


async def test_a_joiner_sees_nothing_and_names_no_payer_until_a_member_confirms(
    joined, agent, other_agent, sessions
):
    member, joiner, payer, joiner_id = joined
    page = await other_agent.get("/organization")
    assert has_text(page.text, "A colleague who is a member, or an admin, must confirm you")
    assert "Refresh from DaData" not in page.text and "/organization/payers" not in page.text
    listed = await joiner.get(PAYERS)
    assert listed.status == 422 and set(listed.fields) == {"organization_id"}
    assert "confirm" in listed.fields["organization_id"]
    assert (await joiner.get(f"{PAYERS}/{payer['id']}")).status == 404
    assert (await joiner.get("/api/v1/organization/addresses")).status == 422
    loyalty = await joiner.get("/api/v1/organization/loyalty")
    assert loyalty.status == 200 and loyalty.json["standing"] is None
    assert (await other_agent.get("/organization/payers")).status == 200
    assert SBER_ACCOUNT not in (await other_agent.get("/organization/payers")).text
    body = await request_body(joiner, payer_id=payer["id"])
    refused = await joiner.post("/api/v1/requests", json=body)
    assert refused.status == 422 and set(refused.fields) == {"payer_id"}
    form = await other_agent.get("/requests/new")
    assert SBER_ACCOUNT not in form.text
    # A waiting agent decides on nobody, themselves included.
    own = f"/api/v1/agents/{joiner_id}/organization/confirm"
    assert (await joiner.post(own)).status == 404

    colleagues = await agent.get("/organization")
    assert has_text(colleagues.text, "Colleagues waiting") and "Other Agent" in colleagues.text
    action = f"/organization/members/{joiner_id}/confirm"
    confirmed = await agent.submit("/organization", {}, action=action)
    assert has_text(confirmed.text, "Other Agent is a member of the organization now.")
    assert "Colleagues waiting" not in confirmed.text

    assert [item["id"] for item in (await joiner.get(PAYERS)).json["items"]] == [payer["id"]]
    filed = await joiner.post("/api/v1/requests", json=body)
    assert filed.status == 201, filed.text
    assert filed.json["payer"]["id"] == payer["id"]
    actions = await audit_actions(sessions, joiner_id)
    assert [action for action, _details in actions][-2:] == ["join", "confirm"]
    assert actions[-2][1]["confirmed"] is False
    again = await member.post(own)
    assert again.status == 409 and set(again.fields) == {"agent_id"}


async def test_an_admin_confirms_over_the_api_and_refuses_on_the_agents_page(
    joined, admin, api_admin, sessions, browser
):
    _member, joiner, _payer, joiner_id = joined
    confirmed = await api_admin.post(f"/api/v1/agents/{joiner_id}/organization/confirm")
    assert confirmed.status == 200, confirmed.text
    assert confirmed.json["organization_confirmed"] is True
    assert (await joiner.get(PAYERS)).status == 200
    # A third agent asks to join; the admin refuses them on Admin → Agents.
    async with sessions.begin() as session:
        organization_id = (await session.get_one(Agent, joiner_id)).organization_id
        third = Agent(
            name="Third Agent",
            email="third@example.com",
            organization_id=organization_id,
            organization_confirmed=False,
            created_at=datetime.now(UTC),
        )
        session.add(third)
    agents = await admin.get("/admin/agents")
    assert has_text(agents.text, "waiting to be confirmed")
    assert has_text(agents.text, "ИП Иванова Анна Сергеевна")
    action = f"/admin/agents/{third.id}/organization/refuse"
    refused = await admin.submit("/admin/agents", {}, action=action)
    assert has_text(refused.text, "Third Agent was refused and left the organization.")
    gone = await agent_row(sessions, "third@example.com")
    assert gone.organization_id is None
    assert [action for action, _ in await audit_actions(sessions, third.id)] == ["refuse"]


async def test_a_member_refuses_a_joiner_over_the_api_who_then_may_give_another_inn(
    joined, other_agent, sessions
):
    member, joiner, _payer, joiner_id = joined
    refused = await member.post(f"/api/v1/agents/{joiner_id}/organization/refuse")
    assert refused.status == 200, refused.text
    assert refused.json == {
        "agent_id": joiner_id,
        "organization_id": None,
        "organization_confirmed": True,
    }
    assert (await joiner.get(PAYERS)).status == 422
    # No longer one of the organization's: not the member's to decide on.
    assert (await member.post(f"/api/v1/agents/{joiner_id}/organization/refuse")).status == 404
    page = await other_agent.get("/organization")
    assert 'name="inn"' in page.text
    actions = [action for action, _ in await audit_actions(sessions, joiner_id)]
    assert actions[-2:] == ["join", "refuse"]


async def test_a_partner_and_an_agents_organization_of_one_inn_are_two_records(
    start_signup, demo, fake_dadata, sessions, http
):
    """The demo's partner Polis Insurance has Sber's INN (typed by hand): an agent signing
    up with it gets an agents' organization of their own, and their payer lands on it."""
    # Nothing kept between the two sign-ups: the second one's lookup reaches the failing fake.
    rig = await start_signup(
        config_overrides={"dadata": {**dadata(fake_dadata), "cache_seconds": 0}}
    )
    emails = ("pavel@example.com", "vera@example.com")
    for n, email in enumerate(emails, start=1):
        to = f"+7916000000{n}"
        assert (await rig.ask(to)).status == 202
        token = (await rig.verify(rig.last_code(to), to=to)).json["signup_token"]
        if n == 2:
            fake_dadata.fail_next(500)  # the second joins the stored head office, not Polis
        done = await rig.complete(token, email=email, inn=SBER)
        assert done.status == 201, done.text
    async with sessions() as session:
        found = list(
            await session.scalars(
                select(Organization).where(Organization.inn == SBER).order_by(Organization.id)
            )
        )
        pavel, vera = [
            await session.scalar(select(Agent).where(Agent.email == email)) for email in emails
        ]
    kinds = {organization.kind: organization for organization in found}
    assert len(found) == 2 and set(kinds) == {OrganizationKind.PARTNER, OrganizationKind.AGENCY}
    polis, agency = kinds[OrganizationKind.PARTNER], kinds[OrganizationKind.AGENCY]
    assert polis.name == "Polis Insurance" and polis.verified_at is None  # not refreshed
    assert (agency.kpp, agency.verified_at is not None) == (SBER_MAIN_KPP, True)
    assert pavel.organization_id == agency.id and pavel.organization_confirmed
    assert vera.organization_id == agency.id and not vera.organization_confirmed
    key = await issue_key(sessions, "pavel@example.com")
    pavel_api = Api(http, str(rig.server.make_url("")), key)
    payer = await pavel_api.post(PAYERS, json={"bik": SBER_BIK, "account": SBER_ACCOUNT})
    assert payer.status == 201, payer.text
    async with sessions() as session:
        owner = await session.scalar(
            select(Payer.organization_id).where(Payer.id == payer.json["id"])
        )
    assert owner == agency.id != polis.id


async def test_two_sign_ups_with_one_new_inn_at_once_make_one_organization(
    start_signup, fake_dadata, sessions
):
    rig = await start_signup(config_overrides={"dadata": dadata(fake_dadata)})
    tokens = []
    for n in (1, 2):
        to = f"+7916000001{n}"
        assert (await rig.ask(to)).status == 202
        tokens.append((await rig.verify(rig.last_code(to), to=to)).json["signup_token"])
    first, second = await asyncio.gather(
        rig.complete(tokens[0], email="one@example.com", inn=SOLE),
        rig.complete(tokens[1], email="two@example.com", inn=SOLE),
    )
    assert (first.status, second.status) == (201, 201), (first.text, second.text)
    async with sessions() as session:
        agents = list(
            await session.scalars(
                select(Agent).where(Agent.email.in_(["one@example.com", "two@example.com"]))
            )
        )
        count = len(
            list(await session.scalars(select(Organization).where(Organization.inn == SOLE)))
        )
    assert count == 1
    assert len({agent.organization_id for agent in agents}) == 1
    assert sorted(agent.organization_confirmed for agent in agents) == [False, True]


class Seen(list):
    """The fake DaData's `received`, setting an event at each request it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        self.asked.set()


STALL_SECONDS = 3.0
"""How long the fake DaData keeps a request waiting (the client's timeout ends it)."""


async def test_a_stalled_dadata_holds_no_write_lock(
    aiohttp_server, database_url, engine, demo, fake_dadata, http, sessions
):
    """On SQLite the server has one writing connection: while DaData keeps an admin's new
    company waiting, an edit by another request is saved and answered first."""
    from ivr.app import create_app

    config = make_config(database_url, dadata=dadata(fake_dadata, timeout=STALL_SECONDS))
    server = await aiohttp_server(create_app(config))
    admin = Api(http, str(server.make_url("")), await issue_key(sessions, "admin@example.com"))
    agent_id = (await agent_row(sessions, AGENT[0])).id
    seen = fake_dadata.received = Seen()
    fake_dadata.fail_next(0)
    done: list[str] = []

    async def stalled(path: str, body: dict) -> int:
        reply = await admin.post(path, json=body)
        done.append(path)
        return reply.status

    async def edit() -> int:
        await seen.asked.wait()  # DaData has the request and keeps it waiting
        reply = await admin.call(
            "PATCH", f"/api/v1/agents/{agent_id}", json={"name": "Edited Meanwhile"}
        )
        done.append("edit")
        return reply.status

    statuses = await asyncio.gather(stalled("/api/v1/organizations", {"inn": SOLE}), edit())
    assert list(statuses) == [422, 200]
    assert done == ["edit", "/api/v1/organizations"]
    assert (await agent_row(sessions, AGENT[0])).name == "Edited Meanwhile"


async def test_a_joiners_pages_say_they_wait_for_a_member_or_an_admin(joined, agent, other_agent):
    member, _joiner, payer, _joiner_id = joined
    made = await member.post(
        "/api/v1/organization/addresses",
        json={
            "address": "Moscow, Lesnaya 5",
            "contact_name": "Olga",
            "contact_phone": "+79161112233",
        },
    )
    assert made.status == 201, made.text
    waiting = (
        "You asked to join ИП Иванова Анна Сергеевна: a colleague who is a member of it, or an "
        "admin, has yet to confirm you."
    )
    page = await other_agent.get("/organization")
    assert has_text(page.text, "A colleague who is a member, or an admin, must confirm you")
    for path, hidden in (
        ("/organization/payers", SBER_ACCOUNT),
        ("/organization/addresses", "Lesnaya"),
    ):
        shown = await other_agent.get(path)
        assert shown.status == 200 and has_text(shown.text, waiting), path
        assert hidden not in shown.text and "Give your organization's INN" not in shown.text
    # What a waiting agent sends is refused on the same page, saying why.
    added = await other_agent.submit(
        "/organization/payers", {"bik": SBER_BIK, "account": SBER_ACCOUNT}
    )
    assert added.status == 400 and has_text(added.text, waiting)
    address = {
        "address": "Kazan, Baumana 1",
        "contact_name": "Ilya",
        "contact_phone": "+79035554433",
    }
    refused = await other_agent.submit("/organization/addresses", address)
    assert refused.status == 400 and has_text(refused.text, waiting)
    for action in (
        f"/organization/payers/{payer['id']}/remove",
        f"/organization/payers/{payer['id']}/default",
        f"/organization/payers/{payer['id']}",
        f"/organization/addresses/{made.json['id']}/remove",
        f"/organization/addresses/{made.json['id']}",
    ):
        missing = await other_agent.submit("/organization/payers", {"name": "X"}, action=action)
        assert missing.status == 404 and has_text(missing.text, waiting), action
    # A member's own wrong number is the usual page: nothing there says they wait.
    wrong = await agent.submit(
        "/organization/payers", {}, action="/organization/payers/999999/remove"
    )
    assert wrong.status == 404 and not has_text(wrong.text, "has yet to confirm you")
    shown = await agent.get("/organization/payers")
    assert SBER_ACCOUNT in shown.text
