"""DaData's API over the shared HTTP client: an organization by INN or OGRN, a bank by BIK.

`POST {base_url}/findById/party` and `…/findById/bank` with `Authorization: Token <key>`,
answered `{"suggestions": [{"value", "unrestricted_value", "data": {…}}]}`. Numbers are
checked locally first (`check_inn`, `check_ogrn`, `check_bik`), so a typo never costs a
request; an answer is reused for `dadata.cache_seconds` (`crm.dadata_cache`) unless asked
`fresh`. Of several records for one number the active one is read, then the newest; a KPP
or an OGRN out of its format is left out. Whatever keeps DaData from answering (no key,
down, slow, over quota) is one `DadataUnavailable` with its reason, which the pages say
plainly before the person fills the fields by hand.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar, cast

import aiohttp
import structlog
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ru import inn as ru_inn
from stdnum.ru import ogrn as ru_ogrn

from crm.dadata_cache import memory_of
from crm.enums import BranchType, PartyStatus, PartyType
from crm.i18n import N_, gettext
from ivr.config import DadataConfig

log = structlog.get_logger("crm.dadata")
KPP = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")
"""The Federal Tax Service's KPP: 4 digits, 2 digits or capital Latin letters, 3 digits."""
T = TypeVar("T")


@dataclass(frozen=True)
class Party:
    """What DaData knows of an organization (the head office, or the branch of a KPP)."""

    inn: str
    kpp: str | None
    ogrn: str | None
    ogrn_date: date | None
    type: PartyType
    full_name: str
    short_name: str
    address: str | None
    head_name: str | None
    head_post: str | None
    status: PartyStatus | None
    """None: DaData gave no status it is known to give."""
    registered_on: date | None
    liquidated_on: date | None
    status_date: date | None
    hid: str | None
    branch_type: BranchType


@dataclass(frozen=True)
class Bank:
    bik: str
    name: str
    correspondent_account: str | None
    address: str | None
    status: PartyStatus | None = None


class Reason(StrEnum):
    NO_KEY = "no_key"
    REFUSED = "refused"
    OVER_QUOTA = "over_quota"
    BUSY = "busy"
    DOWN = "down"
    SLOW = "slow"


REASONS = {
    Reason.NO_KEY: N_("The organization register is not connected (no DaData key)."),
    Reason.REFUSED: N_("The organization register refused the request (check the DaData key)."),
    Reason.OVER_QUOTA: N_("The organization register's daily limit is used up."),
    Reason.BUSY: N_("The organization register is busy right now. Try again in a moment."),
    Reason.DOWN: N_("The organization register is not answering right now."),
    Reason.SLOW: N_("The organization register took too long to answer."),
}


class DadataUnavailable(Exception):
    """DaData gave no answer to use; `message` says why in the reader's language."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason

    @property
    def message(self) -> str:
        return gettext(REASONS[self.reason])


def check_inn(value: str) -> str:
    """The INN with right check digits (10 or 12 digits), else ValueError saying so."""
    try:
        return str(ru_inn.validate(value.strip()))
    except StdnumError:
        raise ValueError(
            gettext("this is not a valid INN (10 or 12 digits with check digits)")
        ) from None


def check_ogrn(value: str) -> str:
    """The OGRN (13 digits) or OGRNIP (15) with a right check digit, else ValueError."""
    try:
        return str(ru_ogrn.validate(value.strip()))
    except StdnumError:
        raise ValueError(
            gettext("this is not a valid OGRN (13 digits, or 15 for a sole proprietor)")
        ) from None


BIKS = ("04", "00", "01")
"""A BIK's first two digits: a bank (04), a territorial body of the Treasury (00, 01)."""


def check_bik(value: str) -> str:
    """A BIK: 9 digits starting with 04 (a Russian bank), or 00 or 01 (a territorial body
    of the Federal Treasury), else ValueError."""
    value = value.strip()
    if not (len(value) == 9 and value.isascii() and value.isdigit() and value[:2] in BIKS):
        raise ValueError(
            gettext("a BIK is 9 digits starting with 04, or 00 or 01 for the Treasury")
        )
    return value


async def find_party(
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    *,
    number: str,
    kpp: str | None = None,
    fresh: bool = False,
) -> Party | None:
    """The organization of a checked INN or OGRN: its head office, or with `kpp` that branch;
    None when DaData knows none. `fresh`: asked of DaData even when an answer is kept."""
    body: dict[str, Any] = {"query": number}
    if kpp:
        body["kpp"] = kpp
    else:
        body["branch_type"] = "MAIN"

    def read(found: list[dict[str, Any]]) -> Party | None:
        best = _best(found, kpp=kpp)
        return _party(best["data"]) if best else None

    return await _remembered(http, settings, "party", body, read, fresh=fresh)


async def find_bank(
    http: aiohttp.ClientSession, settings: DadataConfig, *, bik: str, fresh: bool = False
) -> Bank | None:
    """The bank of a checked BIK, or None when DaData knows none."""

    def read(found: list[dict[str, Any]]) -> Bank | None:
        best = _best(found)
        return _bank(best, bik) if best else None

    return await _remembered(http, settings, "bank", {"query": bik}, read, fresh=fresh)


async def _remembered(
    http: aiohttp.ClientSession,
    settings: DadataConfig,
    kind: str,
    body: dict[str, Any],
    read: Callable[[list[dict[str, Any]]], T],
    *,
    fresh: bool,
) -> T:
    """DaData's answer read, or the one kept for the same question; a fresh one is kept."""
    memory = memory_of(http)
    key = (settings.base_url, kind, json.dumps(body, sort_keys=True))
    kept = None if fresh or not settings.cache_seconds else memory.recall(key)
    if kept is not None:
        log.debug("dadata_remembered", kind=kind)
        return cast(T, kept.value)
    answer = read(await _find(http, settings, kind, body))
    seconds = settings.cache_seconds if answer is not None else NOT_FOUND_SECONDS
    memory.keep(key, answer, seconds=min(settings.cache_seconds, seconds))
    return answer


NOT_FOUND_SECONDS = 300
""""No such INN" is kept this long at most: a company registered today is found soon."""


def _best(found: list[dict[str, Any]], *, kpp: str | None = None) -> dict[str, Any] | None:
    """The record to read of several for one number (a company reorganized, or registered
    again, keeps its old record): the one of the KPP asked for, the active one, the head
    office (a branch may share its KPP), then the newest; DaData's order on a tie."""
    return max(found, key=lambda suggestion: _rank(suggestion, kpp), default=None)


def _rank(suggestion: dict[str, Any], kpp: str | None) -> tuple[bool, bool, bool, float, float]:
    data = suggestion["data"]
    state = data.get("state")
    state = state if isinstance(state, dict) else {}
    return (
        not kpp or data.get("kpp") == kpp,
        state.get("status") == "ACTIVE",
        data.get("branch_type") == "MAIN",
        _moment(state.get("registration_date")),
        _moment(state.get("actuality_date")),
    )


def _moment(value: Any) -> float:
    """A date of DaData's for comparing: -inf when it gives none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return float("-inf")


async def _find(
    http: aiohttp.ClientSession, settings: DadataConfig, kind: str, body: dict[str, Any]
) -> list[dict[str, Any]]:
    if not settings.api_key:
        raise DadataUnavailable(Reason.NO_KEY)
    headers = {
        "Authorization": f"Token {settings.api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    url = f"{settings.base_url}/findById/{kind}"
    try:
        async with asyncio.timeout(settings.timeout_seconds):
            async with http.post(url, json=body, headers=headers) as response:
                if response.status in (401, 403):
                    # DaData answers 403 both for a wrong key and for a used-up daily limit.
                    said = (await response.text())[:500].lower()
                    limit = any(word in said for word in ("limit", "quota", "disabled"))
                    raise DadataUnavailable(Reason.OVER_QUOTA if limit else Reason.REFUSED)
                if response.status == 429:
                    raise DadataUnavailable(Reason.BUSY)
                if response.status != 200:
                    raise DadataUnavailable(Reason.DOWN)
                answer = await response.json(content_type=None)
    except TimeoutError:
        log.warning("dadata_slow", kind=kind, seconds=settings.timeout_seconds)
        raise DadataUnavailable(Reason.SLOW) from None
    except (aiohttp.ClientError, ValueError) as error:
        log.warning("dadata_down", kind=kind, error=type(error).__name__)
        raise DadataUnavailable(Reason.DOWN) from None
    suggestions = answer.get("suggestions") if isinstance(answer, dict) else None
    if not isinstance(suggestions, list):
        log.warning("dadata_unreadable", kind=kind)
        raise DadataUnavailable(Reason.DOWN)
    return [
        item
        for item in suggestions
        if isinstance(item, dict) and isinstance(item.get("data"), dict)
    ]


def _party(data: dict[str, Any]) -> Party:
    """A suggestion's `data` as a Party; DadataUnavailable when it is not in DaData's shape."""
    try:
        return _read_party(data)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        log.warning("dadata_unreadable", kind="party", error=type(error).__name__)
        raise DadataUnavailable(Reason.DOWN) from None


def _read_party(data: dict[str, Any]) -> Party:
    names = _object(data.get("name"))
    state = _object(data.get("state"))
    management = _object(data.get("management"))
    inn = _string(data["inn"], 12)
    if not inn:
        raise ValueError("no inn")
    individual = data.get("type") == "INDIVIDUAL"
    head_name = _string(management.get("name"), 300)
    if individual and not head_name:
        fio = _object(data.get("fio"))
        parts = (fio.get("surname"), fio.get("name"), fio.get("patronymic"))
        head_name = _string(" ".join(str(part) for part in parts if part), 300)
    full = _string(names.get("full_with_opf"), 500) or _string(names.get("short_with_opf"), 500)
    short = _string(names.get("short_with_opf"), 300) or _string(full, 300)
    ogrn = _ogrn(data.get("ogrn"), inn=inn)
    return Party(
        inn=inn,
        kpp=_kpp(data.get("kpp"), inn=inn),
        ogrn=ogrn,
        ogrn_date=_day(data.get("ogrn_date")) if ogrn else None,
        type=PartyType.INDIVIDUAL if individual else PartyType.LEGAL,
        full_name=full or inn,
        short_name=short or inn,
        address=_text(data.get("address")),
        head_name=head_name,
        head_post=_string(management.get("post"), 300),
        status=_status(state.get("status")),
        registered_on=_day(state.get("registration_date")),
        liquidated_on=_day(state.get("liquidation_date")),
        status_date=_day(state.get("actuality_date")),
        hid=_string(data.get("hid"), 100),
        branch_type=BranchType.BRANCH if data.get("branch_type") == "BRANCH" else BranchType.MAIN,
    )


def _bank(suggestion: dict[str, Any], bik: str) -> Bank:
    try:
        data = _object(suggestion["data"])
        names = _object(data.get("name"))
        return Bank(
            bik=_string(data.get("bic"), 9) or bik,
            name=_string(names.get("payment"), 300) or _string(suggestion.get("value"), 300) or "",
            correspondent_account=_string(data.get("correspondent_account"), 20),
            address=_text(data.get("address")),
            status=_status(_object(data.get("state")).get("status")),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        log.warning("dadata_unreadable", kind="bank", error=type(error).__name__)
        raise DadataUnavailable(Reason.DOWN) from None


def _object(value: Any) -> dict[str, Any]:
    """A nested object of the answer: {} when it is missing or null."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("not an object")
    return value


def _string(value: Any, limit: int) -> str | None:
    """A text field of the answer, cut to its column's length; None when empty."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value).strip()
    return text[:limit] or None


def _kpp(value: Any, *, inn: str) -> str | None:
    """The register's KPP when it is in the tax service's format; None (left out) if not."""
    kpp = _string(value, 20)
    if kpp and not KPP.match(kpp):
        log.warning("dadata_bad_kpp", inn=inn, kpp=kpp)
        return None
    return kpp


def _ogrn(value: Any, *, inn: str) -> str | None:
    """The register's OGRN when its check digit is right; None (left out) if not."""
    ogrn = _string(value, 20)
    if ogrn and not ru_ogrn.is_valid(ogrn):
        log.warning("dadata_bad_ogrn", inn=inn, ogrn=ogrn)
        return None
    return ogrn


def _status(value: Any) -> PartyStatus | None:
    """The organization's status; None (not known) when DaData gives none we know."""
    if value is None:
        return None
    try:
        return PartyStatus(str(value).lower())
    except ValueError:
        log.warning("dadata_unknown_status", status=str(value)[:40])
        return None


def _day(value: Any) -> date | None:
    """DaData's dates are milliseconds since 1970 (UTC); None for anything else."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def _text(address: Any) -> str | None:
    if isinstance(address, dict):
        return _string(address.get("unrestricted_value") or address.get("value"), 2000)
    return _string(address, 2000) if isinstance(address, str) else None
