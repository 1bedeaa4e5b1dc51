"""The DaData client against a fake DaData server: what it asks, what it reads, when it gives up."""

from __future__ import annotations

from datetime import date

import pytest

from crm import i18n
from crm.dadata import (
    NOT_FOUND_SECONDS,
    Bank,
    DadataUnavailable,
    Reason,
    _best,
    check_bik,
    check_inn,
    check_ogrn,
    find_bank,
    find_party,
)
from crm.dadata_cache import remember_with
from crm.enums import BranchType, PartyStatus, PartyType
from crm.organizations.lookup import lookup
from ivr.config import DadataConfig
from tests.fake_dadata import (
    CLOSED_BIK,
    KEY,
    REORGANIZED_INN,
    SBER,
    TREASURY_BIK,
    UNKNOWN_INN,
    FakeDadata,
    party,
)
from tests.signup_helpers import Clock

pytest_plugins = ("tests.dadata_fixtures",)


@pytest.fixture
def settings(fake_dadata: FakeDadata) -> DadataConfig:
    return DadataConfig(base_url=fake_dadata.url, api_key=KEY, timeout_seconds=0.5)


async def test_a_company_is_read_whole_and_asked_for_its_head_office(http, fake_dadata, settings):
    found = await find_party(http, settings, number="7707083893")
    assert found is not None
    assert (found.inn, found.kpp, found.ogrn) == ("7707083893", "773601001", "1027700132195")
    assert found.type is PartyType.LEGAL and found.branch_type is BranchType.MAIN
    assert found.short_name == "ПАО СБЕРБАНК" and "СБЕРБАНК РОССИИ" in found.full_name
    assert found.head_name == "Греф Герман Оскарович" and found.head_post
    assert found.address == "101000, г Москва, ул Вавилова, д 19"
    assert found.status is PartyStatus.ACTIVE and found.ogrn_date == date(2002, 8, 16)
    assert found.hid == "hid-7707083893-773601001"
    ((path, headers, body),) = fake_dadata.received
    assert path == "/findById/party" and headers["Authorization"] == f"Token {KEY}"
    assert body == {"query": "7707083893", "branch_type": "MAIN"}


async def test_a_branch_is_found_by_its_kpp(http, fake_dadata, settings):
    found = await find_party(http, settings, number="7707083893", kpp="540602001")
    assert found is not None and found.branch_type is BranchType.BRANCH
    assert found.kpp == "540602001" and "СИБИРСКИЙ" in found.short_name
    assert fake_dadata.received[0][2] == {"query": "7707083893", "kpp": "540602001"}


async def test_a_sole_proprietor_is_headed_by_themselves(http, settings):
    found = await find_party(http, settings, number="771234567859")
    assert found is not None and found.type is PartyType.INDIVIDUAL and found.kpp is None
    assert found.head_name == "Иванова Анна Сергеевна"


async def test_a_liquidated_company_says_so_with_its_date(http, settings):
    found = await find_party(http, settings, number=check_ogrn("1147746123458"))  # by OGRN
    assert found is not None and found.status is PartyStatus.LIQUIDATED
    assert found.liquidated_on == date(2025, 6, 30)


async def test_an_unknown_number_is_none(http, settings):
    assert await find_party(http, settings, number=UNKNOWN_INN) is None


async def test_a_bank_is_found_by_its_bik(http, fake_dadata, settings):
    found = await find_bank(http, settings, bik="044525225")
    assert found is not None and found.name == "ПАО Сбербанк"
    assert found.correspondent_account == "30101810400000000225"
    assert fake_dadata.received[-1][:1] == ("/findById/bank",)
    assert fake_dadata.received[-1][2] == {"query": "044525225"}
    assert await find_bank(http, settings, bik="049999999") is None


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, Reason.REFUSED),
        (401, Reason.REFUSED),
        (429, Reason.BUSY),
        (500, Reason.DOWN),
        (502, Reason.DOWN),
        (0, Reason.SLOW),
    ],
)
async def test_a_refusing_or_silent_register_is_one_plain_error(
    http, fake_dadata, settings, status, reason
):
    fake_dadata.fail_next(status)
    with pytest.raises(DadataUnavailable) as raised:
        await find_party(http, settings, number="7707083893")
    assert raised.value.reason is reason
    with i18n.reading("ru"):
        assert "реестр" in raised.value.message.lower()


async def test_a_used_up_daily_limit_is_told_apart_from_a_wrong_key(http, fake_dadata, settings):
    fake_dadata.fail_next(403, "Daily limit exceeded")
    with pytest.raises(DadataUnavailable) as raised:
        await find_party(http, settings, number="7707083893")
    assert raised.value.reason is Reason.OVER_QUOTA


ODD_ANSWERS = [
    {"suggestions": [{"value": "x", "data": "not an object"}]},
    {"suggestions": [{"value": "x", "data": {"kpp": "1"}}]},
    {"suggestions": [{"value": "x", "data": {"inn": "7707083893", "name": "a string"}}]},
    {"suggestions": [{"value": "x", "data": {"inn": "7707083893", "state": [1]}}]},
    {"suggestions": "none"},
    ["a list"],
    None,
]


@pytest.mark.parametrize("body", ODD_ANSWERS)
async def test_an_answer_out_of_shape_is_a_register_not_answering(
    http, fake_dadata, settings, body
):
    fake_dadata.answer_next(body)
    try:
        found = await find_party(http, settings, number="7707083893")
    except DadataUnavailable as error:
        assert error.reason is Reason.DOWN
    else:
        assert found is None  # nothing usable in it


async def test_odd_values_are_cut_to_size_or_left_out(http, fake_dadata, settings):
    data = {
        "inn": 7707083893,
        "kpp": "773601001",
        "name": {"short_with_opf": "Б" * 1000, "full_with_opf": None},
        "management": {"name": "Г" * 1000, "post": None},
        "ogrn_date": 1e20,
        "state": {"status": "SOMETHING_NEW", "registration_date": "yesterday"},
        "hid": "h" * 500,
    }
    fake_dadata.answer_next({"suggestions": [{"value": "x", "data": data}]})
    found = await find_party(http, settings, number="7707083893")
    assert found is not None and found.inn == "7707083893"
    assert len(found.short_name) == 300 and len(found.head_name or "") == 300
    assert found.ogrn_date is None and found.registered_on is None
    assert found.status is None and found.hid is not None and len(found.hid) == 100


async def test_a_wrong_key_is_refused(http, fake_dadata):
    wrong = DadataConfig(base_url=fake_dadata.url, api_key="not-the-key")
    with pytest.raises(DadataUnavailable) as raised:
        await find_party(http, wrong, number="7707083893")
    assert raised.value.reason is Reason.REFUSED


async def test_without_a_key_nothing_is_asked(http, fake_dadata):
    keyless = DadataConfig(base_url=fake_dadata.url, api_key="")
    with pytest.raises(DadataUnavailable) as raised:
        await find_party(http, keyless, number="7707083893")
    assert raised.value.reason is Reason.NO_KEY and fake_dadata.received == []


async def test_a_closed_port_is_down(http):
    closed = DadataConfig(base_url="http://127.0.0.1:9", api_key=KEY, timeout_seconds=2)
    with pytest.raises(DadataUnavailable) as raised:
        await find_party(http, closed, number="7707083893")
    assert raised.value.reason is Reason.DOWN


@pytest.mark.parametrize("typo", ["7707083894", "770708389", "77070838931", "abc", ""])
def test_a_mistyped_inn_is_refused_locally(typo):
    with pytest.raises(ValueError, match="INN"):
        check_inn(typo)


def test_numbers_with_right_check_digits_pass():
    assert check_inn(" 7707083893 ") == "7707083893"
    assert check_inn("771234567859") == "771234567859"
    assert check_ogrn("1027700132195") == "1027700132195"
    assert check_ogrn("304500116000157") == "304500116000157"
    assert check_bik("044525225") == "044525225"
    for wrong in ("1027700132196", "12345"):
        with pytest.raises(ValueError, match="OGRN"):
            check_ogrn(wrong)
    for wrong in ("14525225", "144525225", "04452522X"):
        with pytest.raises(ValueError, match="BIK"):
            check_bik(wrong)


async def test_of_a_reorganized_company_the_active_record_is_read(http, fake_dadata, settings):
    listed = [p["data"]["ogrn"] for p in fake_dadata.parties if p["data"]["inn"] == REORGANIZED_INN]
    assert listed == ["1027700123450", "1167746123456"]  # the liquidated record comes first
    found = await find_party(http, settings, number=REORGANIZED_INN)
    assert found is not None and found.status is PartyStatus.ACTIVE
    assert (found.ogrn, found.short_name) == ("1167746123456", 'АО "НОВОЕ"')
    assert found.registered_on == date(2016, 3, 1)


def record(ogrn: str, short: str, *, registered: str, status: str = "ACTIVE") -> dict:
    return party(
        inn=REORGANIZED_INN,
        kpp="770501001",
        ogrn=ogrn,
        full=short,
        short=short,
        address="г Москва",
        status=status,
        registered=registered,
    )


async def test_of_several_active_records_the_newest_is_read(http, fake_dadata, settings):
    older = record("1027700123450", "OLDER", registered="2002-08-16")
    newer = record("1207700123454", "NEWER", registered="2020-05-01")
    closed = record("1167746123456", "CLOSED", registered="2024-01-01", status="LIQUIDATED")
    fake_dadata.answer_next({"suggestions": [older, closed, newer]})
    found = await find_party(http, settings, number=REORGANIZED_INN)
    assert found is not None and found.short_name == "NEWER"


@pytest.mark.parametrize("kpp", ["77050100", "7705010011", "7705ab001", "7705Ж1001", "77A501001"])
async def test_a_malformed_kpp_from_the_register_is_left_out_and_the_rest_kept(
    http, fake_dadata, settings, kpp
):
    fake_dadata.answer_next({"suggestions": [{**SBER, "data": {**SBER["data"], "kpp": kpp}}]})
    found = await find_party(http, settings, number="7707083893")
    assert found is not None and found.kpp is None
    assert (found.ogrn, found.short_name) == ("1027700132195", "ПАО СБЕРБАНК")


async def test_a_kpp_with_capital_latin_letters_is_kept(http, fake_dadata, settings):
    fake_dadata.answer_next(
        {"suggestions": [{**SBER, "data": {**SBER["data"], "kpp": "7736AB001"}}]}
    )
    found = await find_party(http, settings, number="7707083893")
    assert found is not None and found.kpp == "7736AB001"


@pytest.mark.parametrize("ogrn", ["1027700132196", "102770013219", "abc"])
async def test_an_ogrn_failing_its_check_digit_is_left_out_and_the_rest_kept(
    http, fake_dadata, settings, ogrn
):
    fake_dadata.answer_next({"suggestions": [{**SBER, "data": {**SBER["data"], "ogrn": ogrn}}]})
    found = await find_party(http, settings, number="7707083893")
    assert found is not None and found.ogrn is None and found.ogrn_date is None
    assert (found.kpp, found.short_name) == ("773601001", "ПАО СБЕРБАНК")


async def test_a_bank_says_whether_it_is_liquidated(http, settings):
    closed = await find_bank(http, settings, bik=CLOSED_BIK)
    assert closed is not None and closed.status is PartyStatus.LIQUIDATED
    working = await find_bank(http, settings, bik="044525225")
    assert working is not None and working.status is PartyStatus.ACTIVE


async def test_a_treasury_bik_is_checked_and_found(http, settings):
    assert check_bik(TREASURY_BIK) == TREASURY_BIK
    assert check_bik("017003983") == "017003983"
    found = await find_bank(http, settings, bik=TREASURY_BIK)
    assert isinstance(found, Bank) and found.correspondent_account == "40102810545370000003"


@pytest.fixture
def clock(http) -> Clock:
    clock = Clock()
    remember_with(http, clock)
    return clock


def party_requests(fake: FakeDadata) -> int:
    return sum(path == "/findById/party" for path, _, _ in fake.received)


async def test_the_same_inn_again_is_answered_from_memory_until_its_time_is_up(
    http, fake_dadata, settings, clock
):
    first = await find_party(http, settings, number="7707083893")
    clock.advance(settings.cache_seconds - 1)
    again = await find_party(http, settings, number="7707083893")
    assert again == first and len(fake_dadata.received) == 1
    await find_party(http, settings, number="7707083893", kpp="540602001")  # another question
    assert len(fake_dadata.received) == 2
    clock.advance(1)
    assert await find_party(http, settings, number="7707083893") == first
    assert party_requests(fake_dadata) == 3


async def test_an_unknown_number_and_a_bank_are_remembered_too(http, fake_dadata, settings, clock):
    for _ in range(2):
        assert await find_party(http, settings, number=UNKNOWN_INN) is None
        assert await find_bank(http, settings, bik="044525225") is not None
    assert [path for path, _, _ in fake_dadata.received] == ["/findById/party", "/findById/bank"]
    clock.advance(NOT_FOUND_SECONDS)  # "no such INN" is asked again sooner than an answer
    assert await find_party(http, settings, number=UNKNOWN_INN) is None
    assert await find_bank(http, settings, bik="044525225") is not None
    assert party_requests(fake_dadata) == 2 and len(fake_dadata.received) == 3


@pytest.mark.parametrize("failure", [500, 429, 403, 0])
async def test_an_error_is_never_remembered(http, fake_dadata, settings, clock, failure):
    fake_dadata.fail_next(failure)
    with pytest.raises(DadataUnavailable):
        await find_party(http, settings, number="7707083893")
    assert await find_party(http, settings, number="7707083893") is not None
    assert await find_party(http, settings, number="7707083893") is not None
    assert len(fake_dadata.received) == 2


async def test_an_answer_out_of_shape_is_not_remembered(http, fake_dadata, settings, clock):
    fake_dadata.answer_next({"suggestions": [{"value": "x", "data": {"kpp": "1"}}]})
    with pytest.raises(DadataUnavailable):
        await find_party(http, settings, number="7707083893")
    assert await find_party(http, settings, number="7707083893") is not None
    assert len(fake_dadata.received) == 2


async def test_no_cache_seconds_asks_every_time(http, fake_dadata, clock):
    uncached = DadataConfig(base_url=fake_dadata.url, api_key=KEY, cache_seconds=0)
    for _ in range(3):
        await find_bank(http, uncached, bik="044525225")
    assert len(fake_dadata.received) == 3


async def test_a_fresh_lookup_always_asks_and_is_remembered(http, fake_dadata, settings, clock):
    await lookup(http, settings, number="7707083893")
    await lookup(http, settings, number="7707083893", fresh=True)
    await lookup(http, settings, number="7707083893", fresh=True)
    assert len(fake_dadata.received) == 3
    await lookup(http, settings, number="7707083893")
    assert len(fake_dadata.received) == 3


def test_with_a_kpp_the_record_of_that_kpp_and_the_head_office_come_first():
    def record(kpp: str, branch: str, registered: int) -> dict:
        state = {"status": "ACTIVE", "registration_date": registered}
        return {"data": {"kpp": kpp, "branch_type": branch, "state": state}}

    head, branch, other = record("770401001", "MAIN", 1), record("770401001", "BRANCH", 9), None
    other = record("540602001", "BRANCH", 5)
    assert _best([branch, head, other], kpp="770401001") is head
    assert _best([branch, head, other], kpp="540602001") is other
