"""Loyalty pages: an agent's organization's points and history, and every one's for admins."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.organizations.loyalty import (
    agent_organization,
    history,
    list_standings,
    standing,
    tier_title,
)
from crm.pages import page_arg, render
from crm.web import actor_of, requires
from ivr.keys import CONFIG, SESSIONS


@requires(Role.AGENT)
async def organization_loyalty(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[CONFIG].loyalty
    context: dict = {"tier_title": tier_title, "settings": settings}
    async with request.config_dict[SESSIONS]() as db:
        organization_id = await agent_organization(db, actor=actor_of(request))
        if organization_id is not None:
            context["standing"] = await standing(
                db, organization_id=organization_id, settings=settings
            )
            context["entries"] = await history(
                db, organization_id=organization_id, page=page_arg(request)
            )
    return await render(request, "org_loyalty.html", context)


@requires(Role.ADMIN)
async def admin_loyalty(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[CONFIG].loyalty
    async with request.config_dict[SESSIONS]() as db:
        standings = await list_standings(
            db, actor=actor_of(request), settings=settings, page=page_arg(request)
        )
    context = {"standings": standings, "tier_title": tier_title, "settings": settings}
    return await render(request, "admin_loyalty.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/organization/loyalty", organization_loyalty, name="organization.loyalty")
    app.router.add_get("/admin/loyalty", admin_loyalty, name="admin.loyalty")
