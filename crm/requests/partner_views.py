"""The partner manager's page: the company's open requests, without the client's contacts."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.pages import page_arg, render
from crm.requests.service import partner_requests
from crm.web import actor_of, requires
from ivr.keys import SESSIONS


@requires(Role.MANAGER)
async def open_requests(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[SESSIONS]() as db:
        rows = await partner_requests(db, actor=actor_of(request), page=page_arg(request))
    return await render(request, "partner_requests.html", {"requests": rows})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/partner/requests", open_requests, name="partner.requests")
