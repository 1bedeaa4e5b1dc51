"""Organizations by INN on the pages, against the fake DaData: the admin's companies, the
agent's own organization, sign-up's last step, and the warnings of a closed company."""

from __future__ import annotations

import functools
import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm.demo import PARTNERS, seed_demo
from crm.enums import OrganizationKind
from crm.models import Agent, Client, Manager, Organization, Request
from tests.conftest import make_config
from tests.crm_client import AGENT, CrmClient, has_text
from tests.fake_dadata import KEY, FakeDadata, party

pytest_plugins = ("tests.crm_fixtures", "tests.dadata_fixtures", "tests.signup_fixtures")

SOLE, CLOSED, SBER = "771234567859", "7712345671", "7707083893"
HOOVES, HEAD_KPP, BRANCH_KPP = "5406123450", "540601001", "770301001"
HEAD_NAME = 'ООО "РОГА И КОПЫТА"'
COMPANY_PAGE = re.compile(r"/admin/organizations/(\d+)")


def dadata(fake: FakeDadata) -> dict:
    return {"base_url": fake.url, "api_key": KEY, "timeout_seconds": 0.5}


@pytest.fixture
def config(database_url, fake_dadata):
    return make_config(database_url, dadata=dadata(fake_dadata))


async def add_company(admin, data: dict[str, str]):
    return await admin.submit("/admin/organizations", data)


async def test_the_admin_adds_a_sole_proprietor_by_inn_alone(admin, fake_dadata):
    form = await admin.get("/admin/organizations")
    assert 'name="inn"' in form.text and 'name="name"' not in form.text
    reply = await add_company(admin, {"inn": SOLE})
    assert COMPANY_PAGE.fullmatch(reply.path), reply.text
    assert has_text(reply.text, "ИП Иванова Анна Сергеевна added.")
    for shown in ("304500116000157", "sole proprietor", "г Москва, ул Тверская, д 1", "active"):
        assert has_text(reply.text, shown), shown
    assert "not verified" not in reply.text and "Refresh from DaData" in reply.text
    ((_path, headers, body),) = fake_dadata.received
    assert headers["Authorization"] == f"Token {KEY}"
    assert body == {"query": SOLE, "branch_type": "MAIN"}


async def test_a_typo_in_the_inn_is_named_and_dadata_is_never_asked(admin, fake_dadata):
    reply = await add_company(admin, {"inn": "7707083894", "kpp": "773601001"})
    assert reply.status == 400
    assert "INN" in re.search(r'id="error-inn">([^<]+)<', reply.text).group(1)
    assert 'value="7707083894"' in reply.text and 'value="773601001"' in reply.text
    assert fake_dadata.received == []


async def test_dadata_down_says_why_keeps_the_inn_and_a_typed_name_is_refreshed_later(
    admin, fake_dadata
):
    fake_dadata.fail_next(500)
    down = await add_company(admin, {"inn": SOLE})
    assert down.status == 400
    assert has_text(down.text, "The organization register is not answering right now.")
    assert f'value="{SOLE}"' in down.text and 'name="name"' in down.text
    fake_dadata.fail_next(0)
    typed = await add_company(admin, {"inn": SOLE, "name": "Anna Ivanova"})
    page = typed.path
    assert COMPANY_PAGE.fullmatch(page), typed.text
    assert "Anna Ivanova" in typed.text and "not verified" in typed.text
    fake_dadata.fail_next(429)
    action = page + "/refresh"
    busy = await admin.submit(page, {}, action=action)
    assert has_text(
        busy.text,
        "Not refreshed: The organization register is busy right now. Try again in a moment.",
    )
    refreshed = await admin.submit(page, {}, action=action)
    assert has_text(refreshed.text, "ИП Иванова Анна Сергеевна is refreshed from DaData.")
    assert "not verified" not in refreshed.text
    audit = await admin.get("/admin/audit")
    assert has_text(audit.text, "Anna Ivanova")


async def test_a_liquidated_company_is_warned_everywhere_and_not_offered(admin, agent, sessions):
    reply = await add_company(admin, {"inn": CLOSED})
    closed_id = COMPANY_PAGE.fullmatch(reply.path).group(1)
    assert has_text(reply.text, "the register says this organization is liquidated")
    listed = await admin.get("/admin/organizations")
    shown = html.unescape(listed.text)
    assert re.search(r'ООО "ЗАКРЫТО"</a> <span class="status-stopped">liquidated', shown)
    form = await agent.get("/requests/new")
    assert re.search(rf'<option value="{closed_id}" disabled>[^<]*not for new requests', form.text)
    async with sessions() as session:
        client = await session.scalar(select(Client.id).limit(1))
    refused = await agent.submit(
        "/requests/new",
        {"client_id": str(client), "organization_id": closed_id, "product": "Leasing"},
    )
    assert refused.status == 400
    error = re.search(r'id="error-organization_id">([^<]+)<', refused.text).group(1)
    assert "liquidated" in error


async def test_the_agent_gives_the_inn_of_a_branch_and_sees_it_with_its_head_office(
    agent, fake_dadata
):
    empty = await agent.get("/organization")
    assert empty.status == 200 and 'name="inn"' in empty.text
    assert 'href="/organization"' in empty.text  # the agent's nav
    reply = await agent.submit("/organization", {"inn": SBER, "kpp": "540602001"})
    assert reply.path == "/organization", reply.text
    assert has_text(reply.text, "You belong to СИБИРСКИЙ БАНК ПАО СБЕРБАНК now.")
    assert "540602001" in reply.text and "Head office" in reply.text
    assert has_text(reply.text, "ПАО СБЕРБАНК") and "Refresh from DaData" in reply.text
    assert 'href="/organization/loyalty"' in reply.text
    fake_dadata.fail_next(403)
    refused = await agent.submit("/organization", {}, action="/organization/refresh")
    assert has_text(refused.text, "Not refreshed: The organization register refused the request")
    again = await agent.submit("/organization", {}, action="/organization/refresh")
    assert "is refreshed from DaData." in again.text


async def test_other_roles_have_no_organization_page(admin, manager):
    assert (await admin.get("/organization")).status == 403
    assert (await manager.get("/organization")).status == 403


async def test_sign_up_asks_for_the_inn_and_keeps_everything_when_dadata_is_down(
    start_signup, fake_dadata, sessions
):
    rig = await start_signup(config_overrides={"dadata": dadata(fake_dadata)})
    browser = CrmClient(str(rig.server.make_url("")))
    try:
        await browser.submit("/signup", {"phone": "8 916 123-45-67"})
        await browser.submit("/signup/verify", {"code": rig.last_code()})
        account = {"name": "Pavel Orlov", "email": "pavel@example.com"}
        password = {"password": "orlov-secret-2026"}
        no_inn = await browser.submit("/signup/complete", {**account, **password})
        assert no_inn.status == 422 and 'id="error-inn"' in no_inn.text
        fake_dadata.fail_next(0)
        down = await browser.submit("/signup/complete", {**account, **password, "inn": SOLE})
        assert down.status == 422
        assert has_text(down.text, "The organization register took too long to answer.")
        assert f'value="{SOLE}"' in down.text and 'value="Pavel Orlov"' in down.text
        assert 'name="organization_name"' in down.text
        home = await browser.submit("/signup/complete", {**account, **password, "inn": SOLE})
        assert home.path == "/requests", home.text
        page = await browser.get("/organization")
        assert has_text(page.text, "ИП Иванова Анна Сергеевна")
    finally:
        await browser.close()
    async with sessions() as session:
        agent = await session.scalar(select(Agent).where(Agent.email == "pavel@example.com"))
        organization = await session.get(Organization, agent.organization_id)
    assert organization.kind == "agency" and organization.verified_at is not None


async def test_the_demo_agent_without_an_organization_may_type_it_by_hand_when_down(
    agent, fake_dadata, sessions
):
    fake_dadata.fail_next(500)
    down = await agent.submit("/organization", {"inn": SOLE})
    assert down.status == 422 and 'name="name"' in down.text
    fake_dadata.fail_next(500)
    typed = await agent.submit("/organization", {"inn": SOLE, "name": "Ivanova"})
    assert typed.path == "/organization" and "not verified" in typed.text
    async with sessions() as session:
        agent_row = await session.scalar(select(Agent).where(Agent.email == AGENT[0]))
        assert agent_row.organization_id is not None


@pytest.fixture
def hooves(fake_dadata: FakeDadata) -> None:
    """A company of its own INN (no demo record shares it) with a head office and a branch."""
    company = functools.partial(party, inn=HOOVES, ogrn="1025400000005", full=HEAD_NAME)
    fake_dadata.parties += [
        company(kpp=HEAD_KPP, short=HEAD_NAME, address="г Новосибирск, ул Ленина, д 1"),
        company(kpp=BRANCH_KPP, short="МОСКОВСКИЙ ФИЛИАЛ " + HEAD_NAME,
                address="г Москва, ул Тверская, д 7", branch="BRANCH"),
    ]  # fmt: skip


async def test_a_partner_branchs_head_office_is_kept_out_of_service_until_an_admin_adds_it(
    admin, agent, sessions, hooves
):
    reply = await add_company(admin, {"inn": HOOVES, "kpp": BRANCH_KPP})
    branch_id = int(COMPANY_PAGE.fullmatch(reply.path).group(1))
    assert "Head office" in reply.text and HEAD_NAME in html.unescape(reply.text)
    async with sessions() as session:
        head = await session.scalar(
            select(Organization).where(
                Organization.inn == HOOVES,
                Organization.kpp == HEAD_KPP,
                Organization.kind == OrganizationKind.PARTNER,
            )
        )
    assert head.is_active is False
    listed = html.unescape((await admin.get("/admin/organizations")).text)
    assert re.search(rf'{HEAD_NAME}</a> <span class="status-stopped">out of service', listed)
    assert not re.search(rf'ФИЛИАЛ {HEAD_NAME}</a> <span class="status-stopped">', listed)
    form = await agent.get("/requests/new")
    assert f'<option value="{branch_id}"' in form.text
    assert f'<option value="{head.id}"' not in form.text

    added = await add_company(admin, {"inn": HOOVES})
    assert added.path == f"/admin/organizations/{head.id}", added.text
    assert has_text(added.text, f"{HEAD_NAME} added.")
    assert f'<option value="{head.id}"' in (await agent.get("/requests/new")).text
    again = await add_company(admin, {"inn": HOOVES})
    assert has_text(again.text, "a company with this INN already exists")


async def test_a_company_an_admin_deactivated_is_not_put_back_by_adding_it_again(
    admin, agent, sessions, hooves
):
    """Out of service with no managers, yet by an admin's hand: only its page brings it back."""
    reply = await add_company(admin, {"inn": HOOVES})
    company_id = int(COMPANY_PAGE.fullmatch(reply.path).group(1))
    page = f"/admin/organizations/{company_id}"
    await admin.submit(page, {"confirm": "yes"}, action=f"{page}/deactivate")
    again = await add_company(admin, {"inn": HOOVES})
    assert has_text(again.text, "a company with this INN already exists")
    async with sessions() as session:
        company = await session.get(Organization, company_id)
    assert company.is_active is False
    assert f'<option value="{company_id}"' not in (await agent.get("/requests/new")).text


async def test_demo_seeding_finds_its_partner_companies_by_kind(sessions):
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(
            Organization(name="Agents", kind=OrganizationKind.AGENCY, inn=PARTNERS[0]["inn"],
                         created_at=now)
        )  # fmt: skip
    for _ in range(2):  # idempotent: the second run finds what the first stored
        async with sessions.begin() as session:
            await seed_demo(session, now=now)
    async with sessions() as session:
        kinds = {
            "manager": await session.scalars(
                select(Organization.kind).join(Manager, Manager.organization_id == Organization.id)
            ),
            "request": await session.scalars(
                select(Organization.kind).join(Request, Request.organization_id == Organization.id)
            ),
        }
        assert {name: set(found) for name, found in kinds.items()} == {
            "manager": {OrganizationKind.PARTNER},
            "request": {OrganizationKind.PARTNER},
        }
        partners = await session.scalars(
            select(Organization.inn).where(Organization.kind == OrganizationKind.PARTNER)
        )
        assert sorted(partners) == sorted(spec["inn"] for spec in PARTNERS)
