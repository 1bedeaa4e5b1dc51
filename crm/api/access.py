"""Taking access away, and giving it back (admins only): partner companies, managers, a
manager's phones, agents and logins are deactivated, never deleted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from crm.api.auth import actor_of
from crm.api.http import V1, json_body, path_id, respond
from crm.api.openapi import operation
from crm.api.schemas import AgentOut, ManagerOut, OrganizationOut, UserOut
from crm.partners import access
from crm.partners.service import manager_with_phones
from crm.schemas import PhoneIn, parse
from ivr.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()
ADMINS = "Admins only. Audited; doing it twice changes nothing."
CUTS = {
    "organization": " Deactivating cuts every one of its managers off the line (an unknown "
    "caller from the next call, no new dial in a call in progress) and signs out their logins.",
    "manager": " Deactivating cuts them off the line (an unknown caller from the next call, "
    "no new dial in a call in progress) and signs out their login; their keys stop working.",
    "phone": " Deactivating makes calls from that number unknown callers.",
    "agent": " Deactivating signs out their login and stops their keys; their requests stay "
    "(close them to stop the partner's calls).",
    "user": " Deactivating signs the login out on its next request and stops its keys; an "
    "admin cannot deactivate their own (422 naming `user_id`).",
}


def _pair(
    path: str,
    name: str,
    entity: str,
    answer: type[BaseModel],
    change: Callable[[web.Request, Any, bool], Awaitable[BaseModel]],
    *,
    body: type[BaseModel] | None = None,
) -> None:
    """The `…/deactivate` and `…/reactivate` routes of one kind of record."""
    for verb, active in (("deactivate", False), ("reactivate", True)):

        async def handler(request: web.Request, active: bool = active) -> web.Response:
            async with request.config_dict[SESSIONS].begin() as db:
                answered = await change(request, db, active)
            return respond(answered)

        summary = f"{verb.capitalize()} a{'n' if entity[0] in 'aeiou' else ''} {entity}"
        described = operation(
            summary,
            tag="access",
            answer=answer,
            body=body,
            errors=(422,) if entity in ("phone", "user") else (),
            description=ADMINS + (CUTS[entity] if not active else ""),
        )(handler)
        routes.post(f"{path}/{verb}", name=f"api.{name}.{verb}")(described)


async def _organization(request: web.Request, db: Any, active: bool) -> OrganizationOut:
    organization = await access.set_organization_active(
        db,
        actor=actor_of(request),
        organization_id=path_id(request, "organization_id"),
        active=active,
        now=request.config_dict[CLOCK](),
    )
    return OrganizationOut.model_validate(organization)


async def _manager(request: web.Request, db: Any, active: bool) -> ManagerOut:
    manager_id = path_id(request, "manager_id")
    await access.set_manager_active(
        db,
        actor=actor_of(request),
        manager_id=manager_id,
        active=active,
        now=request.config_dict[CLOCK](),
    )
    return ManagerOut.of(await manager_with_phones(db, manager_id=manager_id))


async def _phone(request: web.Request, db: Any, active: bool) -> ManagerOut:
    manager_id = path_id(request, "manager_id")
    data = parse(PhoneIn, await json_body(request))
    await access.set_phone_active(
        db,
        actor=actor_of(request),
        manager_id=manager_id,
        phone=data.phone,
        active=active,
        now=request.config_dict[CLOCK](),
    )
    return ManagerOut.of(await manager_with_phones(db, manager_id=manager_id))


async def _agent(request: web.Request, db: Any, active: bool) -> AgentOut:
    agent = await access.set_agent_active(
        db,
        actor=actor_of(request),
        agent_id=path_id(request, "agent_id"),
        active=active,
        now=request.config_dict[CLOCK](),
    )
    return AgentOut.model_validate(agent)


async def _user(request: web.Request, db: Any, active: bool) -> UserOut:
    user = await access.set_user_active(
        db,
        actor=actor_of(request),
        user_id=path_id(request, "user_id"),
        active=active,
        now=request.config_dict[CLOCK](),
    )
    return UserOut.model_validate(user)


_pair(
    V1 + r"/organizations/{organization_id:\d+}",
    "organizations",
    "organization",
    OrganizationOut,
    _organization,
)
_pair(V1 + r"/managers/{manager_id:\d+}", "managers", "manager", ManagerOut, _manager)
_pair(
    V1 + r"/managers/{manager_id:\d+}/phones",
    "managers.phones",
    "phone",
    ManagerOut,
    _phone,
    body=PhoneIn,
)
_pair(V1 + r"/agents/{agent_id:\d+}", "agents", "agent", AgentOut, _agent)
_pair(V1 + r"/users/{user_id:\d+}", "users", "user", UserOut, _user)
