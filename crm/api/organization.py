"""The agent's organization's payer cards and delivery addresses. An agent's key acts on its
own organization; an admin's names one with `?organization_id=`."""

from __future__ import annotations

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, json_body, path_id, query_int, respond
from crm.api.openapi import Param, operation
from crm.api.schemas import MAX_ID
from crm.organizations import addresses, payers
from crm.organizations.payers import bank_for, bank_for_edit
from crm.organizations.schemas import (
    AddressEdit,
    AddressIn,
    AddressList,
    AddressOut,
    PayerEdit,
    PayerIn,
    PayerList,
    PayerOut,
)
from crm.organizations.scope import organization_in_scope
from crm.schemas import parse
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS, url_for

routes = web.RouteTableDef()
PAYERS = V1 + "/organization/payers"
PAYER = PAYERS + r"/{payer_id:\d+}"
ADDRESSES = V1 + "/organization/addresses"
ADDRESS = ADDRESSES + r"/{address_id:\d+}"
ORGANIZATION = Param(
    "organization_id",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "Admins: the agents' organization (required for a list or a new card; an agent's key "
    "always acts on its own).",
)
WHO = (
    "Agents (their own organization's; without one, 422 naming `organization_id`: give its "
    "INN first) and admins (`organization_id`). Another organization's card answers 404."
)
BANK = (
    " The BIK (9 digits, 04…) and the current account (20 digits) are checked locally, the "
    "account's control key against the BIK, before DaData is asked for the bank "
    "(`bank_name`, `correspondent_account`, `bank_address` are DaData's; what is given is "
    "used only when DaData cannot answer, and then `bank_name` is required: 422 naming it "
    "with the reason). An unknown BIK answers 422 naming `bik`."
)


def _lookup(request: web.Request) -> payers.BankLookup:
    return payers.bank_lookup(request.config_dict[HTTP], request.config_dict[CONFIG].dadata)


def _organization_id(request: web.Request) -> int | None:
    if "organization_id" not in request.query:
        return None
    return query_int(request, "organization_id", default=0, low=1, high=MAX_ID)


@routes.get(PAYERS, name="api.organization.payers.list")
@operation(
    "The organization's payers, the default first",
    tag="organization",
    answer=PayerList,
    query=(ORGANIZATION,),
    description=WHO + " Removed ones are not listed.",
)
async def payer_list(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    async with request.config_dict[SESSIONS]() as db:
        found = await payers.list_payers(
            db, actor=actor_of(request), organization_id=organization_id
        )
        answer = PayerList(items=[PayerOut.model_validate(payer) for payer in found])
    return respond(answer)


@routes.post(PAYERS, name="api.organization.payers.create")
@operation(
    "Add a payer card",
    tag="organization",
    answer=PayerOut,
    status=201,
    body=PayerIn,
    location=True,
    query=(ORGANIZATION,),
    errors=(409,),
    description=WHO + " Name, INN and KPP default to the organization's. The first card is "
    "the default, or one sent with `is_default: true`." + BANK + " An account already "
    "among the organization's payers answers 409 naming `account`; a removed card of that "
    "account comes back (the same `id`), and when requests name it only with the details "
    "they show (else 409 naming `account`). Two at once queue: one default remains.",
)
async def payer_create(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    data = parse(PayerIn, await json_body(request))
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:  # refused before DaData is asked
        await organization_in_scope(db, actor=actor, organization_id=organization_id)
    bank = await bank_for(
        _lookup(request),
        bik=data.bik,
        name=data.bank_name,
        correspondent_account=data.correspondent_account,
        address=data.bank_address,
    )
    async with request.config_dict[SESSIONS].begin() as db:
        payer = await payers.create_payer(
            db,
            actor=actor,
            data=data,
            bank=bank,
            now=request.config_dict[CLOCK](),
            organization_id=organization_id,
        )
        answer = PayerOut.model_validate(payer)
    location = url_for(request, "api.organization.payers.get", payer_id=answer.id)
    return respond(answer, status=201, location=location)


@routes.get(PAYER, name="api.organization.payers.get")
@operation(
    "One payer card",
    tag="organization",
    answer=PayerOut,
    query=(ORGANIZATION,),
    description=WHO + " A removed card is still found here (`is_active: false`).",
)
async def payer_get(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    async with request.config_dict[SESSIONS]() as db:
        payer = await payers.get_payer(
            db,
            actor=actor_of(request),
            payer_id=path_id(request, "payer_id"),
            organization_id=organization_id,
            active=False,
        )
        answer = PayerOut.model_validate(payer)
    return respond(answer)


@routes.patch(PAYER, name="api.organization.payers.update")
@operation(
    "Edit a payer card",
    tag="organization",
    answer=PayerOut,
    body=PayerEdit,
    query=(ORGANIZATION,),
    errors=(409,),
    description=WHO + " Only the fields given change (at least one; null is refused). "
    "`is_default: true` makes it the default; `false` on the default answers 422 (make "
    "another one the default). A new BIK is looked up again; whichever of the BIK and the "
    "account changes, they must match (422 naming it)." + BANK + " A removed card answers "
    "404. A card that requests name is never changed under them: it is kept as they show it "
    "(deactivated) and the edit is answered as a new card with a new `id` (the default if "
    "the old one was); since an account appears once among the organization's cards, an "
    "edit of such a card that keeps its BIK and account answers 409 naming `account` "
    "(`is_default` alone changes it in place). Audited.",
)
async def payer_update(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    payer_id = path_id(request, "payer_id")
    data = parse(PayerEdit, await json_body(request))
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        stored = await payers.get_payer(
            db, actor=actor, payer_id=payer_id, organization_id=organization_id
        )
    bank = await bank_for_edit(_lookup(request), stored=stored, data=data)
    async with request.config_dict[SESSIONS].begin() as db:
        payer = await payers.update_payer(
            db,
            actor=actor,
            payer_id=payer_id,
            data=data,
            bank=bank,
            now=request.config_dict[CLOCK](),
            organization_id=organization_id,
        )
        answer = PayerOut.model_validate(payer)
    return respond(answer)


@routes.delete(PAYER, name="api.organization.payers.delete")
@operation(
    "Remove a payer card",
    tag="organization",
    answer=None,
    status=204,
    query=(ORGANIZATION,),
    description=WHO + " It is deactivated: gone from the choices, still shown on the "
    "requests that name it. If it was the default, the oldest other card becomes it. "
    "Removing it again changes nothing. Audited.",
)
async def payer_delete(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    async with request.config_dict[SESSIONS].begin() as db:
        await payers.deactivate_payer(
            db,
            actor=actor_of(request),
            payer_id=path_id(request, "payer_id"),
            now=request.config_dict[CLOCK](),
            organization_id=organization_id,
        )
    return web.Response(status=204)


@routes.get(ADDRESSES, name="api.organization.addresses.list")
@operation(
    "The organization's delivery addresses",
    tag="organization",
    answer=AddressList,
    query=(ORGANIZATION,),
    description=WHO + " Removed ones are not listed.",
)
async def address_list(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    async with request.config_dict[SESSIONS]() as db:
        found = await addresses.list_addresses(
            db, actor=actor_of(request), organization_id=organization_id
        )
        answer = AddressList(items=[AddressOut.model_validate(item) for item in found])
    return respond(answer)


@routes.post(ADDRESSES, name="api.organization.addresses.create")
@operation(
    "Save a delivery address",
    tag="organization",
    answer=AddressOut,
    status=201,
    body=AddressIn,
    location=True,
    query=(ORGANIZATION,),
    description=WHO + " The contact's phone is stored in E.164. Audited.",
)
async def address_create(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    data = parse(AddressIn, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        address = await addresses.create_address(
            db,
            actor=actor_of(request),
            data=data,
            now=request.config_dict[CLOCK](),
            organization_id=organization_id,
        )
        answer = AddressOut.model_validate(address)
    location = url_for(request, "api.organization.addresses.get", address_id=answer.id)
    return respond(answer, status=201, location=location)


@routes.get(ADDRESS, name="api.organization.addresses.get")
@operation(
    "One delivery address",
    tag="organization",
    answer=AddressOut,
    query=(ORGANIZATION,),
    description=WHO + " A removed one is still found here (`is_active: false`).",
)
async def address_get(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    async with request.config_dict[SESSIONS]() as db:
        address = await addresses.get_address(
            db,
            actor=actor_of(request),
            address_id=path_id(request, "address_id"),
            organization_id=organization_id,
            active=False,
        )
        answer = AddressOut.model_validate(address)
    return respond(answer)


@routes.patch(ADDRESS, name="api.organization.addresses.update")
@operation(
    "Edit a delivery address",
    tag="organization",
    answer=AddressOut,
    body=AddressEdit,
    query=(ORGANIZATION,),
    description=WHO + " Only the fields given change (at least one; null is refused; "
    '`comment: ""` clears it). A removed one answers 404. One that requests name is kept '
    "as they show it (deactivated) and the edit is answered as a new address with a new "
    "`id`. Audited.",
)
async def address_update(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    address_id = path_id(request, "address_id")
    data = parse(AddressEdit, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        address = await addresses.update_address(
            db,
            actor=actor_of(request),
            address_id=address_id,
            data=data,
            now=request.config_dict[CLOCK](),
            organization_id=organization_id,
        )
        answer = AddressOut.model_validate(address)
    return respond(answer)


@routes.delete(ADDRESS, name="api.organization.addresses.delete")
@operation(
    "Remove a delivery address",
    tag="organization",
    answer=None,
    status=204,
    query=(ORGANIZATION,),
    description=WHO + " It is deactivated: gone from the choices, still shown on the "
    "requests that name it. Removing it again changes nothing. Audited.",
)
async def address_delete(request: web.Request) -> web.Response:
    organization_id = _organization_id(request)
    async with request.config_dict[SESSIONS].begin() as db:
        await addresses.deactivate_address(
            db,
            actor=actor_of(request),
            address_id=path_id(request, "address_id"),
            now=request.config_dict[CLOCK](),
            organization_id=organization_id,
        )
    return web.Response(status=204)
