"""Editing partner companies, managers and their phones, agents and logins (admins only):
partial bodies, only the fields given change; answers as the GETs and creations do."""

from __future__ import annotations

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, json_body, path_id, respond
from crm.api.openapi import operation
from crm.api.schemas import AgentOut, ManagerOut, OrganizationOut, UserOut
from crm.partners import editing
from crm.partners.service import manager_with_phones
from crm.schemas import AgentEdit, ManagerEdit, OrganizationEdit, PhoneIn, UserEdit, parse
from ivr.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()
ADMINS = (
    "Admins only. Only the fields given change (at least one; null is refused, an unknown "
    "field answers 422 naming it). Audited with each changed field's old and new value; "
    "whether it is active is not changed here (`…/deactivate`, `…/reactivate`)."
)
EMAIL = " An email another account has answers 409 naming `email`."


@routes.patch(V1 + r"/organizations/{organization_id:\d+}", name="api.organizations.update")
@operation(
    "Edit a partner company",
    tag="organizations",
    answer=OrganizationOut,
    body=OrganizationEdit,
    errors=(409,),
    description=ADMINS + " The INN is checked as on creation; one another company has "
    "answers 409 naming `inn`. A new INN clears what DaData said of the old one (KPP, "
    "OGRN, address, head, status…): `verified: false` until a refresh.",
)
async def organization(request: web.Request) -> web.Response:
    data = parse(OrganizationEdit, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        found = await editing.update_organization(
            db,
            actor=actor_of(request),
            organization_id=path_id(request, "organization_id"),
            data=data,
            now=request.config_dict[CLOCK](),
        )
    return respond(OrganizationOut.model_validate(found))


@routes.patch(V1 + r"/managers/{manager_id:\d+}", name="api.managers.update")
@operation(
    "Edit a manager",
    tag="organizations",
    answer=ManagerOut,
    body=ManagerEdit,
    errors=(409,),
    description=ADMINS + " A new name is their web login's too; `email` is their web "
    "login's (422 naming it when they have none)." + EMAIL,
)
async def manager(request: web.Request) -> web.Response:
    manager_id = path_id(request, "manager_id")
    data = parse(ManagerEdit, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        await editing.update_manager(
            db,
            actor=actor_of(request),
            manager_id=manager_id,
            data=data,
            now=request.config_dict[CLOCK](),
        )
        answer = ManagerOut.of(await manager_with_phones(db, manager_id=manager_id))
    return respond(answer)


@routes.post(V1 + r"/managers/{manager_id:\d+}/phones", name="api.managers.phones.add")
@operation(
    "Add a phone number to a manager",
    tag="organizations",
    answer=ManagerOut,
    status=201,
    body=PhoneIn,
    errors=(409,),
    description="Admins only. Audited. Stored in E.164; the IVR knows the manager by it "
    "from its next call on. Another manager's number, or one already theirs, answers 409 "
    "naming `phone`; one of theirs that was deactivated is reactivated.",
)
async def phone(request: web.Request) -> web.Response:
    manager_id = path_id(request, "manager_id")
    data = parse(PhoneIn, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        await editing.add_manager_phone(
            db,
            actor=actor_of(request),
            manager_id=manager_id,
            phone=data.phone,
            now=request.config_dict[CLOCK](),
        )
        answer = ManagerOut.of(await manager_with_phones(db, manager_id=manager_id))
    return respond(answer, status=201)


@routes.patch(V1 + r"/agents/{agent_id:\d+}", name="api.agents.update")
@operation(
    "Edit an agent",
    tag="people",
    answer=AgentOut,
    body=AgentEdit,
    errors=(409,),
    description=ADMINS + " Their web login's name and email change with them." + EMAIL,
)
async def agent(request: web.Request) -> web.Response:
    data = parse(AgentEdit, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        found = await editing.update_agent(
            db,
            actor=actor_of(request),
            agent_id=path_id(request, "agent_id"),
            data=data,
            now=request.config_dict[CLOCK](),
        )
    return respond(AgentOut.model_validate(found))


@routes.patch(V1 + r"/users/{user_id:\d+}", name="api.users.update")
@operation(
    "Edit a web login",
    tag="people",
    answer=UserOut,
    body=UserEdit,
    errors=(409,),
    description=ADMINS + " Any role; the role itself is not editable. The agent or manager "
    "the login is changes with it." + EMAIL,
)
async def user(request: web.Request) -> web.Response:
    data = parse(UserEdit, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        found = await editing.update_user(
            db,
            actor=actor_of(request),
            user_id=path_id(request, "user_id"),
            data=data,
            now=request.config_dict[CLOCK](),
        )
    return respond(UserOut.model_validate(found))
