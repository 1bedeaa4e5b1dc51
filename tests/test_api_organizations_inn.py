"""Organizations by INN over the API, against the fake DaData: what is filled, what DaData
was asked, what happens when it cannot tell, refreshes and sign-up's organization."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.audit import AuditEntry
from crm.models import Agent, Organization
from tests.conftest import make_config
from tests.fake_dadata import KEY, UNKNOWN_INN, FakeDadata

pytest_plugins = ("tests.api_fixtures", "tests.dadata_fixtures", "tests.signup_fixtures")

ORGANIZATIONS = "/api/v1/organizations"
SOLE = "771234567859"
SBER = "7707083893"
SBER_MAIN_KPP, SBER_BRANCH_KPP = "773601001", "540602001"
CLOSED = "7712345671"
SBER_OGRN = "1027700132195"


def dadata(fake: FakeDadata) -> dict:
    return {"base_url": fake.url, "api_key": KEY, "timeout_seconds": 0.5}


@pytest.fixture
def config(database_url, fake_dadata):
    return make_config(database_url, dadata=dadata(fake_dadata))


@pytest.fixture
async def polis_elsewhere(sessions):
    """The demo's Polis typed Sber's INN by hand (a later company by it would be a copy)."""
    async with sessions.begin() as session:
        polis = await session.scalar(select(Organization).where(Organization.inn == SBER))
        polis.inn = "7728168971"


async def test_a_company_by_inn_and_kpp_is_filled_and_dadata_got_the_token_and_body(
    api_admin, fake_dadata, polis_elsewhere
):
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": SBER, "kpp": SBER_MAIN_KPP})
    assert reply.status == 201, reply.text
    found = reply.json
    assert (found["inn"], found["kpp"], found["ogrn"]) == (SBER, SBER_MAIN_KPP, "1027700132195")
    assert found["name"] == "ПАО СБЕРБАНК" and "СБЕРБАНК РОССИИ" in found["full_name"]
    assert (found["type"], found["status"], found["branch_type"]) == ("legal", "active", "main")
    assert found["ogrn_date"] == "2002-08-16" and found["registered_on"] == "2002-08-16"
    assert found["legal_address"] == "101000, г Москва, ул Вавилова, д 19"
    assert found["head_name"] == "Греф Герман Оскарович" and found["head_post"]
    assert found["verified"] is True and found["verified_at"]
    assert found["main_organization_id"] is None and found["recording_policy"] == "off"
    ((path, headers, body),) = fake_dadata.received
    assert path == "/findById/party" and headers["Authorization"] == f"Token {KEY}"
    assert body == {"query": SBER, "kpp": SBER_MAIN_KPP}
    assert (await api_admin.get(reply.headers["Location"])).json == found


async def test_an_inn_already_stored_is_409_naming_inn_before_asking_dadata(api_admin, fake_dadata):
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": SBER})  # the demo's Polis has it
    assert reply.status == 409 and set(reply.fields) == {"inn"}
    assert fake_dadata.received == []
    by_ogrn = await api_admin.post(ORGANIZATIONS, json={"inn": SBER_OGRN})
    assert by_ogrn.status == 409 and set(by_ogrn.fields) == {"inn"}
    assert fake_dadata.received[0][2] == {"query": SBER_OGRN, "branch_type": "MAIN"}
    with_kpp = await api_admin.post(ORGANIZATIONS, json={"inn": SBER, "kpp": SBER_MAIN_KPP})
    assert with_kpp.status == 409 and set(with_kpp.fields) == {"inn"}
    first = await api_admin.post(ORGANIZATIONS, json={"inn": SOLE})
    assert first.status == 201
    again = await api_admin.post(ORGANIZATIONS, json={"inn": SOLE, "name": "Typed"})
    assert again.status == 409 and set(again.fields) == {"inn"}


async def test_a_sole_proprietor_is_headed_by_themselves_with_no_kpp(api_admin, fake_dadata):
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": SOLE})
    assert reply.status == 201, reply.text
    found = reply.json
    assert (found["type"], found["kpp"], found["ogrn"]) == ("individual", "", "304500116000157")
    assert found["head_name"] == "Иванова Анна Сергеевна"
    assert found["name"] == "ИП Иванова Анна Сергеевна"
    assert fake_dadata.received[0][2] == {"query": SOLE, "branch_type": "MAIN"}
    kpp = await api_admin.post(ORGANIZATIONS, json={"inn": SOLE, "kpp": SBER_MAIN_KPP})
    assert kpp.status == 422 and set(kpp.fields) == {"kpp"}


async def test_a_branch_is_linked_to_its_head_office_the_one_typed_by_hand_now_verified(
    api_admin, fake_dadata
):
    listed = (await api_admin.get(ORGANIZATIONS)).json["items"]
    (polis,) = [item for item in listed if item["inn"] == SBER]
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": SBER, "kpp": SBER_BRANCH_KPP})
    assert reply.status == 201, reply.text
    branch = reply.json
    assert branch["branch_type"] == "branch" and "СИБИРСКИЙ" in branch["name"]
    assert [body for _path, _headers, body in fake_dadata.received] == [
        {"query": SBER, "kpp": SBER_BRANCH_KPP},
        {"query": SBER, "branch_type": "MAIN"},
    ]
    assert branch["main_organization_id"] == polis["id"] and polis["verified"] is False
    head = (await api_admin.get(f"{ORGANIZATIONS}/{polis['id']}")).json
    assert head["verified"] is True
    assert (head["kpp"], head["branch_type"], head["name"]) == (
        SBER_MAIN_KPP,
        "main",
        "ПАО СБЕРБАНК",
    )
    again = await api_admin.post(ORGANIZATIONS, json={"inn": SBER, "kpp": SBER_MAIN_KPP})
    assert again.status == 409 and set(again.fields) == {"inn"}


async def test_a_liquidated_company_is_refused_for_a_new_request(api_admin, api_agent):
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": CLOSED})
    assert reply.status == 201, reply.text
    closed = reply.json
    assert (closed["status"], closed["liquidated_on"]) == ("liquidated", "2025-06-30")
    client = (await api_agent.get("/api/v1/clients")).json["items"][0]
    filed = await api_agent.post(
        "/api/v1/requests",
        json={"client_id": client["id"], "organization_id": closed["id"], "product": "Leasing"},
    )
    assert filed.status == 422 and set(filed.fields) == {"organization_id"}
    assert "liquidated" in filed.fields["organization_id"]


async def test_an_unknown_inn_is_422_naming_inn_unless_a_name_is_typed(api_admin, fake_dadata):
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": UNKNOWN_INN})
    assert reply.status == 422
    assert reply.fields == {"inn": "no organization with this INN is registered"}
    typed = await api_admin.post(ORGANIZATIONS, json={"inn": UNKNOWN_INN, "name": "Podolsk LLC"})
    assert typed.status == 201, typed.text
    assert (typed.json["name"], typed.json["verified"], typed.json["status"]) == (
        "Podolsk LLC",
        False,
        None,
    )


@pytest.mark.parametrize(
    ("number", "field"),
    [("7707083894", "inn"), ("771234567850", "inn"), ("1147746123456", "inn"), ("12", "inn")],
)
async def test_a_number_with_wrong_check_digits_never_reaches_dadata(
    api_admin, fake_dadata, number, field
):
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": number})
    assert reply.status == 422 and set(reply.fields) == {field}
    bad_kpp = await api_admin.post(ORGANIZATIONS, json={"inn": SBER, "kpp": "77-36"})
    assert bad_kpp.status == 422 and set(bad_kpp.fields) == {"kpp"}
    assert fake_dadata.received == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, "refused the request"),
        (429, "busy right now"),
        (500, "not answering"),
        (0, "took too long"),
    ],
)
async def test_dadata_unavailable_is_said_plainly_and_a_typed_name_is_stored_not_verified(
    api_admin, fake_dadata, status, reason
):
    fake_dadata.fail_next(status)
    reply = await api_admin.post(ORGANIZATIONS, json={"inn": SOLE})
    assert reply.status == 422 and set(reply.fields) == {"name"}
    assert reason in reply.fields["name"]
    fake_dadata.fail_next(status)
    typed = await api_admin.post(ORGANIZATIONS, json={"inn": SOLE, "name": "Anna Ivanova"})
    assert typed.status == 201, typed.text
    assert (typed.json["verified"], typed.json["verified_at"], typed.json["status"]) == (
        False,
        None,
        None,
    )


async def test_a_company_typed_by_hand_is_refreshed_later_and_the_audit_keeps_what_it_was(
    api_admin, fake_dadata, sessions
):
    fake_dadata.fail_next(500)
    typed = await api_admin.post(ORGANIZATIONS, json={"inn": SOLE, "name": "Anna Ivanova"})
    assert typed.status == 201
    refresh = f"{ORGANIZATIONS}/{typed.json['id']}/refresh"
    fake_dadata.fail_next(403, "Daily limit exceeded")
    down = await api_admin.post(refresh)
    assert down.status == 503
    assert down.json["error"]["code"] == "dadata_unavailable"
    assert "daily limit" in down.json["error"]["message"]
    reply = await api_admin.post(refresh)
    assert reply.status == 200, reply.text
    assert reply.json["verified"] is True and reply.json["name"] == "ИП Иванова Анна Сергеевна"
    assert reply.json["status"] == "active"
    async with sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "refresh").order_by(AuditEntry.id)
        )
    assert entry is not None and entry.entity_id == str(typed.json["id"])
    details = json.loads(entry.details)
    assert details["name"] == {"from": "Anna Ivanova", "to": "ИП Иванова Анна Сергеевна"}
    assert details["status"] == {"from": None, "to": "active"}
    assert set(details) >= {"name", "status", "verified_at"} and details["verified_at"]
    # Nothing changed: the refresh's audit says when it was checked, and only that.
    again = await api_admin.post(refresh)
    assert again.status == 200, again.text
    async with sessions() as session:
        last = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "refresh")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    assert last is not None and list(json.loads(last.details)) == ["verified_at"]


async def test_refresh_is_for_admins_and_the_agents_of_the_organization(
    api_agent, api_manager, api_admin
):
    sole = (await api_admin.post(ORGANIZATIONS, json={"inn": SOLE})).json
    refresh = f"{ORGANIZATIONS}/{sole['id']}/refresh"
    assert (await api_agent.post(refresh)).status == 404
    assert (await api_manager.post(refresh)).status == 403


async def test_sign_up_with_an_inn_creates_the_organization_and_a_second_agent_joins_it(
    start_signup, fake_dadata, sessions
):
    rig = await start_signup(config_overrides={"dadata": dadata(fake_dadata)})
    agents = []
    for n, email in enumerate(("pavel@example.com", "vera@example.com"), start=1):
        to = f"+7916000000{n}"
        assert (await rig.ask(to)).status == 202
        token = (await rig.verify(rig.last_code(to), to=to)).json["signup_token"]
        done = await rig.complete(token, email=email, inn=SBER, kpp=SBER_BRANCH_KPP)
        assert done.status == 201, done.text
        agents.append(done.json["agent_id"])
    async with sessions() as session:
        organization_ids = {
            (await session.get(Agent, agent_id)).organization_id for agent_id in agents
        }
        (organization_id,) = organization_ids
        branch = await session.get(Organization, organization_id)
        assert branch is not None and branch.kind == "agency" and branch.kpp == SBER_BRANCH_KPP
        assert branch.main_organization_id is not None and branch.verified_at is not None
    # The second agent joined what was stored: DaData was asked for the first one only.
    assert len(fake_dadata.received) == 2


async def test_sign_up_while_dadata_is_down_keeps_the_token_and_takes_a_typed_name(
    start_signup, fake_dadata, sessions
):
    rig = await start_signup(config_overrides={"dadata": dadata(fake_dadata)})
    assert (await rig.ask()).status == 202
    token = (await rig.verify(rig.last_code())).json["signup_token"]
    fake_dadata.fail_next(500)
    down = await rig.complete(token, inn=SOLE)
    assert down.status == 422 and set(down.fields) == {"organization_name"}
    assert "not answering" in down.fields["organization_name"]
    fake_dadata.fail_next(500)
    done = await rig.complete(token, inn=SOLE, organization_name="Ivanova A. S.")
    assert done.status == 201, done.text
    async with sessions() as session:
        agent = await session.get(Agent, done.json["agent_id"])
        organization = await session.get(Organization, agent.organization_id)
    assert organization.name == "Ivanova A. S." and organization.verified_at is None


async def test_editing_the_inn_clears_what_dadata_said_until_a_refresh(
    api_admin, sessions, polis_elsewhere
):
    found = (await api_admin.post(ORGANIZATIONS, json={"inn": SBER, "kpp": SBER_MAIN_KPP})).json
    assert found["verified"] is True and found["ogrn"]
    one = f"{ORGANIZATIONS}/{found['id']}"
    same = await api_admin.call("PATCH", one, json={"name": "Sber", "inn": SBER})
    assert same.status == 200 and same.json["verified"] is True  # the INN did not change
    edited = await api_admin.call("PATCH", one, json={"inn": SOLE})
    assert edited.status == 200, edited.text
    company = edited.json
    assert (company["inn"], company["kpp"], company["verified"]) == (SOLE, "", False)
    for field in ("full_name", "ogrn", "ogrn_date", "type", "legal_address", "head_name"):
        assert company[field] is None, field
    assert (company["status"], company["branch_type"], company["verified_at"]) == (None,) * 3
    assert company["name"] == "Sber"
    async with sessions() as session:
        stored = await session.get(Organization, found["id"])
    assert stored.dadata_hid is None and stored.main_organization_id is None
    assert stored.registered_on is None and stored.status_date is None


async def test_a_copy_typed_by_hand_is_not_refreshed_into_one_stored_already(
    api_admin, fake_dadata, sessions
):
    """The demo's Polis has Sber's INN typed by hand; once Sber's head office is stored as a
    partner too, refreshing Polis would make two of it: refused, naming `inn`."""
    async with sessions.begin() as session:
        polis = await session.scalar(select(Organization).where(Organization.inn == SBER))
        session.add(
            Organization(
                name="ПАО СБЕРБАНК", kind=polis.kind, inn=SBER, kpp=SBER_MAIN_KPP,
                created_at=polis.created_at,
            )
        )  # fmt: skip
        polis_id = polis.id
    reply = await api_admin.post(f"{ORGANIZATIONS}/{polis_id}/refresh")
    assert reply.status == 409 and set(reply.fields) == {"inn"}
    assert "ПАО СБЕРБАНК" in reply.fields["inn"]
    assert (await api_admin.get(f"{ORGANIZATIONS}/{polis_id}")).json["verified"] is False


async def test_while_dadata_is_down_an_inn_with_no_kpp_joins_its_stored_head_office(
    start_signup, fake_dadata, sessions
):
    rig = await start_signup(config_overrides={"dadata": dadata(fake_dadata)})
    agents = []
    for n, email in enumerate(("pavel@example.com", "vera@example.com"), start=1):
        to = f"+7916000002{n}"
        assert (await rig.ask(to)).status == 202
        token = (await rig.verify(rig.last_code(to), to=to)).json["signup_token"]
        if n == 2:
            fake_dadata.fail_next(500)
        done = await rig.complete(token, email=email, inn=SBER, organization_name="Typed")
        assert done.status == 201, done.text
        agents.append(done.json["agent_id"])
    async with sessions() as session:
        first, second = [await session.get(Agent, agent_id) for agent_id in agents]
        count = len(list(await session.scalars(select(Organization.id))))
    assert first.organization_id == second.organization_id and count == 1
    assert not second.organization_confirmed
