"""Bank account numbers checked against the BIK with the Bank of Russia's control key
(«Порядок расчета контрольного ключа в номере лицевого счета», ЦБ РФ 08.09.1997 N 515).

The 3 digits of the bank's conventional number and the 20 of the account are weighed
7, 1, 3, 7, 1, 3, … and the sum must end in 0. The conventional number is the BIK's last
3 digits for an account at a credit institution; for one opened at a Bank of Russia
division (its BIK's digits 7–8 are "00": 000 a cash settlement centre, 001/002 other
divisions) it is "0" and the BIK's digits 5–6. A bank's correspondent account is opened at
the Bank of Russia, so it is checked the second way.

A territorial body of the Federal Treasury (TOFK, its BIK starting 00 or 01) holds treasury
accounts (03…), which the Treasury numbers without that key: at a TOFK an account is one when
it is 20 digits starting 03, and no other kind is opened there. The TOFK's "correspondent
account" is the single treasury account (40102…), opened at the Bank of Russia and keyed the
second way (e.g. БИК 004525988, ЕКС 40102810545370000003: 0, 25 and the account weigh 190).
"""

from __future__ import annotations

from crm.dadata import KPP
from crm.i18n import gettext as _

WEIGHTS = (7, 1, 3) * 8
TREASURY_BIKS = ("00", "01")
TREASURY_ACCOUNT = "03"
SINGLE_TREASURY_ACCOUNT = "40102"
CORRESPONDENT_ACCOUNT = "30101"
"""How a bank's correspondent account at the Bank of Russia begins."""


def _digits(value: str, count: int) -> bool:
    return len(value) == count and value.isascii() and value.isdigit()


def key_matches(conventional: str, account: str) -> bool:
    """Whether the 23 digits (conventional number + account) weigh to a multiple of 10."""
    digits = conventional + account
    return (
        sum(int(digit) * weight for digit, weight in zip(digits, WEIGHTS, strict=False)) % 10 == 0
    )


def conventional_number(bik: str, *, at_bank_of_russia: bool = False) -> str:
    """The 3 digits an account number is checked with: the bank's, or the division's."""
    if at_bank_of_russia or bik[6:8] == "00":
        return "0" + bik[4:6]
    return bik[6:9]


def is_treasury(bik: str) -> bool:
    """Whether the BIK is a territorial body of the Federal Treasury's (TOFK)."""
    return bik[:2] in TREASURY_BIKS


def account_matches(bik: str, account: str) -> bool:
    """Whether a 20-digit current account's control key is right for the bank of `bik`; at
    the Treasury, whether it is a treasury account (03…, numbered without the key)."""
    if not (_digits(bik, 9) and _digits(account, 20)):
        return False
    if is_treasury(bik):
        return account.startswith(TREASURY_ACCOUNT)
    return key_matches(conventional_number(bik), account)


def clean_account(value: str) -> str:
    """An account number without spaces, if it is 20 digits; else ValueError."""
    account = value.strip().replace(" ", "")
    if not _digits(account, 20):
        raise ValueError(_("a current account is 20 digits"))
    return account


def check_account(bik: str, account: str) -> str:
    """The 20-digit current account, its control key right for `bik`; else ValueError."""
    account = clean_account(account)
    if not account_matches(bik, account):
        raise ValueError(
            _("this account does not belong to the bank of this BIK (its control key is wrong)")
        )
    return account


def check_correspondent_account(bik: str, account: str) -> str:
    """A bank's 20-digit correspondent account, its control key right for `bik`."""
    account = account.strip().replace(" ", "")
    if not _digits(account, 20):
        raise ValueError(_("a correspondent account is 20 digits"))
    # The Treasury's single account at the Bank of Russia, or a bank's correspondent one.
    prefix = SINGLE_TREASURY_ACCOUNT if is_treasury(bik) else CORRESPONDENT_ACCOUNT
    if not account.startswith(prefix) or not key_matches(
        conventional_number(bik, at_bank_of_russia=True), account
    ):
        raise ValueError(_("this is not the correspondent account of the bank of this BIK"))
    return account


def check_kpp(value: str) -> str:
    """A KPP: 9 characters (4 digits, 2 digits or capital letters, 3 digits), or ''."""
    value = value.strip().upper()
    if value and not KPP.match(value):
        raise ValueError(_("a KPP is 9 digits"))
    return value
