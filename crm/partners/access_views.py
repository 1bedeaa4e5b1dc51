"""Admin pages' buttons that take access away and give it back (the rules: `access.py`)."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Manager
from crm.pages import flash
from crm.partners import access
from crm.schemas import PhoneIn, parse
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CLOCK, SESSIONS

ORGANIZATION = r"/admin/organizations/{organization_id:\d{1,9}}"
MANAGER = r"/admin/managers/{manager_id:\d{1,9}}"
AGENT = r"/admin/agents/{agent_id:\d{1,9}}"


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


def _active(request: web.Request) -> bool:
    return request.match_info["verb"] == "reactivate"


@requires(Role.ADMIN)
async def organization_access(request: web.Request) -> web.StreamResponse:
    organization_id, active = _id(request, "organization_id"), _active(request)
    form = await form_data(request)
    if not active and form.get("confirm") != "yes":
        await flash(request, _("Tick “Yes, deactivate the company” to cut its managers off."))
        raise redirect(request, "admin.organization", organization_id=organization_id)
    async with request.config_dict[SESSIONS].begin() as db:
        organization = await access.set_organization_active(
            db,
            actor=actor_of(request),
            organization_id=organization_id,
            active=active,
            now=request.config_dict[CLOCK](),
        )
    if active:
        message = _("%(name)s is active again: its managers can call.")
        await flash(request, message % {"name": organization.name})
    else:
        message = _("%(name)s is deactivated: none of its managers can call or sign in.")
        await flash(request, message % {"name": organization.name})
    raise redirect(request, "admin.organization", organization_id=organization_id)


@requires(Role.ADMIN)
async def manager_access(request: web.Request) -> web.StreamResponse:
    active = _active(request)
    async with request.config_dict[SESSIONS].begin() as db:
        manager = await access.set_manager_active(
            db,
            actor=actor_of(request),
            manager_id=_id(request, "manager_id"),
            active=active,
            now=request.config_dict[CLOCK](),
        )
    if active:
        await flash(request, _("%(name)s is active again.") % {"name": manager.name})
    else:
        message = _("%(name)s is deactivated: an unknown caller from the next call on.")
        await flash(request, message % {"name": manager.name})
    raise redirect(request, "admin.organization", organization_id=manager.organization_id)


@requires(Role.ADMIN)
async def phone_access(request: web.Request) -> web.StreamResponse:
    active, form = _active(request), await form_data(request)
    phone = form.get("phone", "")
    try:
        phone = parse(PhoneIn, {"phone": phone}).phone
        async with request.config_dict[SESSIONS].begin() as db:
            found = await access.set_phone_active(
                db,
                actor=actor_of(request),
                manager_id=_id(request, "manager_id"),
                phone=phone,
                active=active,
                now=request.config_dict[CLOCK](),
            )
            manager = await db.get(Manager, found.manager_id)
    except Invalid as invalid:  # a stale page: the number moved or changed meanwhile
        await flash(request, f"{phone}: {invalid.errors['phone']}.")
        raise redirect(request, "admin.organizations") from None
    if manager is None:  # the phone's row names its manager: never None in practice
        raise NotFound(f"manager {found.manager_id}")
    if active:
        message = _("%(phone)s works again.")
    else:
        message = _("%(phone)s is deactivated: calls from it are unknown callers.")
    await flash(request, message % {"phone": phone})
    raise redirect(request, "admin.organization", organization_id=manager.organization_id)


@requires(Role.ADMIN)
async def agent_access(request: web.Request) -> web.StreamResponse:
    active = _active(request)
    async with request.config_dict[SESSIONS].begin() as db:
        agent = await access.set_agent_active(
            db,
            actor=actor_of(request),
            agent_id=_id(request, "agent_id"),
            active=active,
            now=request.config_dict[CLOCK](),
        )
    if active:
        message = _("%(name)s is active again.")
    else:
        message = _("%(name)s is deactivated and signed out.")
    await flash(request, message % {"name": agent.name})
    raise redirect(request, "admin.agents")


VERB = "{verb:deactivate|reactivate}"


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{ORGANIZATION}/{VERB}", organization_access, name="admin.org.access")
    app.router.add_post(f"{MANAGER}/{VERB}", manager_access, name="admin.manager.access")
    app.router.add_post(f"{MANAGER}/phones/{VERB}", phone_access, name="admin.phone.access")
    app.router.add_post(f"{AGENT}/{VERB}", agent_access, name="admin.agent.access")
