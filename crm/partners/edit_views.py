"""Admin pages' edit forms: a partner company, a manager and their phones, an agent (the
rules: `editing.py`). A refused edit shows its form again, open, with what was typed."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Manager
from crm.pages import field_errors, flash
from crm.partners import editing
from crm.partners.views import _agents, _organization
from crm.schemas import AgentEdit, ManagerEdit, OrganizationEdit, PhoneIn, parse
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CLOCK, SESSIONS

ORGANIZATION = r"/admin/organizations/{organization_id:\d{1,9}}"
MANAGER = r"/admin/managers/{manager_id:\d{1,9}}"
AGENT = r"/admin/agents/{agent_id:\d{1,9}}"


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


def _typed(form: dict[str, str], *names: str) -> dict[str, str]:
    """The form's fields among `names` (a manager without a login sends no email)."""
    return {name: form[name].strip() for name in names if name in form}


def _refused(form: str, values: dict[str, str], invalid: Invalid) -> dict[str, object]:
    return {"form": form, "values": values, "errors": field_errors(invalid)}


async def _organization_of(request: web.Request, manager_id: int) -> int:
    async with request.config_dict[SESSIONS]() as db:
        manager = await db.get(Manager, manager_id)
    if manager is None:
        raise NotFound(f"manager {manager_id}")
    return manager.organization_id


@requires(Role.ADMIN)
async def organization_edit(request: web.Request) -> web.StreamResponse:
    organization_id = _id(request, "organization_id")
    values = _typed(await form_data(request), "name", "inn")
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            organization = await editing.update_organization(
                db,
                actor=actor_of(request),
                organization_id=organization_id,
                data=parse(OrganizationEdit, values),
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        edit = _refused("organization", values, invalid)
        return await _organization(request, edit=edit, status=400)
    await flash(request, _("%(name)s: changes saved.") % {"name": organization.name})
    raise redirect(request, "admin.organization", organization_id=organization_id)


@requires(Role.ADMIN)
async def manager_edit(request: web.Request) -> web.StreamResponse:
    manager_id = _id(request, "manager_id")
    values = _typed(await form_data(request), "name", "email")
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            manager = await editing.update_manager(
                db,
                actor=actor_of(request),
                manager_id=manager_id,
                data=parse(ManagerEdit, values),
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        organization_id = await _organization_of(request, manager_id)
        edit = _refused(f"manager-{manager_id}", values, invalid)
        return await _organization(request, edit=edit, status=400, organization_id=organization_id)
    await flash(request, _("%(name)s: changes saved.") % {"name": manager.name})
    raise redirect(request, "admin.organization", organization_id=manager.organization_id)


@requires(Role.ADMIN)
async def phone_add(request: web.Request) -> web.StreamResponse:
    manager_id = _id(request, "manager_id")
    values = _typed(await form_data(request), "phone")
    try:
        phone = parse(PhoneIn, values).phone
        async with request.config_dict[SESSIONS].begin() as db:
            await editing.add_manager_phone(
                db,
                actor=actor_of(request),
                manager_id=manager_id,
                phone=phone,
                now=request.config_dict[CLOCK](),
            )
            manager = await db.get(Manager, manager_id)
    except Invalid as invalid:
        organization_id = await _organization_of(request, manager_id)
        edit = _refused(f"phone-{manager_id}", values, invalid)
        return await _organization(request, edit=edit, status=400, organization_id=organization_id)
    if manager is None:  # the phone was just added to it: never None in practice
        raise NotFound(f"manager {manager_id}")
    message = _("%(phone)s added to the numbers of %(name)s.")
    await flash(request, message % {"phone": phone, "name": manager.name})
    raise redirect(request, "admin.organization", organization_id=manager.organization_id)


@requires(Role.ADMIN)
async def agent_edit(request: web.Request) -> web.StreamResponse:
    agent_id = _id(request, "agent_id")
    values = _typed(await form_data(request), "name", "email")
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            agent = await editing.update_agent(
                db,
                actor=actor_of(request),
                agent_id=agent_id,
                data=parse(AgentEdit, values),
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        return await _agents(
            request, edit=_refused(f"agent-{agent_id}", values, invalid), status=400
        )
    await flash(request, _("%(name)s: changes saved.") % {"name": agent.name})
    raise redirect(request, "admin.agents")


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{ORGANIZATION}/edit", organization_edit, name="admin.organization.edit")
    app.router.add_post(f"{MANAGER}/edit", manager_edit, name="admin.manager.edit")
    app.router.add_post(f"{MANAGER}/phones", phone_add, name="admin.manager.phones.add")
    app.router.add_post(f"{AGENT}/edit", agent_edit, name="admin.agent.edit")
