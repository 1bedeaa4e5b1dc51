"""Bank account numbers checked against the BIK with the Bank of Russia's control key
(«Порядок расчета контрольного ключа в номере лицевого счета», ЦБ РФ 08.09.1997 N 515).

The 3 digits of the bank's conventional number and the 20 of the account are weighed
7, 1, 3, 7, 1, 3, … and the sum must end in 0. The conventional number is the BIK's last
3 digits for an account at a credit institution; for one opened at a Bank of Russia
division (its BIK's digits 7–8 are "00": 000 a cash settlement centre, 001/002 other
divisions) it is "0" and the BIK's digits 5–6. A bank's correspondent account is opened at
the Bank of Russia, so it is checked the second way.
"""

from __future__ import annotations

import re

from crm.i18n import gettext as _

WEIGHTS = (7, 1, 3) * 8
KPP = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")


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


def account_matches(bik: str, account: str) -> bool:
    """Whether a 20-digit current account's control key is right for the bank of `bik`."""
    return (
        _digits(bik, 9) and _digits(account, 20) and key_matches(conventional_number(bik), account)
    )


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
    if not key_matches(conventional_number(bik, at_bank_of_russia=True), account):
        raise ValueError(_("this is not the correspondent account of the bank of this BIK"))
    return account


def check_kpp(value: str) -> str:
    """A KPP: 9 characters (4 digits, 2 digits or capital letters, 3 digits), or ''."""
    value = value.strip().upper()
    if value and not KPP.match(value):
        raise ValueError(_("a KPP is 9 digits"))
    return value
