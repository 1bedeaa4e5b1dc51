"""Admin pages: partner companies with their managers, and agents."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from crm.enums import RecordingPolicy, Role
from crm.errors import Invalid
from crm.i18n import gettext as _
from crm.organizations import membership
from crm.organizations.service import main_of
from crm.organizations.views import refreshed
from crm.pages import field_errors, flash, page_arg, render
from crm.partners.service import (
    add_manager,
    create_agent,
    create_organization,
    get_organization,
    list_agents,
    list_organizations,
    manager_logins,
    set_recording_policy,
)
from crm.schemas import AgentIn, ManagerIn, OrganizationIn, parse
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CONFIG, HTTP, SESSIONS

PHONE_SEPARATORS = re.compile(r"[\n,;]+")
ORGANIZATION = r"/admin/organizations/{organization_id:\d{1,9}}"


async def _organizations(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        organizations = await list_organizations(
            db, actor=actor_of(request), page=page_arg(request)
        )
    values, errors = values or {}, errors or {}
    by_hand = not request.config_dict[CONFIG].dadata.api_key or "name" in errors
    context = {
        "organizations": organizations,
        "values": values,
        "errors": errors,
        "by_hand": by_hand or bool(values.get("name")),
    }
    return await render(request, "admin_organizations.html", context, status=status)


@requires(Role.ADMIN)
async def organization_list(request: web.Request) -> web.StreamResponse:
    return await _organizations(request)


@requires(Role.ADMIN)
async def organization_create(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    values = {name: form.get(name, "") for name in ("inn", "kpp", "name")}
    try:
        data = parse(OrganizationIn, values)
        organization = await create_organization(
            request.config_dict[SESSIONS],
            request.config_dict[HTTP],
            request.config_dict[CONFIG].dadata,
            actor=actor_of(request),
            data=data,
            now=datetime.now(UTC),
        )
    except Invalid as invalid:
        return await _organizations(
            request, values=values, errors=field_errors(invalid), status=400
        )
    message = _("%(name)s added. Now add its managers and their phones.")
    await flash(request, message % {"name": organization.name})
    raise redirect(request, "admin.organization", organization_id=organization.id)


@requires(Role.ADMIN)
async def organization_refresh(request: web.Request) -> web.StreamResponse:
    organization_id = int(request.match_info["organization_id"])
    async with request.config_dict[SESSIONS]() as db:
        await get_organization(db, actor=actor_of(request), organization_id=organization_id)
    await flash(request, await refreshed(request, organization_id=organization_id))
    raise redirect(request, "admin.organization", organization_id=organization_id)


async def _organization(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    edit: dict[str, Any] | None = None,
    organization_id: int | None = None,
) -> web.Response:
    """The company's page; `edit`: the edit form to show open, with what was typed in it."""
    actor = actor_of(request)
    organization_id = organization_id or int(request.match_info["organization_id"])
    async with request.config_dict[SESSIONS]() as db:
        organization = await get_organization(db, actor=actor, organization_id=organization_id)
        logins = await manager_logins(db, actor=actor, organization_id=organization_id)
        head = await main_of(db, organization)
    return await render(
        request,
        "admin_organization.html",
        {
            "organization": organization,
            "head": head,
            "logins": logins,
            "values": values or {},
            "errors": errors or {},
            "edit": edit or {},
        },
        status=status,
    )


@requires(Role.ADMIN)
async def organization_page(request: web.Request) -> web.StreamResponse:
    return await _organization(request)


@requires(Role.ADMIN)
async def manager_create(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    organization_id = int(request.match_info["organization_id"])
    form = await form_data(request)
    values = {name: form.get(name, "").strip() for name in ("name", "phones", "email")}
    password = form.get("password", "")
    phones = [phone for phone in PHONE_SEPARATORS.split(values["phones"]) if phone.strip()]
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            await get_organization(db, actor=actor, organization_id=organization_id)
            if not phones:
                raise Invalid.one("phones", _("give at least one phone number"))
            if values["email"] and not password:
                raise Invalid.one("password", _("give a password too, or leave the email empty"))
            if password and not values["email"]:
                raise Invalid.one("email", _("give an email too, or leave the password empty"))
            data = parse(
                ManagerIn, {"name": values["name"], "phones": phones, "email": values["email"]}
            )
            manager = await add_manager(
                db,
                actor=actor,
                organization_id=organization_id,
                data=data,
                now=datetime.now(UTC),
                password=password or None,
            )
    except Invalid as invalid:
        return await _organization(request, values=values, errors=field_errors(invalid), status=400)
    await flash(request, _("Manager %(name)s added.") % {"name": manager.name})
    raise redirect(request, "admin.organization", organization_id=organization_id)


@requires(Role.ADMIN)
async def organization_recording(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    organization_id = int(request.match_info["organization_id"])
    value = form.get("recording_policy", "")
    if value not in set(RecordingPolicy):
        return await _organization(
            request, errors={"recording_policy": _("choose on or off")}, status=400
        )
    async with request.config_dict[SESSIONS].begin() as db:
        organization = await set_recording_policy(
            db,
            actor=actor_of(request),
            organization_id=organization_id,
            policy=RecordingPolicy(value),
            now=datetime.now(UTC),
        )
    if organization.recording_policy is RecordingPolicy.ON:
        message = _("Conversations are recorded from the next call on; both sides are told.")
    else:
        message = _("Conversations are no longer recorded from the next call on.")
    await flash(request, message)
    raise redirect(request, "admin.organization", organization_id=organization_id)


async def _agents(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    edit: dict[str, Any] | None = None,
) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        agents = await list_agents(db, actor=actor_of(request), page=page_arg(request))
        names = await membership.organization_names(db, agents.items)
    return await render(
        request,
        "admin_agents.html",
        {
            "agents": agents,
            "organization_names": names,
            "values": values or {},
            "errors": errors or {},
            "edit": edit or {},
        },
        status=status,
    )


@requires(Role.ADMIN)
async def agent_membership(request: web.Request) -> web.StreamResponse:
    """Confirm an agent waiting in the organization they joined by its INN, or refuse them."""
    accept = request.match_info["verb"] == "confirm"
    decide = membership.confirm if accept else membership.refuse
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            agent = await decide(
                db,
                actor=actor_of(request),
                agent_id=int(request.match_info["agent_id"]),
                now=datetime.now(UTC),
            )
    except Invalid as invalid:
        await flash(request, "; ".join(invalid.errors.values()))
        raise redirect(request, "admin.agents") from None
    if accept:
        message = _("%(name)s is a member of the organization now.")
    else:
        message = _("%(name)s was refused and left the organization.")
    await flash(request, message % {"name": agent.name})
    raise redirect(request, "admin.agents")


@requires(Role.ADMIN)
async def agent_list(request: web.Request) -> web.StreamResponse:
    return await _agents(request)


@requires(Role.ADMIN)
async def agent_create(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    values = {"name": form.get("name", ""), "email": form.get("email", "")}
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            agent = await create_agent(
                db,
                actor=actor_of(request),
                data=parse(AgentIn, {**values, "password": form.get("password", "")}),
                now=datetime.now(UTC),
            )
    except Invalid as invalid:
        return await _agents(request, values=values, errors=field_errors(invalid), status=400)
    message = _("Agent %(name)s added; they log in as %(email)s.")
    await flash(request, message % {"name": agent.name, "email": agent.email})
    raise redirect(request, "admin.agents")


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/admin/organizations", organization_list, name="admin.organizations")
    router.add_post("/admin/organizations", organization_create, name="admin.organizations.create")
    router.add_get(ORGANIZATION, organization_page, name="admin.organization")
    router.add_post(ORGANIZATION + "/managers", manager_create, name="admin.managers.create")
    router.add_get("/admin/agents", agent_list, name="admin.agents")
    router.add_post("/admin/agents", agent_create, name="admin.agents.create")
    router.add_post(
        r"/admin/agents/{agent_id:\d{1,9}}/organization/{verb:confirm|refuse}",
        agent_membership,
        name="admin.agent.membership",
    )
    router.add_post(
        ORGANIZATION + "/refresh", organization_refresh, name="admin.organization.refresh"
    )
    app.router.add_post(
        ORGANIZATION + "/recording-policy",
        organization_recording,
        name="admin.organization.recording",
    )
