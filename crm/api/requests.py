"""Requests: filing, listing, closing, reopening, repeating, their calls; the partner view."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import (
    V1,
    json_body,
    page_args,
    query_bool,
    query_choice,
    query_enum,
    query_text,
    respond,
)
from crm.api.openapi import PAGING, Param, operation, sort_param
from crm.api.schemas import (
    AdminRequestOut,
    AdminRequestPage,
    CallList,
    CallOut,
    NewRequest,
    PartnerRequestPage,
    RequestOut,
    RequestPage,
)
from crm.auth.service import Actor
from crm.enums import RequestStatus, Role
from crm.requests.service import (
    SORTS,
    RequestRow,
    create_request,
    get_request,
    list_requests,
    partner_requests,
    repeat_request,
    request_calls,
    set_status,
)
from crm.schemas import parse
from crm.web import client_address
from ivr.keys import CLOCK, SESSIONS, url_for

routes = web.RouteTableDef()
ROLES = "Agents (their own requests) and admins."
ADMIN_FIELDS = (
    " An admin's key also gets `source_ip`, `suspicious` and `blacklist_matches` (each "
    "matched rule's id, note and the fields that matched with their values)."
)
ONE = V1 + "/requests/{number:[0-9]+}"
STATUS = Param(
    "status",
    {"type": "string", "enum": [status.value for status in RequestStatus]},
    "Only requests in this status.",
)
SEARCH = Param(
    "search",
    {"type": "string", "maxLength": 200},
    "The request's number (or its first digits), part of its client's name or of its "
    "product, in any case and alphabet.",
)
SUSPICIOUS = Param(
    "suspicious",
    {"type": "string", "enum": ["true", "false"]},
    "Admins: only the requests the blacklist flagged (true) or did not (false). For an "
    "agent it changes nothing.",
)


@routes.get(f"{V1}/requests", name="api.requests.list")
@operation(
    "List requests, newest first (or as `sort` says)",
    tag="requests",
    answer=RequestPage,
    description=ROLES + ADMIN_FIELDS,
    query=(STATUS, SEARCH, SUSPICIOUS, sort_param(SORTS.values, SORTS.default.value), *PAGING),
    errors=(422,),
)
async def list_(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        page = await list_requests(
            db,
            actor=actor,
            status=query_enum(request, "status", RequestStatus),
            suspicious=query_bool(request, "suspicious"),
            search=query_text(request, "search"),
            sort=SORTS.parse(query_choice(request, "sort", SORTS.values)),
            **page_args(request),
        )
    shape = AdminRequestPage if actor.role is Role.ADMIN else RequestPage
    return respond(
        shape.model_validate(
            {
                "items": [_answer(actor, row) for row in page.items],
                "page": page.page,
                "per_page": page.per_page,
                "total": page.total,
                "pages": page.pages,
            }
        )
    )


def _answer(actor: Actor, row: RequestRow) -> RequestOut:
    """The request as this actor may see it: admins with the blacklist's findings."""
    return AdminRequestOut.of_admin(row) if actor.role is Role.ADMIN else RequestOut.of(row)


@routes.post(f"{V1}/requests", name="api.requests.create")
@operation(
    "File a request for a client",
    tag="requests",
    answer=RequestOut,
    status=201,
    body=NewRequest,
    location=True,
    description=ROLES + " It is checked against the blacklist as it is filed, from "
    "`client_ip` or this call's address; an agent's answer does not say what was found."
    + ADMIN_FIELDS,
)
async def create(request: web.Request) -> web.Response:
    data = parse(NewRequest, await json_body(request))
    actor = actor_of(request)
    async with request.config_dict[SESSIONS].begin() as db:
        filed = await create_request(
            db,
            actor=actor,
            data=data,
            source_ip=data.client_ip or client_address(request),
            now=request.config_dict[CLOCK](),
        )
        row = await get_request(db, actor=actor, number=filed.number)
        answer = _answer(actor, row)
    return _created(request, answer)


def _created(request: web.Request, answer: RequestOut) -> web.Response:
    return respond(
        answer,
        status=201,
        location=url_for(request, "api.requests.get", number=answer.number),
    )


@routes.get(ONE, name="api.requests.get")
@operation("One request", tag="requests", answer=RequestOut, description=ROLES + ADMIN_FIELDS)
async def get(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        row = await get_request(db, actor=actor, number=request.match_info["number"])
        answer = _answer(actor, row)
    return respond(answer)


async def _set_status(request: web.Request, status: RequestStatus) -> web.Response:
    actor, number = actor_of(request), request.match_info["number"]
    async with request.config_dict[SESSIONS].begin() as db:
        await set_status(db, actor=actor, number=number, status=status, now=datetime.now(UTC))
        row = await get_request(db, actor=actor, number=number)
        answer = _answer(actor, row)
    return respond(answer)


@routes.post(ONE + "/close", name="api.requests.close")
@operation(
    "Close a request",
    tag="requests",
    answer=RequestOut,
    description=ROLES + " The IVR refuses the request from now on. Closing a closed "
    "request changes nothing." + ADMIN_FIELDS,
)
async def close(request: web.Request) -> web.Response:
    return await _set_status(request, RequestStatus.CLOSED)


@routes.post(ONE + "/reopen", name="api.requests.reopen")
@operation(
    "Reopen a request",
    tag="requests",
    answer=RequestOut,
    description=ROLES + " Reopening an open request changes nothing." + ADMIN_FIELDS,
)
async def reopen(request: web.Request) -> web.Response:
    return await _set_status(request, RequestStatus.OPEN)


@routes.post(ONE + "/repeat", name="api.requests.repeat")
@operation(
    "File a new request like this one (a renewal)",
    tag="requests",
    answer=RequestOut,
    status=201,
    location=True,
    errors=(422,),
    description=ROLES + " The same client, partner, product and comment; the same payer and "
    "delivery address while they are still active ones of the organization of the client's "
    "agent, else none." + ADMIN_FIELDS,
)
async def repeat(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS].begin() as db:
        filed = await repeat_request(
            db,
            actor=actor,
            number=request.match_info["number"],
            source_ip=client_address(request),
            now=request.config_dict[CLOCK](),
        )
        row = await get_request(db, actor=actor, number=filed.number)
        answer = _answer(actor, row)
    return _created(request, answer)


@routes.get(ONE + "/calls", name="api.requests.calls")
@operation(
    "Calls made about a request, newest first",
    tag="requests",
    answer=CallList,
    description=ROLES + " Who called and what came of it; never a phone number.",
)
async def calls(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        rows = await request_calls(db, actor=actor_of(request), number=request.match_info["number"])
    return respond(CallList(items=[CallOut.of(row) for row in rows]))


@routes.get(f"{V1}/partner/requests", name="api.partner.requests")
@operation(
    "A partner company's open requests",
    tag="partner",
    answer=PartnerRequestPage,
    query=PAGING,
    description="Managers only: their company's open requests, with the "
    "client's first name and city and no contact details.",
)
async def partner_list(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        page = await partner_requests(db, actor=actor_of(request), **page_args(request))
    return respond(PartnerRequestPage.model_validate(page, from_attributes=True))
