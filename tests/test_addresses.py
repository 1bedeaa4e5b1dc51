"""Delivery addresses on the agent's pages, and a request's payer and address: chosen on the
new request form, shown on the request and to the partner's manager, never a client's
contacts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.models import Organization, Request
from crm.organizations.models import DeliveryAddress, Payer
from tests.conftest import make_config
from tests.crm_client import AGENT, IVAN, OTHER_AGENT, client_id, has_text
from tests.fake_dadata import KEY
from tests.org_helpers import (
    OTHER_AGENCY,
    SBER,
    SBER_ACCOUNT,
    TBANK,
    TBANK_ACCOUNT,
    give_organization,
)

pytest_plugins = ("tests.crm_fixtures", "tests.dadata_fixtures")

NUMBER_ON_PAGE = re.compile(r'<p class="number"[^>]*>(\d{8})</p>')
OFFICE = {
    "address": "Москва, ул. Льва Толстого, д. 16, офис 5",
    "contact_name": "Мария Светлова",
    "contact_phone": "8 (916) 765-43-21",
    "comment": "Reception on the 2nd floor, 10–18",
}


@pytest.fixture
def config(database_url, fake_dadata):
    dadata = {"base_url": fake_dadata.url, "api_key": KEY, "timeout_seconds": 5}
    return make_config(database_url, dadata=dadata)


@pytest.fixture
async def agency(sessions, demo) -> int:
    return await give_organization(sessions, AGENT[0])


async def addresses_of(sessions, organization_id: int) -> list[DeliveryAddress]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(DeliveryAddress)
                .where(DeliveryAddress.organization_id == organization_id)
                .order_by(DeliveryAddress.id)
            )
        )


async def test_an_agent_without_an_organization_is_told_to_give_its_inn(agent, manager):
    reply = await agent.get("/organization/addresses")
    assert reply.status == 200 and has_text(reply.text, "Give your organization's INN first")
    assert (await manager.get("/organization/addresses")).status == 403


async def test_an_address_is_saved_with_its_contacts_phone_in_e164(agent, agency, sessions):
    reply = await agent.submit("/organization/addresses", OFFICE)
    assert reply.path == "/organization/addresses", reply.text
    assert has_text(reply.text, f"Address added: {OFFICE['address']}.")
    (saved,) = await addresses_of(sessions, agency)
    assert (saved.contact_name, saved.contact_phone) == ("Мария Светлова", "+79167654321")
    assert saved.comment == OFFICE["comment"] and saved.is_active
    assert "+79167654321" in reply.text


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("address", "", "fill this in"),
        ("contact_name", "  ", "fill this in"),
        ("contact_phone", "12", "this is not a valid phone number"),
        ("contact_phone", "call me", "enter a phone number such as +7 916 123-45-67"),
    ],
)
async def test_a_wrong_field_is_named_and_the_rest_kept(
    agent, agency, sessions, field, typed, message
):
    reply = await agent.submit("/organization/addresses", {**OFFICE, field: typed})
    assert reply.status == 400
    assert f'id="error-new-{field}"' in reply.text and has_text(reply.text, message)
    assert has_text(reply.text, OFFICE["comment"])
    assert await addresses_of(sessions, agency) == []


async def test_an_address_is_edited_and_removed(agent, agency, sessions):
    await agent.submit("/organization/addresses", OFFICE)
    (saved,) = await addresses_of(sessions, agency)
    page = f"/organization/addresses/{saved.id}"
    reply = await agent.submit(
        "/organization/addresses", {**OFFICE, "contact_phone": "nope"}, action=page
    )
    assert reply.status == 400 and f'id="error-address-{saved.id}-contact_phone"' in reply.text
    assert 'value="nope"' in reply.text and "<details open>" in reply.text
    reply = await agent.submit(
        "/organization/addresses",
        {**OFFICE, "contact_name": "Пётр Иванов", "comment": ""},
        action=page,
    )
    assert has_text(reply.text, "Address saved")
    (saved,) = await addresses_of(sessions, agency)
    assert (saved.contact_name, saved.comment) == ("Пётр Иванов", None)
    reply = await agent.submit("/organization/addresses", {}, action=page + "/remove")
    assert has_text(reply.text, "Address removed") and "No delivery addresses yet." in reply.text
    (saved,) = await addresses_of(sessions, agency)
    assert not saved.is_active


async def test_another_organizations_address_is_not_found(agent, other_agent, agency, sessions):
    await agent.submit("/organization/addresses", OFFICE)
    (saved,) = await addresses_of(sessions, agency)
    await give_organization(sessions, OTHER_AGENT[0], OTHER_AGENCY)
    page = await other_agent.get("/organization/addresses")
    assert page.status == 200 and OFFICE["contact_name"] not in page.text
    for action in ("", "/remove"):
        reply = await other_agent.submit(
            "/organization/addresses",
            {**OFFICE, "contact_name": "Stolen"},
            action=f"/organization/addresses/{saved.id}{action}",
        )
        assert reply.status == 404
    (saved,) = await addresses_of(sessions, agency)
    assert saved.is_active and saved.contact_name == "Мария Светлова"


async def _payers_and_address(agent, sessions, agency) -> tuple[Payer, Payer, DeliveryAddress]:
    await agent.submit("/organization/payers", {"bik": SBER, "account": SBER_ACCOUNT})
    await agent.submit(
        "/organization/payers", {"name": "Second payer", "bik": TBANK, "account": TBANK_ACCOUNT}
    )
    await agent.submit("/organization/addresses", OFFICE)
    async with sessions() as session:
        first, second = await session.scalars(
            select(Payer).where(Payer.organization_id == agency).order_by(Payer.id)
        )
        address = await session.scalar(select(DeliveryAddress))
    return first, second, address


async def polis_id(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(Organization.id).where(Organization.name == "Polis Insurance")
        )


async def test_the_request_form_offers_the_payers_and_addresses(agent, agency, sessions):
    first, second, address = await _payers_and_address(agent, sessions, agency)
    form = await agent.get("/requests/new")
    assert f'<option value="{first.id}" selected>' in form.text  # the default
    assert f'<option value="{second.id}" >' in form.text
    assert f'<option value="{address.id}" >' in form.text
    assert 'href="/organization/payers" target="_blank"' in form.text
    assert 'href="/organization/addresses" target="_blank"' in form.text


async def test_a_request_names_its_payer_and_address_and_the_partner_sees_them(
    agent, manager, agency, sessions
):
    _first, second, address = await _payers_and_address(agent, sessions, agency)
    ivan = await client_id(sessions, phone=IVAN["phone"])
    reply = await agent.submit(
        "/requests/new",
        {
            "client_id": str(ivan),
            "organization_id": str(await polis_id(sessions)),
            "product": "Fleet CASCO",
            "payer_id": str(second.id),
            "delivery_address_id": str(address.id),
        },
        action="/requests/new",
    )
    number = NUMBER_ON_PAGE.search(reply.text).group(1)
    async with sessions() as session:
        filed = await session.scalar(select(Request).where(Request.number == number))
    assert (filed.payer_id, filed.delivery_address_id) == (second.id, address.id)
    for shown in ("Second payer", TBANK_ACCOUNT, "30101810145250000974", "+79167654321"):
        assert has_text(reply.text, shown), shown
    # Removed since: the request keeps showing them.
    await agent.submit(
        "/organization/payers", {}, action=f"/organization/payers/{second.id}/remove"
    )
    await agent.submit(
        "/organization/addresses", {}, action=f"/organization/addresses/{address.id}/remove"
    )
    page = (await agent.get(f"/requests/{number}")).text
    assert has_text(page, "Second payer") and has_text(page, OFFICE["address"])
    listing = (await manager.get("/partner/requests")).text
    for shown in (
        "Second payer",
        "7736207543",
        "773601001",
        'АО "ТБанк"',
        TBANK,
        "30101810145250000974",
        TBANK_ACCOUNT,
        OFFICE["address"],
        OFFICE["contact_name"],
        "+79167654321",
        OFFICE["comment"],
    ):
        assert has_text(listing, shown), shown
    for secret in (
        IVAN["phone"],
        IVAN["phone"][2:],
        IVAN["email"],
        IVAN["street"],
        IVAN["last_name"],
    ):
        assert secret not in listing, secret


async def test_a_request_refuses_a_removed_or_anothers_payer_and_address(
    agent, other_agent, agency, sessions
):
    first, second, address = await _payers_and_address(agent, sessions, agency)
    await agent.submit(
        "/organization/payers", {}, action=f"/organization/payers/{second.id}/remove"
    )
    ivan = await client_id(sessions, phone=IVAN["phone"])
    base = {
        "client_id": str(ivan),
        "organization_id": str(await polis_id(sessions)),
        "product": "Fleet CASCO",
    }
    reply = await agent.submit("/requests/new", {**base, "payer_id": str(second.id)})
    assert reply.status == 400 and 'id="error-payer_id"' in reply.text
    assert has_text(reply.text, "this payer was removed; choose another")
    await give_organization(sessions, OTHER_AGENT[0], OTHER_AGENCY)
    await other_agent.submit(
        "/clients/new", {"first_name": "Oleg", "last_name": "Orlov", "phone": "+79031112233"}
    )
    form = await other_agent.get("/requests/new")
    assert SBER_ACCOUNT[-4:] not in form.text and OFFICE["contact_name"] not in form.text
    olegs = await client_id(sessions, phone="+79031112233")
    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(Request))
    for field, value in (("payer_id", first.id), ("delivery_address_id", address.id)):
        reply = await other_agent.submit(
            "/requests/new", {**base, "client_id": str(olegs), field: str(value)}
        )
        assert reply.status == 400 and f'id="error-{field}"' in reply.text, field
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Request)) == before


SBER_ACCOUNT_2 = "40702810500000000002"
"""A second current account at Sberbank whose control key is right."""


async def test_editing_the_payer_and_address_of_a_filed_request_leaves_it_as_it_was(
    agent, agency, sessions
):
    first, _second, address = await _payers_and_address(agent, sessions, agency)
    ivan = await client_id(sessions, phone=IVAN["phone"])
    reply = await agent.submit(
        "/requests/new",
        {
            "client_id": str(ivan),
            "organization_id": str(await polis_id(sessions)),
            "product": "Fleet CASCO",
            "payer_id": str(first.id),
            "delivery_address_id": str(address.id),
        },
        action="/requests/new",
    )
    number = NUMBER_ON_PAGE.search(reply.text).group(1)
    shown = {
        "name": first.name,
        "inn": first.inn,
        "kpp": first.kpp,
        "bik": first.bik,
        "account": SBER_ACCOUNT_2,
        "bank_name": first.bank_name,
        "correspondent_account": first.correspondent_account,
        "bank_address": first.bank_address,
    }
    reply = await agent.submit(
        "/organization/payers", shown, action=f"/organization/payers/{first.id}"
    )
    assert has_text(reply.text, "changes saved"), reply.text
    reply = await agent.submit(
        "/organization/addresses",
        {**OFFICE, "contact_name": "Пётр Иванов"},
        action=f"/organization/addresses/{address.id}",
    )
    assert has_text(reply.text, "Address saved")
    async with sessions() as session:
        kept = await session.get_one(Payer, first.id)
        new = await session.scalar(select(Payer).where(Payer.account == SBER_ACCOUNT_2))
        new_address = await session.scalar(select(DeliveryAddress).where(DeliveryAddress.is_active))
    assert (kept.account, kept.is_active, kept.is_default) == (SBER_ACCOUNT, False, False)
    assert new.is_default and new.is_active and new_address.id != address.id
    page = (await agent.get(f"/requests/{number}")).text
    assert SBER_ACCOUNT in page and SBER_ACCOUNT_2 not in page
    assert has_text(page, OFFICE["contact_name"]) and "Пётр Иванов" not in page
    form = (await agent.get("/requests/new")).text
    documents = form[form.index('id="f-payer_id"') :]
    assert f'<option value="{new.id}" selected>' in documents  # the edited card, the default
    assert f'value="{first.id}"' not in documents and f'value="{address.id}"' not in documents
    assert f'<option value="{new_address.id}" >' in documents
    # A repeat of the old request names neither the replaced card nor the old address.
    repeated = await agent.submit("/requests/new", {}, action=f"/requests/{number}/repeat")
    again = NUMBER_ON_PAGE.search(repeated.text).group(1)
    async with sessions() as session:
        filed = await session.scalar(select(Request).where(Request.number == again))
    assert (filed.payer_id, filed.delivery_address_id) == (None, None)
