"""Clients: an agent's own, or any for an admin."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, json_body, page_args, path_id, query_choice, query_text, respond
from crm.api.openapi import PAGING, Param, operation, sort_param
from crm.api.schemas import ClientOut, ClientPage, NewClient
from crm.clients.service import SORTS, create_client, get_client, list_clients, update_client
from crm.schemas import ClientIn, parse
from ivr.keys import SESSIONS, url_for

routes = web.RouteTableDef()
ROLES = "Agents (their own clients) and admins."
SEARCH = Param(
    "search",
    {"type": "string", "maxLength": 200},
    "Part of a name, email or city, in any case and alphabet, or 3+ digits of the phone.",
)


@routes.get(f"{V1}/clients", name="api.clients.list")
@operation(
    "List clients, by name (or as `sort` says)",
    tag="clients",
    answer=ClientPage,
    description=ROLES,
    query=(SEARCH, sort_param(SORTS.values, SORTS.default.value), *PAGING),
    errors=(422,),
)
async def list_(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        page = await list_clients(
            db,
            actor=actor_of(request),
            search=query_text(request, "search"),
            sort=SORTS.parse(query_choice(request, "sort", SORTS.values)),
            **page_args(request),
        )
    return respond(ClientPage.model_validate(page, from_attributes=True))


@routes.post(f"{V1}/clients", name="api.clients.create")
@operation(
    "Add a client",
    tag="clients",
    answer=ClientOut,
    status=201,
    body=NewClient,
    location=True,
    description=ROLES + " An admin names the client's `agent_id`.",
)
async def create(request: web.Request) -> web.Response:
    data = parse(NewClient, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        client = await create_client(
            db,
            actor=actor_of(request),
            data=data.client_in(),
            agent_id=data.agent_id,
            now=datetime.now(UTC),
        )
    return respond(
        ClientOut.model_validate(client),
        status=201,
        location=url_for(request, "api.clients.get", client_id=client.id),
    )


@routes.get(V1 + r"/clients/{client_id:\d+}", name="api.clients.get")
@operation("One client", tag="clients", answer=ClientOut, description=ROLES)
async def get(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        client = await get_client(
            db, actor=actor_of(request), client_id=path_id(request, "client_id")
        )
    return respond(ClientOut.model_validate(client))


@routes.put(V1 + r"/clients/{client_id:\d+}", name="api.clients.update")
@operation(
    "Replace a client's details",
    tag="clients",
    answer=ClientOut,
    body=ClientIn,
    description=ROLES + " Every field is sent; a missing optional one is cleared.",
)
async def update(request: web.Request) -> web.Response:
    client_id = path_id(request, "client_id")
    data = parse(ClientIn, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        client = await update_client(
            db, actor=actor_of(request), client_id=client_id, data=data, now=datetime.now(UTC)
        )
    return respond(ClientOut.model_validate(client))
