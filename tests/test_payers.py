"""Payer cards: the control key of an account against its BIK, and the agent's payers page
(the bank found by the BIK on a fake DaData, which a mistyped number never reaches)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from crm.organizations.accounts import (
    WEIGHTS,
    account_matches,
    check_account,
    check_correspondent_account,
    conventional_number,
    key_matches,
)
from crm.organizations.models import Payer
from crm.organizations.payers import BankDetails, create_payer, make_default
from crm.organizations.schemas import PayerIn
from tests.conftest import make_config
from tests.crm_client import AGENT, OTHER_AGENT, account_actor, has_text
from tests.fake_dadata import (
    CLOSED_BANK_ACCOUNT,
    CLOSED_BIK,
    KEY,
    SINGLE_TREASURY_ACCOUNT,
    TREASURY_ACCOUNT,
    TREASURY_BIK,
)
from tests.org_helpers import (
    OTHER_AGENCY,
    SBER,
    SBER_ACCOUNT,
    TBANK,
    TBANK_ACCOUNT,
    give_organization,
)

pytest_plugins = ("tests.crm_fixtures", "tests.dadata_fixtures")

REAL_ACCOUNTS = [
    # The Bank of Russia's own examples (Порядок расчета контрольного ключа, N 515, 1997):
    ("049805746", "40602810700000000025"),  # a client's account at a credit institution
    ("040305000", "40102810100000010001"),  # an account opened at a cash settlement centre
    ("044514512", "40702810900000000025"),
    (SBER, SBER_ACCOUNT),
    (TBANK, TBANK_ACCOUNT),
]
REAL_CORRESPONDENT = [
    ("049805000", "30101810800000000746"),  # the Bank of Russia's example
    (SBER, "30101810400000000225"),  # Sberbank's
    (TBANK, "30101810145250000974"),  # T-Bank's
]


def control_key(conventional: str, account: str) -> int:
    """The key as the Bank of Russia computes it: the low digits of the products with the
    key as 0, their sum's low digit times 3, that product's low digit."""
    digits = conventional + account[:8] + "0" + account[9:]
    low = sum(int(digit) * weight % 10 for digit, weight in zip(digits, WEIGHTS, strict=False))
    return low % 10 * 3 % 10


@pytest.mark.parametrize(("bik", "account"), REAL_ACCOUNTS)
def test_real_accounts_match_their_bik(bik, account):
    assert account_matches(bik, account)
    assert check_account(bik, f" {account[:5]} {account[5:]} ") == account


@pytest.mark.parametrize(("bik", "account"), REAL_CORRESPONDENT)
def test_real_correspondent_accounts_match_their_bik(bik, account):
    assert check_correspondent_account(bik, account) == account


def test_the_cash_settlement_centre_case_weighs_zero_and_the_bik_digits_5_and_6():
    assert conventional_number("040305000") == "005"
    assert conventional_number("044525001") == "025"  # another Bank of Russia division
    assert conventional_number("049805746") == "746"
    # Weighed as a bank's account (the BIK's last digits), the centre's example fails.
    assert not account_matches("040305999", "40102810100000010001")


def test_an_account_at_another_bank_is_refused():
    assert not account_matches(TBANK, SBER_ACCOUNT)
    with pytest.raises(ValueError, match="control key"):
        check_account(TBANK, SBER_ACCOUNT)
    for wrong in ("4070281020000000000", "407028102000000000011", "4070281020000000000X"):
        with pytest.raises(ValueError, match="20 digits"):
            check_account(SBER, wrong)


@given(
    example=st.sampled_from(REAL_ACCOUNTS),
    position=st.integers(min_value=0, max_value=19),
    change=st.integers(min_value=1, max_value=9),
)
def test_any_one_digit_wrong_is_caught(example, position, change):
    bik, account = example
    digit = (int(account[position]) + change) % 10
    typo = account[:position] + str(digit) + account[position + 1 :]
    assert not account_matches(bik, typo)


@given(
    bik=st.from_regex(r"\A04[0-9]{7}\Z"),
    body=st.from_regex(r"\A[0-9]{19}\Z"),
)
def test_an_account_keyed_the_bank_of_russias_way_always_matches(bik, body):
    account = body[:8] + "0" + body[8:]
    keyed = account[:8] + str(control_key(conventional_number(bik), account)) + account[9:]
    assert account_matches(bik, keyed)


TREASURIES = [
    # (the TOFK's BIK, its single treasury account, a treasury account opened there)
    (TREASURY_BIK, SINGLE_TREASURY_ACCOUNT, TREASURY_ACCOUNT),  # УФК по г. Москве
    ("017003983", "40102810445370000059", "03100643000000018500"),  # УФК по Тульской области
]


def weighed(conventional: str, account: str) -> int:
    return sum(
        int(digit) * weight for digit, weight in zip(conventional + account, WEIGHTS, strict=False)
    )


@pytest.mark.parametrize(("bik", "single", "treasury"), TREASURIES)
def test_a_treasury_account_at_a_tofk_is_accepted_and_its_single_account_keyed(
    bik, single, treasury
):
    # The single treasury account is opened at the Bank of Russia: 0 and the BIK's digits 5-6.
    assert conventional_number(bik, at_bank_of_russia=True) == "0" + bik[4:6]
    assert weighed("0" + bik[4:6], single) % 10 == 0
    assert check_correspondent_account(bik, single) == single
    # A treasury account carries no key of the BIK (the Treasury numbers it): refused before.
    assert not key_matches(bik[6:9], treasury)
    assert account_matches(bik, treasury) and check_account(bik, treasury) == treasury


def test_the_moscow_single_treasury_account_weighs_to_190():
    assert weighed("025", SINGLE_TREASURY_ACCOUNT) == 190


@pytest.mark.parametrize(("bik", "single", "treasury"), TREASURIES)
def test_wrong_treasury_combinations_are_still_refused(bik, single, treasury):
    assert not account_matches(bik, SBER_ACCOUNT)  # no current account is opened at a TOFK
    assert not account_matches(bik, single)  # the single account is the TOFK's own
    assert not account_matches(bik, treasury[:-1])
    assert not account_matches(SBER, treasury)  # a bank's BIK weighs it with its key
    typo = single[:19] + str((int(single[19]) + 1) % 10)
    with pytest.raises(ValueError, match="correspondent account"):
        check_correspondent_account(bik, typo)
    with pytest.raises(ValueError, match="correspondent account"):
        check_correspondent_account(bik, "30101810400000000225")  # a bank's, not the TOFK's


def test_a_banks_correspondent_account_is_a_30101_one_even_when_its_key_fits():
    keyed = next(
        account
        for key in "0123456789"
        if key_matches("0" + SBER[4:6], account := f"40102810{key}45370000003")
    )
    with pytest.raises(ValueError, match="correspondent account"):
        check_correspondent_account(SBER, keyed)


@pytest.fixture
def config(database_url, fake_dadata):
    dadata = {"base_url": fake_dadata.url, "api_key": KEY, "timeout_seconds": 5}
    return make_config(database_url, dadata=dadata)


@pytest.fixture
async def agency(sessions, demo) -> int:
    return await give_organization(sessions, AGENT[0])


async def payers_of(sessions, organization_id: int) -> list[Payer]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Payer).where(Payer.organization_id == organization_id).order_by(Payer.id)
            )
        )


async def add(agent, **fields: str):
    return await agent.submit("/organization/payers", fields)


async def test_an_agent_without_an_organization_is_told_to_give_its_inn(agent):
    reply = await agent.get("/organization/payers")
    assert reply.status == 200
    assert has_text(reply.text, "Give your organization's INN first")
    assert 'name="bik"' not in reply.text


async def test_managers_and_admins_do_not_open_the_payers_page(manager, admin):
    assert (await manager.get("/organization/payers")).status == 403
    assert (await admin.get("/organization/payers")).status == 403


async def test_the_add_form_is_prefilled_with_the_organization(agent, agency):
    reply = await agent.get("/organization/payers")
    assert reply.status == 200 and "No payers yet." in reply.text
    assert 'value="Agency Yandex"' in reply.text and 'value="7736207543"' in reply.text
    assert 'value="773601001"' in reply.text


async def test_a_payer_gets_its_bank_from_dadata_and_the_first_is_the_default(
    agent, agency, sessions, fake_dadata
):
    reply = await add(
        agent,
        name="Agency Yandex",
        inn="7736207543",
        kpp="773601001",
        bik=SBER,
        account=SBER_ACCOUNT,
    )
    assert reply.status == 200 and reply.path == "/organization/payers", reply.text
    assert has_text(reply.text, "Payer Agency Yandex added.")
    (payer,) = await payers_of(sessions, agency)
    assert (payer.bank_name, payer.correspondent_account) == (
        "ПАО Сбербанк",
        "30101810400000000225",
    )
    assert payer.bank_address == "г Москва, ул Вавилова, д 19"
    assert payer.is_default and payer.is_active and payer.kpp == "773601001"
    ((path, headers, body),) = fake_dadata.received
    assert (path, body, headers["Authorization"]) == (
        "/findById/bank",
        {"query": SBER},
        f"Token {KEY}",
    )
    assert SBER_ACCOUNT in reply.text and "ПАО Сбербанк" in reply.text


async def test_find_the_bank_fills_the_form_and_saves_nothing(agent, agency, sessions):
    reply = await agent.submit(
        "/organization/payers", {"bik": TBANK, "account": "", "action": "bank"}
    )
    assert reply.status == 200
    assert has_text(reply.text, 'Bank found: АО "ТБанк".')
    assert 'value="30101810145250000974"' in reply.text
    assert await payers_of(sessions, agency) == []


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({"bik": SBER, "account": "40702810300000000001"}, "account"),  # one digit off
        ({"bik": TBANK, "account": SBER_ACCOUNT}, "account"),  # another bank's
        ({"bik": "044525", "account": SBER_ACCOUNT}, "bik"),
        ({"bik": "144525225", "account": SBER_ACCOUNT}, "bik"),
        ({"bik": SBER, "account": "4070281020000000000"}, "account"),
        ({"bik": SBER, "account": SBER_ACCOUNT, "inn": "7736207544"}, "inn"),
        ({"bik": SBER, "account": SBER_ACCOUNT, "kpp": "7736"}, "kpp"),
        (
            {"bik": SBER, "account": SBER_ACCOUNT, "correspondent_account": "30101810400000000226"},
            "correspondent_account",
        ),
    ],
)
async def test_a_wrong_number_is_named_kept_and_never_reaches_dadata(
    agent, agency, sessions, fake_dadata, fields, wrong
):
    reply = await add(agent, name="Agency Yandex", **{"inn": "7736207543", **fields})
    assert reply.status == 400
    assert f'id="error-new-{wrong}"' in reply.text
    assert f'value="{fields[wrong]}"' in reply.text
    assert fake_dadata.received == []
    assert await payers_of(sessions, agency) == []


async def test_a_bik_dadata_does_not_know_is_named(agent, agency, fake_dadata):
    unknown = "049999999"
    account = "40702810" + "0" + "00000000001"
    keyed = account[:8] + str(control_key("999", account)) + account[9:]
    reply = await add(agent, bik=unknown, account=keyed)
    assert reply.status == 400 and 'id="error-new-bik"' in reply.text
    assert has_text(reply.text, "no bank has this BIK")
    assert len(fake_dadata.received) == 1


@pytest.mark.parametrize("status", [500, 429, 403, 0])
async def test_without_dadata_the_bank_is_typed_by_hand(
    agent, agency, sessions, fake_dadata, status
):
    fake_dadata.fail_next(status)
    reply = await add(agent, bik=SBER, account=SBER_ACCOUNT)
    assert reply.status == 400 and 'id="error-new-bank_name"' in reply.text
    assert has_text(reply.text, "Type the bank's name yourself.")
    assert f'value="{SBER_ACCOUNT}"' in reply.text
    fake_dadata.fail_next(status)
    reply = await add(agent, bik=SBER, account=SBER_ACCOUNT, bank_name="Сбербанк (by hand)")
    assert reply.path == "/organization/payers", reply.text
    (payer,) = await payers_of(sessions, agency)
    assert payer.bank_name == "Сбербанк (by hand)" and payer.correspondent_account is None


async def test_the_default_moves_and_a_removed_payer_leaves_the_list(agent, agency, sessions):
    await add(agent, bik=SBER, account=SBER_ACCOUNT)
    reply = await add(agent, name="Branch payer", bik=TBANK, account=TBANK_ACCOUNT)
    first, second = await payers_of(sessions, agency)
    assert first.is_default and not second.is_default and second.name == "Branch payer"
    assert "Make default" in reply.text
    reply = await agent.submit(
        "/organization/payers", {}, action=f"/organization/payers/{second.id}/default"
    )
    assert has_text(reply.text, "Branch payer is the default payer now.")
    first, second = await payers_of(sessions, agency)
    assert second.is_default and not first.is_default
    reply = await agent.submit(
        "/organization/payers", {}, action=f"/organization/payers/{second.id}/remove"
    )
    assert has_text(reply.text, "Payer Branch payer removed")
    assert TBANK_ACCOUNT not in reply.text
    first, second = await payers_of(sessions, agency)
    assert first.is_default and not second.is_active and not second.is_default
    again = await add(agent, name="Back again", bik=TBANK, account=TBANK_ACCOUNT)
    assert again.path == "/organization/payers"
    assert [p.id for p in await payers_of(sessions, agency)] == [first.id, second.id]


async def test_the_same_account_twice_is_named(agent, agency):
    await add(agent, bik=SBER, account=SBER_ACCOUNT)
    reply = await add(agent, bik=SBER, account=SBER_ACCOUNT)
    assert reply.status == 400 and 'id="error-new-account"' in reply.text
    assert has_text(reply.text, "this account is already one of your payers")


async def test_an_edit_saves_what_changed_and_a_wrong_one_comes_back_open(
    agent, agency, sessions, fake_dadata
):
    await add(agent, bik=SBER, account=SBER_ACCOUNT)
    (payer,) = await payers_of(sessions, agency)
    shown = {
        "name": payer.name,
        "inn": payer.inn,
        "kpp": payer.kpp,
        "bik": payer.bik,
        "account": payer.account,
        "bank_name": payer.bank_name,
        "correspondent_account": payer.correspondent_account,
        "bank_address": payer.bank_address,
    }
    page = f"/organization/payers/{payer.id}"
    reply = await agent.submit("/organization/payers", {**shown, "name": "Renamed"}, action=page)
    assert has_text(reply.text, "Renamed: changes saved.")
    shown["name"] = "Renamed"
    reply = await agent.submit("/organization/payers", {**shown, "bik": TBANK}, action=page)
    assert reply.status == 400
    assert f'id="error-payer-{payer.id}-bik"' in reply.text and "<details open>" in reply.text
    assert f'value="{TBANK}"' in reply.text
    assert len(fake_dadata.received) == 1  # the mismatch was refused without asking
    reply = await agent.submit(
        "/organization/payers", {**shown, "bik": TBANK, "account": TBANK_ACCOUNT}, action=page
    )
    assert reply.path == "/organization/payers", reply.text
    (payer,) = await payers_of(sessions, agency)
    assert (payer.name, payer.bik, payer.bank_name) == ("Renamed", TBANK, 'АО "ТБанк"')
    assert payer.correspondent_account == "30101810145250000974"


async def test_another_organizations_payer_is_not_found(agent, other_agent, agency, sessions):
    await add(agent, bik=SBER, account=SBER_ACCOUNT)
    (payer,) = await payers_of(sessions, agency)
    await give_organization(sessions, OTHER_AGENT[0], OTHER_AGENCY)
    other = other_agent
    page = await other.get("/organization/payers")
    assert page.status == 200 and SBER_ACCOUNT not in page.text
    for action in ("", "/default", "/remove"):
        reply = await other.submit(
            "/organization/payers",
            {"name": "Stolen", "bik": SBER, "account": SBER_ACCOUNT},
            action=f"/organization/payers/{payer.id}{action}",
        )
        assert reply.status == 404, action
    (payer,) = await payers_of(sessions, agency)
    assert payer.is_active and payer.is_default and payer.name == "Agency Yandex"


SBER_ACCOUNT_2 = "40702810500000000002"
"""A second current account at Sberbank whose control key is right."""
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BANK = BankDetails("ПАО Сбербанк", "30101810400000000225", None, found=True)


async def test_two_first_payers_and_two_defaults_at_once_leave_one_default(sessions, agency):
    """Two sessions at once: each locks the organization first, so one waits for the other."""
    async with sessions() as session:
        actor = await account_actor(session, AGENT[0])

    async def create(account: str) -> Payer:
        async with sessions.begin() as session:
            data = PayerIn(bik=SBER, account=account)
            return await create_payer(session, actor=actor, data=data, bank=BANK, now=T0)

    async def default(payer_id: int) -> Payer:
        async with sessions.begin() as session:
            return await make_default(session, actor=actor, payer_id=payer_id, now=T0)

    first, second = await asyncio.gather(create(SBER_ACCOUNT), create(SBER_ACCOUNT_2))
    assert sum(payer.is_default for payer in await payers_of(sessions, agency)) == 1
    for _round in range(3):
        await asyncio.gather(default(first.id), default(second.id))
        defaults = [payer.id for payer in await payers_of(sessions, agency) if payer.is_default]
        assert len(defaults) == 1


async def test_find_the_bank_says_a_liquidated_bank_cannot_be_named(agent, agency, sessions):
    reply = await agent.submit(
        "/organization/payers", {"bik": CLOSED_BIK, "account": "", "action": "bank"}
    )
    assert reply.status == 400 and 'id="error-new-bik"' in reply.text
    assert "Bank found" not in reply.text
    assert await payers_of(sessions, agency) == []


async def test_a_liquidated_bank_is_refused_naming_the_bik(agent, agency, sessions, fake_dadata):
    reply = await add(agent, bik=CLOSED_BIK, account=CLOSED_BANK_ACCOUNT)
    assert reply.status == 400 and 'id="error-new-bik"' in reply.text
    assert has_text(
        reply.text, "this bank is liquidated or being liquidated: give the BIK of another bank"
    )
    assert f'value="{CLOSED_BANK_ACCOUNT}"' in reply.text
    assert len(fake_dadata.received) == 1
    assert await payers_of(sessions, agency) == []


async def test_a_payer_with_a_treasury_account_gets_the_tofk_from_dadata(agent, agency, sessions):
    reply = await add(agent, bik=TREASURY_BIK, account=TREASURY_ACCOUNT)
    assert reply.status == 200 and reply.path == "/organization/payers", reply.text
    (payer,) = await payers_of(sessions, agency)
    assert (payer.account, payer.correspondent_account) == (
        TREASURY_ACCOUNT,
        SINGLE_TREASURY_ACCOUNT,
    )
    assert payer.bank_name == "ГУ БАНКА РОССИИ ПО ЦФО//УФК ПО Г. МОСКВЕ"
