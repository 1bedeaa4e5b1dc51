"""Client pages: the agent's list with search, create, edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from crm.clients.service import (
    SORTS,
    client_labels,
    create_client,
    get_client,
    list_clients,
    lookup_clients,
    update_client,
)
from crm.enums import Role
from crm.errors import Invalid
from crm.i18n import gettext as _
from crm.pages import field_errors, flash, int_or_none, page_arg, render
from crm.partners.service import agent_choices
from crm.schemas import ClientIn, parse
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import SESSIONS

FIELDS = ("first_name", "last_name", "phone", "email", "street", "house", "postal_code", "city")


@requires(Role.AGENT, Role.ADMIN)
async def client_list(request: web.Request) -> web.StreamResponse:
    search = request.query.get("q", "").strip()[:200]
    sort = SORTS.or_default(request.query.get("sort"))
    async with request.config_dict[SESSIONS]() as db:
        clients = await list_clients(
            db, actor=actor_of(request), search=search or None, sort=sort, page=page_arg(request)
        )
    filtered = {"q": search} if search else {}
    sorting = {} if sort == SORTS.default else {"sort": sort.value}
    context = {
        "clients": clients,
        "search": search,
        "sort": sort,
        "sorting": sorting,
        "filtered": filtered,
        "query": {**filtered, **sorting},
    }
    return await render(request, "clients_list.html", context)


@requires(Role.AGENT, Role.ADMIN)
async def client_lookup(request: web.Request) -> web.StreamResponse:
    """At most 20 of the actor's clients matching `q`, as ids and labels (no phone, no email)."""
    search = request.query.get("q", "").strip()[:200]
    async with request.config_dict[SESSIONS]() as db:
        found = await lookup_clients(db, actor=actor_of(request), search=search or None)
        labels = await client_labels(db, actor=actor_of(request), clients=found)
    items = [{"id": client.id, "label": labels[client.id]} for client in found]
    return web.json_response({"items": items})


async def _form(
    request: web.Request,
    *,
    values: dict[str, str],
    client_id: int | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    actor = actor_of(request)
    agents = []
    if client_id is None and actor.role is Role.ADMIN:
        async with request.config_dict[SESSIONS]() as db:
            agents = await agent_choices(db, actor=actor)
    context: dict[str, Any] = {
        "values": values,
        "errors": errors or {},
        "client_id": client_id,
        "agents": agents,
    }
    return await render(request, "client_form.html", context, status=status)


@requires(Role.AGENT, Role.ADMIN)
async def client_new(request: web.Request) -> web.StreamResponse:
    return await _form(request, values={})


@requires(Role.AGENT, Role.ADMIN)
async def client_create(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await form_data(request)
    values = {name: form.get(name, "") for name in FIELDS}
    try:
        data = parse(ClientIn, values)
        async with request.config_dict[SESSIONS].begin() as db:
            client = await create_client(
                db,
                actor=actor,
                data=data,
                now=datetime.now(UTC),
                agent_id=int_or_none(form.get("agent_id")),
            )
    except Invalid as invalid:
        values["agent_id"] = form.get("agent_id", "")
        return await _form(request, values=values, errors=field_errors(invalid), status=400)
    await flash(
        request,
        _("Client %(first_name)s %(last_name)s added.")
        % {"first_name": client.first_name, "last_name": client.last_name},
    )
    raise redirect(request, "clients.list")


@requires(Role.AGENT, Role.ADMIN)
async def client_edit(request: web.Request) -> web.StreamResponse:
    client_id = int(request.match_info["client_id"])
    async with request.config_dict[SESSIONS]() as db:
        client = await get_client(db, actor=actor_of(request), client_id=client_id)
    values = {name: getattr(client, name) or "" for name in FIELDS}
    return await _form(request, values=values, client_id=client_id)


@requires(Role.AGENT, Role.ADMIN)
async def client_update(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    client_id = int(request.match_info["client_id"])
    form = await form_data(request)
    values = {name: form.get(name, "") for name in FIELDS}
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            await get_client(db, actor=actor, client_id=client_id)  # someone else's: 404 first
            await update_client(
                db,
                actor=actor,
                client_id=client_id,
                data=parse(ClientIn, values),
                now=datetime.now(UTC),
            )
    except Invalid as invalid:
        return await _form(
            request, values=values, client_id=client_id, errors=field_errors(invalid), status=400
        )
    await flash(request, _("Client saved."))
    raise redirect(request, "clients.list")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/clients", client_list, name="clients.list")
    app.router.add_get("/clients/new", client_new, name="clients.new")
    app.router.add_get("/clients/lookup", client_lookup, name="clients.lookup")
    app.router.add_post("/clients/new", client_create, name="clients.create")
    app.router.add_get(r"/clients/{client_id:\d{1,9}}/edit", client_edit, name="clients.edit")
    app.router.add_post(r"/clients/{client_id:\d{1,9}}/edit", client_update, name="clients.update")
