"""The payers and delivery addresses API, and requests that name them: an agent's key acts on
its own organization, an admin's names one; another's answers 404; the partner's manager
sees the bank details and the address, never the client's contacts."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from crm.organizations.models import Payer
from tests.api_helpers import AGENT, IVAN, OTHER_AGENT, demo_client_id
from tests.conftest import make_config
from tests.fake_dadata import (
    CLOSED_BANK_ACCOUNT,
    CLOSED_BIK,
    KEY,
    SINGLE_TREASURY_ACCOUNT,
    TREASURY_ACCOUNT,
    TREASURY_BIK,
    UNKNOWN_INN,
)
from tests.org_helpers import (
    OTHER_AGENCY,
    SBER,
    SBER_ACCOUNT,
    TBANK,
    TBANK_ACCOUNT,
    give_organization,
    take_organization,
)

pytest_plugins = ("tests.api_fixtures", "tests.dadata_fixtures")

PAYERS = "/api/v1/organization/payers"
ADDRESSES = "/api/v1/organization/addresses"
OFFICE = {
    "address": "Москва, ул. Льва Толстого, д. 16",
    "contact_name": "Мария Светлова",
    "contact_phone": "8 916 765-43-21",
    "comment": "Reception",
}


@pytest.fixture
def config(database_url, fake_dadata):
    dadata = {"base_url": fake_dadata.url, "api_key": KEY, "timeout_seconds": 5}
    return make_config(database_url, dadata=dadata)


@pytest.fixture
async def agency(sessions, demo) -> int:
    return await give_organization(sessions, AGENT)


async def polis(api_agent) -> int:
    found = (await api_agent.get("/api/v1/organizations")).json["items"]
    return next(item["id"] for item in found if item["name"] == "Polis Insurance")


async def test_a_payer_is_added_with_the_organizations_name_and_dadatas_bank(
    api_agent, agency, fake_dadata
):
    reply = await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})
    assert reply.status == 201, reply.text
    payer = reply.json
    assert reply.headers["Location"].endswith(f"{PAYERS}/{payer['id']}")
    assert (payer["name"], payer["inn"], payer["kpp"]) == (
        "Agency Yandex",
        "7736207543",
        "773601001",
    )
    assert (payer["bank_name"], payer["correspondent_account"]) == (
        "ПАО Сбербанк",
        "30101810400000000225",
    )
    assert payer["is_default"] and payer["is_active"] and payer["organization_id"] == agency
    assert fake_dadata.received[-1][2] == {"query": SBER}
    listed = (await api_agent.get(PAYERS)).json["items"]
    assert [item["id"] for item in listed] == [payer["id"]]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"bik", "account"}),
        ({"bik": SBER, "account": "40702810300000000001"}, {"account"}),
        ({"bik": TBANK, "account": SBER_ACCOUNT}, {"account"}),
        ({"bik": "045", "account": "1"}, {"bik", "account"}),
        ({"bik": SBER, "account": SBER_ACCOUNT, "inn": "1234567890"}, {"inn"}),
        ({"bik": SBER, "account": SBER_ACCOUNT, "kpp": "77-36"}, {"kpp"}),
        ({"bik": SBER, "account": SBER_ACCOUNT, "iban": "x"}, {"iban"}),
    ],
)
async def test_a_wrong_payer_is_refused_naming_its_fields_before_dadata(
    api_agent, agency, fake_dadata, body, fields
):
    reply = await api_agent.post(PAYERS, json=body)
    assert reply.status == 422, reply.text
    assert set(reply.fields) == fields
    assert fake_dadata.received == []


async def test_without_dadata_the_bank_name_is_required_then_kept(api_agent, agency, fake_dadata):
    fake_dadata.fail_next(503)
    reply = await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})
    assert reply.status == 422 and set(reply.fields) == {"bank_name"}
    assert "not answering" in reply.fields["bank_name"]
    fake_dadata.fail_next(429)
    typed = {"bik": SBER, "account": SBER_ACCOUNT, "bank_name": "Sber by hand"}
    reply = await api_agent.post(PAYERS, json=typed)
    assert reply.status == 201 and reply.json["bank_name"] == "Sber by hand"


async def test_edits_defaults_and_removal(api_agent, agency, fake_dadata):
    first = (await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})).json
    second = (
        await api_agent.post(
            PAYERS, json={"bik": TBANK, "account": TBANK_ACCOUNT, "name": "Second", "kpp": ""}
        )
    ).json
    assert not second["is_default"] and second["kpp"] == ""
    one = f"{PAYERS}/{first['id']}"
    refused = await api_agent.call("PATCH", one, json={"is_default": False})
    assert refused.status == 422 and set(refused.fields) == {"is_default"}
    asked = len(fake_dadata.received)
    wrong = await api_agent.call("PATCH", one, json={"bik": TBANK})
    assert wrong.status == 422 and set(wrong.fields) == {"bik"}
    wrong = await api_agent.call("PATCH", one, json={"account": "40702810300000000001"})
    assert wrong.status == 422 and set(wrong.fields) == {"account"}
    taken = await api_agent.call("PATCH", one, json={"bik": TBANK, "account": TBANK_ACCOUNT})
    assert taken.status == 409 and set(taken.fields) == {"account"}
    # The mismatched pairs never reach DaData; the matching one's bank is remembered from
    # the second card.
    assert len(fake_dadata.received) == asked
    empty = await api_agent.call("PATCH", one, json={})
    assert empty.status == 422
    renamed = await api_agent.call("PATCH", one, json={"name": "Renamed"})
    assert renamed.status == 200 and renamed.json["name"] == "Renamed"
    made = await api_agent.call("PATCH", f"{PAYERS}/{second['id']}", json={"is_default": True})
    assert made.json["is_default"]
    assert not (await api_agent.get(one)).json["is_default"]
    gone = await api_agent.call("DELETE", f"{PAYERS}/{second['id']}")
    assert gone.status == 204
    assert (await api_agent.call("DELETE", f"{PAYERS}/{second['id']}")).status == 204
    listed = (await api_agent.get(PAYERS)).json["items"]
    assert [(item["id"], item["is_default"]) for item in listed] == [(first["id"], True)]
    removed = await api_agent.get(f"{PAYERS}/{second['id']}")
    assert removed.status == 200 and not removed.json["is_active"]
    assert (
        await api_agent.call("PATCH", f"{PAYERS}/{second['id']}", json={"name": "x"})
    ).status == 404


async def test_addresses_crud_with_the_phone_in_e164(api_agent, agency):
    reply = await api_agent.post(ADDRESSES, json=OFFICE)
    assert reply.status == 201, reply.text
    address = reply.json
    assert address["contact_phone"] == "+79167654321" and address["comment"] == "Reception"
    one = f"{ADDRESSES}/{address['id']}"
    bad = await api_agent.call("PATCH", one, json={"contact_phone": "12", "address": ""})
    assert bad.status == 422 and set(bad.fields) == {"contact_phone", "address"}
    edited = await api_agent.call("PATCH", one, json={"comment": "", "contact_name": "Пётр"})
    assert edited.json["comment"] is None and edited.json["contact_name"] == "Пётр"
    missing = await api_agent.post(ADDRESSES, json={"address": "Tula"})
    assert missing.status == 422 and set(missing.fields) == {"contact_name", "contact_phone"}
    assert (await api_agent.call("DELETE", one)).status == 204
    assert (await api_agent.get(ADDRESSES)).json["items"] == []


async def test_an_agent_without_an_organization_is_told_to_give_its_inn(api_agent, sessions, demo):
    await take_organization(sessions, AGENT)
    for reply in (await api_agent.get(PAYERS), await api_agent.post(ADDRESSES, json=OFFICE)):
        assert reply.status == 422 and set(reply.fields) == {"organization_id"}
        assert "INN" in reply.fields["organization_id"]
    assert (await api_agent.get(f"{PAYERS}/1")).status == 404


async def test_admins_name_the_organization_and_managers_are_refused(
    api_admin, api_manager, api_agent, agency
):
    assert set((await api_admin.get(PAYERS)).fields) == {"organization_id"}
    assert set((await api_admin.get(f"{PAYERS}?organization_id=1")).fields) == {"organization_id"}
    created = await api_admin.post(f"{ADDRESSES}?organization_id={agency}", json=OFFICE)
    assert created.status == 201 and created.json["organization_id"] == agency
    mine = (await api_agent.get(ADDRESSES)).json["items"]
    assert [item["id"] for item in mine] == [created.json["id"]]
    assert (await api_admin.get(f"{ADDRESSES}/{created.json['id']}")).status == 200
    assert (await api_manager.get(PAYERS)).status == 403
    assert (await api_manager.get(ADDRESSES)).status == 403


async def test_another_organizations_cards_are_not_found(apis, api_agent, agency, sessions):
    payer = (await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})).json
    address = (await api_agent.post(ADDRESSES, json=OFFICE)).json
    other = await apis.other_agent()
    await give_organization(sessions, OTHER_AGENT, OTHER_AGENCY)
    assert (await other.get(PAYERS)).json["items"] == []
    assert (await other.get(ADDRESSES)).json["items"] == []
    for path in (f"{PAYERS}/{payer['id']}", f"{ADDRESSES}/{address['id']}"):
        assert (await other.get(path)).status == 404
        assert (await other.call("PATCH", path, json={"comment": "x"})).status in (404, 422)
        assert (await other.call("DELETE", path)).status == 404
        # Even naming the owner's organization: an agent's key acts on its own only.
        assert (await other.get(f"{path}?organization_id={agency}")).status == 404
    assert (await api_agent.get(f"{PAYERS}/{payer['id']}")).json["is_active"]
    client = (
        await other.post(
            "/api/v1/clients",
            json={"first_name": "Oleg", "last_name": "Orlov", "phone": "+79031112233"},
        )
    ).json
    base = {"client_id": client["id"], "organization_id": await polis(other), "product": "X"}
    for field, value in (("payer_id", payer["id"]), ("delivery_address_id", address["id"])):
        reply = await other.post("/api/v1/requests", json={**base, field: value})
        assert reply.status == 422 and set(reply.fields) == {field}


async def test_a_request_carries_its_payer_and_address_to_the_partner(
    api_agent, api_manager, agency
):
    payer = (await api_agent.post(PAYERS, json={"bik": TBANK, "account": TBANK_ACCOUNT})).json
    address = (await api_agent.post(ADDRESSES, json=OFFICE)).json
    clients = (await api_agent.get("/api/v1/clients?per_page=100")).json["items"]
    body = {
        "client_id": demo_client_id(clients, IVAN),
        "organization_id": await polis(api_agent),
        "product": "Fleet CASCO",
        "payer_id": payer["id"],
        "delivery_address_id": address["id"],
    }
    filed = await api_agent.post("/api/v1/requests", json=body)
    assert filed.status == 201, filed.text
    number = filed.json["number"]
    assert filed.json["payer"]["account"] == TBANK_ACCOUNT
    assert filed.json["delivery_address"]["contact_phone"] == "+79167654321"
    await api_agent.call("DELETE", f"{PAYERS}/{payer['id']}")
    again = (await api_agent.get(f"/api/v1/requests/{number}")).json
    assert again["payer"]["id"] == payer["id"]  # removed since, still shown
    refused = await api_agent.post("/api/v1/requests", json=body)
    assert refused.status == 422 and set(refused.fields) == {"payer_id"}
    listing = await api_manager.get("/api/v1/partner/requests?per_page=100")
    (item,) = [item for item in listing.json["items"] if item["number"] == number]
    assert item["payer"] == {
        "id": payer["id"],
        "name": "Agency Yandex",
        "inn": "7736207543",
        "kpp": "773601001",
        "bik": TBANK,
        "bank_name": 'АО "ТБанк"',
        "correspondent_account": "30101810145250000974",
        "bank_address": "г Москва, ул Хуторская 2-я, д 38А",
        "account": TBANK_ACCOUNT,
    }
    assert item["delivery_address"] == {
        "id": address["id"],
        "address": OFFICE["address"],
        "contact_name": OFFICE["contact_name"],
        "contact_phone": "+79167654321",
        "comment": "Reception",
    }
    for secret in (IVAN["phone"], IVAN["phone"][2:], IVAN["email"], IVAN["street"]):
        assert secret not in listing.text, secret
    without = [item for item in listing.json["items"] if item["number"] != number]
    assert without and all(i["payer"] is None and i["delivery_address"] is None for i in without)


SBER_ACCOUNT_2 = "40702810500000000002"
"""A second current account at Sberbank whose control key is right."""


async def file_request(api_agent, **choices) -> dict:
    clients = (await api_agent.get("/api/v1/clients?per_page=100")).json["items"]
    body = {
        "client_id": demo_client_id(clients, IVAN),
        "organization_id": await polis(api_agent),
        "product": "Fleet CASCO",
        **choices,
    }
    filed = await api_agent.post("/api/v1/requests", json=body)
    assert filed.status == 201, filed.text
    return filed.json


async def test_editing_a_card_a_request_names_leaves_the_request_as_it_was(api_agent, agency):
    payer = (await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})).json
    address = (await api_agent.post(ADDRESSES, json=OFFICE)).json
    number = (
        await file_request(api_agent, payer_id=payer["id"], delivery_address_id=address["id"])
    )["number"]
    edited = await api_agent.call(
        "PATCH", f"{PAYERS}/{payer['id']}", json={"account": SBER_ACCOUNT_2}
    )
    assert edited.status == 200, edited.text
    new = edited.json
    assert new["id"] != payer["id"] and new["account"] == SBER_ACCOUNT_2
    assert new["is_default"] and new["is_active"] and new["name"] == payer["name"]
    old = (await api_agent.get(f"{PAYERS}/{payer['id']}")).json
    assert (old["account"], old["is_active"], old["is_default"]) == (SBER_ACCOUNT, False, False)
    listed = (await api_agent.get(PAYERS)).json["items"]
    assert [(item["id"], item["is_default"]) for item in listed] == [(new["id"], True)]
    moved = await api_agent.call(
        "PATCH", f"{ADDRESSES}/{address['id']}", json={"contact_name": "Пётр Иванов"}
    )
    assert moved.status == 200 and moved.json["id"] != address["id"]
    assert [item["id"] for item in (await api_agent.get(ADDRESSES)).json["items"]] == [
        moved.json["id"]
    ]
    shown = (await api_agent.get(f"/api/v1/requests/{number}")).json
    assert (shown["payer"]["id"], shown["payer"]["account"]) == (payer["id"], SBER_ACCOUNT)
    assert shown["delivery_address"]["contact_name"] == OFFICE["contact_name"]
    # Cards no request names are edited in place.
    renamed = await api_agent.call("PATCH", f"{PAYERS}/{new['id']}", json={"name": "Renamed"})
    assert (renamed.json["id"], renamed.json["name"]) == (new["id"], "Renamed")
    again = await api_agent.call(
        "PATCH", f"{ADDRESSES}/{moved.json['id']}", json={"comment": "Gate 2"}
    )
    assert again.json["id"] == moved.json["id"]
    # Named, a card keeping its account is replaced too: the request keeps the old name.
    second = (await file_request(api_agent, payer_id=new["id"]))["number"]
    default = await api_agent.call("PATCH", f"{PAYERS}/{new['id']}", json={"is_default": True})
    assert default.status == 200 and default.json["id"] == new["id"]
    other = await api_agent.call("PATCH", f"{PAYERS}/{new['id']}", json={"name": "Other"})
    assert other.status == 200 and other.json["id"] != new["id"]
    assert (other.json["name"], other.json["account"]) == ("Other", SBER_ACCOUNT_2)
    kept = (await api_agent.get(f"/api/v1/requests/{second}")).json["payer"]
    assert (kept["id"], kept["name"]) == (new["id"], "Renamed")


async def test_a_removed_card_requests_name_stays_and_its_account_comes_back_as_a_new_card(
    api_agent, agency
):
    payer = (await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})).json
    number = (await file_request(api_agent, payer_id=payer["id"]))["number"]
    assert (await api_agent.call("DELETE", f"{PAYERS}/{payer['id']}")).status == 204
    other = {"bik": SBER, "account": SBER_ACCOUNT, "name": "Someone else"}
    back = await api_agent.post(PAYERS, json=other)
    assert back.status == 201 and back.json["id"] != payer["id"] and back.json["is_default"]
    shown = (await api_agent.get(f"/api/v1/requests/{number}")).json["payer"]
    assert (shown["id"], shown["name"]) == (payer["id"], payer["name"])
    twice = await api_agent.post(PAYERS, json=other)
    assert twice.status == 409 and set(twice.fields) == {"account"}
    # A removed card no request names comes back itself.
    unnamed = (await api_agent.post(PAYERS, json={"bik": TBANK, "account": TBANK_ACCOUNT})).json
    assert (await api_agent.call("DELETE", f"{PAYERS}/{unnamed['id']}")).status == 204
    again = await api_agent.post(PAYERS, json={"bik": TBANK, "account": TBANK_ACCOUNT})
    assert again.status == 201 and again.json["id"] == unnamed["id"]


async def test_concurrent_first_payers_and_defaults_leave_exactly_one_default(
    api_agent, agency, sessions
):
    cards = [{"bik": SBER, "account": SBER_ACCOUNT}, {"bik": TBANK, "account": TBANK_ACCOUNT}]
    replies = await asyncio.gather(*(api_agent.post(PAYERS, json=card) for card in cards))
    assert [reply.status for reply in replies] == [201, 201], [r.text for r in replies]
    listed = (await api_agent.get(PAYERS)).json["items"]
    assert sum(item["is_default"] for item in listed) == 1
    for _round in range(3):
        replies = await asyncio.gather(
            *(
                api_agent.call("PATCH", f"{PAYERS}/{item['id']}", json={"is_default": True})
                for item in listed
            )
        )
        assert [reply.status for reply in replies] == [200, 200]
        async with sessions() as session:
            defaults = await session.scalar(
                select(func.count()).where(Payer.organization_id == agency, Payer.is_default)
            )
        assert defaults == 1
    twice = {"bik": SBER, "account": SBER_ACCOUNT_2}
    replies = await asyncio.gather(*(api_agent.post(PAYERS, json=twice) for _ in range(2)))
    assert sorted(reply.status for reply in replies) == [201, 409]


async def test_a_repeat_keeps_the_payer_and_address_while_they_are_still_choosable(
    api_agent, agency, sessions
):
    payer = (await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})).json
    address = (await api_agent.post(ADDRESSES, json=OFFICE)).json
    first = await file_request(api_agent, payer_id=payer["id"], delivery_address_id=address["id"])
    repeat = f"/api/v1/requests/{first['number']}/repeat"
    same = await api_agent.post(repeat)
    assert same.status == 201, same.text
    assert same.json["payer"]["id"] == payer["id"]
    assert same.json["delivery_address"]["id"] == address["id"]
    await api_agent.call("DELETE", f"{PAYERS}/{payer['id']}")
    without_payer = (await api_agent.post(repeat)).json
    assert without_payer["payer"] is None
    assert without_payer["delivery_address"]["id"] == address["id"]
    await give_organization(sessions, AGENT, OTHER_AGENCY)  # the agent moved on
    elsewhere = await api_agent.post(repeat)
    assert elsewhere.status == 201, elsewhere.text
    assert elsewhere.json["payer"] is None and elsewhere.json["delivery_address"] is None


async def test_a_liquidated_bank_is_refused_naming_the_bik(api_agent, agency, fake_dadata):
    reply = await api_agent.post(PAYERS, json={"bik": CLOSED_BIK, "account": CLOSED_BANK_ACCOUNT})
    assert reply.status == 422 and set(reply.fields) == {"bik"}
    assert (
        reply.fields["bik"]
        == "this bank is liquidated or being liquidated: give the BIK of another bank"
    )
    assert fake_dadata.received[-1][2] == {"query": CLOSED_BIK}
    assert (await api_agent.get(PAYERS)).json["items"] == []


async def test_a_changed_bik_of_a_liquidated_bank_is_refused(api_agent, agency):
    first = (await api_agent.post(PAYERS, json={"bik": SBER, "account": SBER_ACCOUNT})).json
    one = f"{PAYERS}/{first['id']}"
    moved = {"bik": CLOSED_BIK, "account": CLOSED_BANK_ACCOUNT}
    reply = await api_agent.call("PATCH", one, json=moved)
    assert reply.status == 422 and set(reply.fields) == {"bik"}
    assert (await api_agent.get(one)).json["bik"] == SBER


async def test_a_treasury_account_at_a_tofk_is_a_payer(api_agent, agency):
    reply = await api_agent.post(PAYERS, json={"bik": TREASURY_BIK, "account": TREASURY_ACCOUNT})
    assert reply.status == 201, reply.text
    assert reply.json["correspondent_account"] == SINGLE_TREASURY_ACCOUNT
    wrong = await api_agent.post(PAYERS, json={"bik": TREASURY_BIK, "account": SBER_ACCOUNT})
    assert wrong.status == 422 and set(wrong.fields) == {"account"}


async def test_the_same_bik_twice_asks_dadata_once(api_agent, agency, fake_dadata):
    other = "40702810500000000002"  # its control key right for Sberbank
    for account in (SBER_ACCOUNT, other):
        reply = await api_agent.post(PAYERS, json={"bik": SBER, "account": account})
        assert reply.status == 201, reply.text
    assert [body for _, _, body in fake_dadata.received] == [{"query": SBER}]


async def test_an_inn_again_is_remembered_but_a_refresh_always_asks(api_admin, fake_dadata):
    for _ in range(2):
        unknown = await api_admin.post("/api/v1/organizations", json={"inn": UNKNOWN_INN})
        assert unknown.status == 422 and set(unknown.fields) == {"inn"}
    assert len(fake_dadata.received) == 1
    sole = "771234567859"
    added = await api_admin.post("/api/v1/organizations", json={"inn": sole})
    assert added.status == 201, added.text
    asked = len(fake_dadata.received)
    for _ in range(2):
        refreshed = await api_admin.post(f"/api/v1/organizations/{added.json['id']}/refresh")
        assert refreshed.status == 200, refreshed.text
    assert len(fake_dadata.received) == asked + 2
    assert fake_dadata.received[-1][2] == {"query": sole, "branch_type": "MAIN"}
