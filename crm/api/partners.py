"""Partner companies and their managers (admins; agents may list the companies)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, json_body, page_args, path_id, respond
from crm.api.openapi import PAGING, operation
from crm.api.schemas import ManagerList, ManagerOut, OrganizationOut, OrganizationPage
from crm.organizations.service import refresh
from crm.partners.service import (
    add_manager,
    create_organization,
    get_organization,
    list_managers,
    list_partners,
    set_recording_policy,
)
from crm.schemas import ManagerIn, OrganizationIn, RecordingPolicyIn, parse
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS, url_for

routes = web.RouteTableDef()
ONE = V1 + r"/organizations/{organization_id:\d+}"
ADMINS = "Admins only."


@routes.get(f"{V1}/organizations", name="api.organizations.list")
@operation(
    "List partner companies",
    tag="organizations",
    answer=OrganizationPage,
    query=PAGING,
    description="Admins, and agents choosing whom to file a request for.",
)
async def list_(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        page = await list_partners(db, actor=actor_of(request), **page_args(request))
    return respond(OrganizationPage.model_validate(page, from_attributes=True))


@routes.post(f"{V1}/organizations", name="api.organizations.create")
@operation(
    "Add a partner company",
    tag="organizations",
    answer=OrganizationOut,
    status=201,
    body=OrganizationIn,
    location=True,
    errors=(409,),
    description=ADMINS + " Give the INN (or the OGRN), and a branch's KPP: checked here "
    "first (a typo answers 422 naming `inn` or `kpp`), then DaData fills the names, OGRN, "
    "address, head and status. When DaData cannot tell (unavailable, or the INN unknown to "
    "it), a `name` given stores the company typed by hand with `verified: false`; without "
    "one the answer is 422 naming `name` (with DaData's reason) or `inn` (unknown). An INN "
    "and KPP already stored as a partner company answers 409 naming `inn` (an agents' "
    "organization of the same INN is another record).",
)
async def create(request: web.Request) -> web.Response:
    data = parse(OrganizationIn, await json_body(request))
    organization = await create_organization(
        request.config_dict[SESSIONS],
        request.config_dict[HTTP],
        request.config_dict[CONFIG].dadata,
        actor=actor_of(request),
        data=data,
        now=datetime.now(UTC),
    )
    return respond(
        OrganizationOut.model_validate(organization),
        status=201,
        location=url_for(request, "api.organizations.get", organization_id=organization.id),
    )


@routes.get(ONE, name="api.organizations.get")
@operation("One partner company", tag="organizations", answer=OrganizationOut, description=ADMINS)
async def get(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        organization = await get_organization(
            db, actor=actor_of(request), organization_id=path_id(request, "organization_id")
        )
    return respond(OrganizationOut.model_validate(organization))


@routes.post(ONE + "/refresh", name="api.organizations.refresh")
@operation(
    "Refresh an organization from DaData",
    tag="organizations",
    answer=OrganizationOut,
    errors=(409, 422, 503),
    description="Admins any organization, agents their own once confirmed in it (404 while "
    "they wait). Every field is read again from "
    "DaData (a company typed by hand becomes verified); the audit log keeps the previous "
    "value of each changed field (an unchanged refresh: the time of the check alone). "
    "503 with code `dadata_unavailable`: DaData did not answer "
    "(the message says why); nothing changed. 422 naming `inn`: DaData knows it no more. "
    "409 naming `inn`: what DaData says is another organization stored already (a copy "
    "typed by hand is refused, not merged).",
)
async def refresh_(request: web.Request) -> web.Response:
    organization = await refresh(
        request.config_dict[SESSIONS],
        request.config_dict[HTTP],
        request.config_dict[CONFIG].dadata,
        actor=actor_of(request),
        organization_id=path_id(request, "organization_id"),
        now=request.config_dict[CLOCK](),
    )
    return respond(OrganizationOut.model_validate(organization))


@routes.get(ONE + "/managers", name="api.managers.list")
@operation(
    "A partner company's managers", tag="organizations", answer=ManagerList, description=ADMINS
)
async def managers(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        found = await list_managers(
            db, actor=actor_of(request), organization_id=path_id(request, "organization_id")
        )
        items = [ManagerOut.of(manager) for manager in found]
    return respond(ManagerList(items=items))


@routes.post(ONE + "/managers", name="api.managers.create")
@operation(
    "Add a manager to a partner company",
    tag="organizations",
    answer=ManagerOut,
    status=201,
    body=ManagerIn,
    errors=(409,),
    description=ADMINS + " Phones are stored in E.164; each may belong to one manager "
    "only (409 naming `phones`). The IVR knows a manager by them.",
)
async def add(request: web.Request) -> web.Response:
    organization_id = path_id(request, "organization_id")
    data = parse(ManagerIn, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        manager = await add_manager(
            db,
            actor=actor_of(request),
            organization_id=organization_id,
            data=data,
            now=datetime.now(UTC),
        )
    return respond(ManagerOut.of(manager, data.phones), status=201)


@routes.put(ONE + "/recording-policy", name="api.organizations.recording_policy")
@operation(
    "Record a partner company's conversations, or stop",
    tag="organizations",
    answer=OrganizationOut,
    body=RecordingPolicyIn,
    description=ADMINS
    + " `on`: from its managers' next call on, the manager hears that conversations are"
    " recorded, the client's whisper says so, and only a conversation the client accepted is"
    " kept. Audited.",
)
async def recording_policy(request: web.Request) -> web.Response:
    data = parse(RecordingPolicyIn, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        organization = await set_recording_policy(
            db,
            actor=actor_of(request),
            organization_id=path_id(request, "organization_id"),
            policy=data.recording_policy,
            now=request.config_dict[CLOCK](),
        )
    return respond(OrganizationOut.model_validate(organization))
