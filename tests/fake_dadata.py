"""A local stand-in for DaData's API (`findById/party`, `findById/bank`), in its documented
shape: `{"suggestions": [{"value", "unrestricted_value", "data": {…}}]}`.

It knows a legal entity with a branch, a sole proprietor, a liquidated company, a company
reorganized into a new record under the same INN (the old, liquidated one listed first), two
banks, a liquidated bank and a territorial body of the Treasury; any other number is unknown
(an empty list). It checks the `Authorization: Token`
header, keeps every request it received, and can be told to answer the next requests with
an HTTP error or not at all.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

KEY = "test-dadata-key"


def ms(day: str) -> int:
    """DaData's dates: milliseconds since 1970."""
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def party(
    *,
    inn: str,
    kpp: str | None,
    ogrn: str,
    full: str,
    short: str,
    address: str,
    status: str = "ACTIVE",
    kind: str = "LEGAL",
    branch: str = "MAIN",
    head: tuple[str, str] | None = None,
    fio: tuple[str, str, str] | None = None,
    liquidated: str | None = None,
    registered: str = "2002-08-16",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kpp": kpp,
        "capital": None,
        "management": {"name": head[0], "post": head[1], "disqualified": None} if head else None,
        "founders": None,
        "branch_type": branch,
        "branch_count": 0,
        "type": kind,
        "state": {
            "status": status,
            "code": None,
            "actuality_date": ms("2026-11-01"),
            "registration_date": ms(registered),
            "liquidation_date": ms(liquidated) if liquidated else None,
        },
        "opf": {"type": "2014", "code": "12267", "full": "", "short": ""},
        "name": {
            "full_with_opf": full,
            "short_with_opf": short,
            "latin": None,
            "full": full,
            "short": short,
        },
        "inn": inn,
        "ogrn": ogrn,
        "okpo": None,
        "okved": "64.19",
        "ogrn_date": ms("2002-08-16"),
        "hid": f"hid-{inn}-{kpp or 'ip'}",
        "address": {"value": address, "unrestricted_value": "101000, " + address, "data": {}},
        "phones": None,
        "emails": None,
    }
    if fio:
        data["fio"] = {"surname": fio[0], "name": fio[1], "patronymic": fio[2]}
    return {"value": short, "unrestricted_value": short, "data": data}


SBER = party(
    inn="7707083893",
    kpp="773601001",
    ogrn="1027700132195",
    full='ПУБЛИЧНОЕ АКЦИОНЕРНОЕ ОБЩЕСТВО "СБЕРБАНК РОССИИ"',
    short="ПАО СБЕРБАНК",
    address="г Москва, ул Вавилова, д 19",
    head=("Греф Герман Оскарович", "ПРЕЗИДЕНТ, ПРЕДСЕДАТЕЛЬ ПРАВЛЕНИЯ"),
)
SBER_SIBERIA = party(
    inn="7707083893",
    kpp="540602001",
    ogrn="1027700132195",
    full='СИБИРСКИЙ БАНК ПАО "СБЕРБАНК РОССИИ"',
    short="СИБИРСКИЙ БАНК ПАО СБЕРБАНК",
    address="г Новосибирск, ул Серебренниковская, д 20",
    branch="BRANCH",
)
SOLE = party(
    inn="771234567859",
    kpp=None,
    ogrn="304500116000157",
    full="Индивидуальный предприниматель Иванова Анна Сергеевна",
    short="ИП Иванова Анна Сергеевна",
    address="г Москва, ул Тверская, д 1",
    kind="INDIVIDUAL",
    fio=("Иванова", "Анна", "Сергеевна"),
)
CLOSED = party(
    inn="7712345671",
    kpp="771201001",
    ogrn="1147746123458",
    full='ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ "ЗАКРЫТО"',
    short='ООО "ЗАКРЫТО"',
    address="г Москва, ул Лесная, д 5",
    status="LIQUIDATED",
    head=("Петров Пётр Петрович", "ГЕНЕРАЛЬНЫЙ ДИРЕКТОР"),
    liquidated="2025-06-30",
)
REORGANIZED_INN = "7705432108"
REORGANIZED_OLD = party(
    inn=REORGANIZED_INN,
    kpp="770501001",
    ogrn="1027700123450",
    full='ЗАКРЫТОЕ АКЦИОНЕРНОЕ ОБЩЕСТВО "ПРЕЖНЕЕ"',
    short='ЗАО "ПРЕЖНЕЕ"',
    address="г Москва, ул Садовая, д 2",
    status="LIQUIDATED",
    liquidated="2016-03-01",
)
REORGANIZED_NEW = party(
    inn=REORGANIZED_INN,
    kpp="770501001",
    ogrn="1167746123456",
    full='АКЦИОНЕРНОЕ ОБЩЕСТВО "НОВОЕ"',
    short='АО "НОВОЕ"',
    address="г Москва, ул Садовая, д 2",
    registered="2016-03-01",
)
UNKNOWN_INN = "5001007329"
"""Check digits right, known to no register."""


def bank(
    bik: str,
    name: str,
    correspondent: str,
    address: str,
    *,
    status: str = "ACTIVE",
    kind: str = "BANK",
    treasury: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "value": name,
        "unrestricted_value": name,
        "data": {
            "opf": {"type": kind, "full": None, "short": None},
            "name": {"payment": name, "full": None, "short": name},
            "bic": bik,
            "swift": None,
            "inn": "7707083893",
            "kpp": "773601001",
            "registration_number": "1481",
            "correspondent_account": correspondent,
            "treasury_accounts": treasury,
            "payment_city": "г. Москва",
            "state": {"status": status, "actuality_date": ms("2026-11-01")},
            "rkc": None,
            "cbr": None,
            "address": {"value": address, "unrestricted_value": address, "data": None},
            "phones": None,
        },
    }


CLOSED_BIK = "044525999"
CLOSED_BANK_ACCOUNT = "40702810400000000777"
"""Its control key right for CLOSED_BIK."""
TREASURY_BIK = "004525988"
SINGLE_TREASURY_ACCOUNT = "40102810545370000003"
TREASURY_ACCOUNT = "03100643000000017300"
BANKS = {
    "044525225": bank(
        "044525225", "ПАО Сбербанк", "30101810400000000225", "г Москва, ул Вавилова, д 19"
    ),
    "044525974": bank(
        "044525974", 'АО "ТБанк"', "30101810145250000974", "г Москва, ул Хуторская 2-я, д 38А"
    ),
    CLOSED_BIK: bank(
        CLOSED_BIK,
        'АО "БАНК ЗАКРЫТ"',
        "30101810000000000999",
        "г Москва, ул Лесная, д 7",
        status="LIQUIDATED",
    ),
    TREASURY_BIK: bank(
        TREASURY_BIK,
        "ГУ БАНКА РОССИИ ПО ЦФО//УФК ПО Г. МОСКВЕ",
        SINGLE_TREASURY_ACCOUNT,
        "г Москва, ул Большая Якиманка, д 6",
        kind="TREASURY",
        treasury=[TREASURY_ACCOUNT],
    ),
}


@dataclass
class FakeDadata:
    key: str = KEY
    url: str = ""
    parties: list[dict[str, Any]] = field(
        default_factory=lambda: [
            SBER,
            SBER_SIBERIA,
            SOLE,
            CLOSED,
            REORGANIZED_OLD,
            REORGANIZED_NEW,
        ]
    )
    banks: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(BANKS))
    received: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    """(path, headers, JSON body) of every request, in order."""
    failures: list[tuple[int, str]] = field(default_factory=list)
    """(HTTP status, DaData's reason) for the next requests (status 0: no answer at all)."""
    odd: list[Any] = field(default_factory=list)
    """Bodies answered with 200 to the next requests, whatever they asked."""

    def fail_next(self, status: int, reason: str = "Forbidden") -> None:
        self.failures.append((status, reason))

    def answer_next(self, body: Any) -> None:
        self.odd.append(body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/findById/party", self._party)
        app.router.add_post("/findById/bank", self._bank)
        return app

    async def _answer(self, request: web.Request) -> dict[str, Any] | web.Response:
        body = json.loads(await request.text() or "null")
        self.received.append((request.path, dict(request.headers), body))
        if self.failures:
            status, reason = self.failures.pop(0)
            if status == 0:
                await asyncio.Event().wait()  # never set: the client's timeout ends the wait
            return web.json_response({"family": "CLIENT_ERROR", "reason": reason}, status=status)
        if self.odd:
            return web.json_response(self.odd.pop(0))
        if request.headers.get("Authorization") != f"Token {self.key}":
            return web.json_response({"family": "CLIENT_ERROR", "reason": "Forbidden"}, status=403)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return web.json_response(
                {"family": "CLIENT_ERROR", "reason": "Bad Request"}, status=400
            )
        return body

    async def _party(self, request: web.Request) -> web.Response:
        body = await self._answer(request)
        if isinstance(body, web.Response):
            return body
        query = body["query"]
        found = [p for p in self.parties if query in (p["data"]["inn"], p["data"]["ogrn"])]
        if body.get("kpp"):
            found = [p for p in found if p["data"]["kpp"] == body["kpp"]]
        if body.get("branch_type"):
            found = [p for p in found if p["data"]["branch_type"] == body["branch_type"]]
        return web.json_response({"suggestions": found})

    async def _bank(self, request: web.Request) -> web.Response:
        body = await self._answer(request)
        if isinstance(body, web.Response):
            return body
        found = self.banks.get(body["query"])
        return web.json_response({"suggestions": [found] if found else []})
