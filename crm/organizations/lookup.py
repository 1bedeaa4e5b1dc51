"""An organization's number checked here first, then looked up at DaData (`crm.dadata`).

A typo in an INN, OGRN or KPP is refused naming the field and never costs a request.
"""

from __future__ import annotations

import aiohttp
import structlog

from crm.dadata import KPP, DadataUnavailable, Party, check_inn, check_ogrn, find_party
from crm.enums import BranchType
from crm.errors import Invalid
from crm.i18n import gettext as _
from ivr.config import DadataConfig

log = structlog.get_logger("crm.organizations")


def checked_number(value: str) -> str:
    """An INN (10 or 12 digits) or an OGRN (13 or 15) with right check digits; ValueError
    saying what is wrong otherwise."""
    value = value.strip()
    if len(value) in (13, 15):
        return check_ogrn(value)
    return check_inn(value)


def checked_kpp(value: str | None) -> str | None:
    """A KPP (9 characters: 4 digits, 2 digits or letters, 3 digits), None when blank."""
    value = (value or "").strip().upper()
    if not value:
        return None
    if not KPP.match(value):
        raise ValueError(_("a KPP is 9 characters: 4 digits, 2 digits or letters, 3 digits"))
    return value


def is_inn(number: str) -> bool:
    return len(number) in (10, 12)


def checked(number: str, kpp: str | None) -> tuple[str, str | None]:
    """The number and the KPP checked; Invalid naming `inn` or `kpp` for a typo."""
    try:
        number = checked_number(number)
    except ValueError as error:
        raise Invalid.one("inn", str(error)) from None
    try:
        kpp = checked_kpp(kpp)
    except ValueError as error:
        raise Invalid.one("kpp", str(error)) from None
    if kpp and len(number) in (12, 15):
        raise Invalid.one("kpp", _("a sole proprietor has no KPP: leave it empty"))
    return number, kpp


async def lookup(
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    *,
    number: str,
    kpp: str | None = None,
    fresh: bool = False,
) -> Party | None:
    """What DaData knows of an INN or OGRN (the head office, or the branch of `kpp`); None
    when it knows none. Invalid for a typo (no request made); DadataUnavailable when DaData
    gives no answer. `fresh` (a refresh): DaData is asked even when an answer is kept."""
    number, kpp = checked(number, kpp)
    return await find_party(http, settings, number=number, kpp=kpp, fresh=fresh)


async def head_office(
    http: aiohttp.ClientSession | None,
    settings: DadataConfig | None,
    *,
    party: Party,
    fresh: bool = False,
) -> Party | None:
    """The head office of a branch as DaData says; None when not a branch, or not known now
    (the branch is linked at its next refresh)."""
    if party.branch_type is not BranchType.BRANCH or http is None or settings is None:
        return None
    try:
        found = await find_party(http, settings, number=party.inn, fresh=fresh)
    except DadataUnavailable as unavailable:
        log.warning("head_office_unknown", inn=party.inn, reason=unavailable.reason.value)
        return None
    return found if found is not None and found.branch_type is BranchType.MAIN else None
