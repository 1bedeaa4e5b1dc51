"""Request pages: the list, filing, the request's page with its calls, close/reopen/repeat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from crm.blacklist.labels import LABELS
from crm.blacklist.service import existing_rule_ids
from crm.clients.service import client_labels, get_client, lookup_clients
from crm.enums import RequestStatus, Role
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.organizations.scope import document_choices
from crm.pages import field_errors, flash, int_or_none, page_arg, render
from crm.partners.service import partner_choices
from crm.recordings.service import list_recordings
from crm.requests.service import (
    SORTS,
    create_request,
    get_request,
    list_requests,
    repeat_request,
    request_calls,
    set_status,
)
from crm.schemas import RequestIn, parse
from crm.web import actor_of, client_address, form_data, redirect, requires
from ivr.keys import CLOCK, SESSIONS

FIELDS = ("client_id", "organization_id", "product", "comment", "payer_id", "delivery_address_id")
MAX_ID = 2**31 - 1
NUMBER = r"{number:\d{8}}"


@requires(Role.AGENT, Role.ADMIN)
async def request_list(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    # Admins' tab of flagged requests; for anyone else the query changes nothing on the page.
    suspicious = actor.role is Role.ADMIN and request.query.get("suspicious") == "1"
    status = request.query.get("status", "")
    chosen = RequestStatus(status) if status in set(RequestStatus) and not suspicious else None
    search = request.query.get("q", "").strip()[:200]
    sort = SORTS.or_default(request.query.get("sort"))
    async with request.config_dict[SESSIONS]() as db:
        requests = await list_requests(
            db,
            actor=actor,
            status=chosen,
            suspicious=True if suspicious else None,
            search=search or None,
            sort=sort,
            page=page_arg(request),
        )
    query = {"suspicious": "1"} if suspicious else {"status": chosen.value} if chosen else {}
    if search:
        query = {**query, "q": search}
    filtered = query  # a header link keeps the filters and sets its own sort
    sorting = {} if sort == SORTS.default else {"sort": sort.value}  # a tab keeps the sort
    query = {**query, **sorting}
    return await render(
        request,
        "requests_list.html",
        {
            "requests": requests,
            "status": chosen,
            "suspicious": suspicious,
            "statuses": list(RequestStatus),
            "query": query,
            "filtered": filtered,
            "search": search,
            "sort": sort,
            "sorting": sorting,
        },
    )


async def _form(
    request: web.Request,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
    search: str | None = None,
) -> web.Response:
    """The form; its client list is the matches of `search` (else `?client_search=`; 20 at
    most), so it works without JavaScript, and the chosen client (`client_id`) is always
    among them."""
    actor = actor_of(request)
    if search is None:
        search = request.query.get("client_search", "")
    search = search.strip()[:200]
    chosen_id = int_or_none(values.get("client_id"))
    if chosen_id is not None and not 0 < chosen_id <= MAX_ID:
        chosen_id = None
    async with request.config_dict[SESSIONS]() as db:
        clients = await lookup_clients(db, actor=actor, search=search or None)
        any_client = bool(clients) or bool(await lookup_clients(db, actor=actor, search=None))
        if chosen_id is not None and chosen_id not in {client.id for client in clients}:
            try:
                clients.insert(0, await get_client(db, actor=actor, client_id=chosen_id))
            except NotFound:  # someone else's, or gone: nothing is preselected
                chosen_id = None
        partners = await partner_choices(db)
        documents = await document_choices(db, actor=actor)
        labels = await client_labels(db, actor=actor, clients=clients)
    context = {
        "values": values,
        "errors": errors or {},
        "any_client": any_client,
        "clients": [{"id": client.id, "label": labels[client.id]} for client in clients],
        "chosen_id": chosen_id,
        "client_search": search,
        "partners": partners,
        "documents": documents,
    }
    return await render(request, "request_form.html", context, status=status)


@requires(Role.AGENT, Role.ADMIN)
async def request_new(request: web.Request) -> web.StreamResponse:
    return await _form(request, values={"client_id": request.query.get("client_id", "")})


@requires(Role.AGENT, Role.ADMIN)
async def request_create(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    values = {name: form.get(name, "") for name in FIELDS}
    if form.get("action") == "find":  # the search without JavaScript: the form comes back
        return await _form(request, values=values, search=form.get("client_search", ""))
    try:
        data = parse(RequestIn, values)
        async with request.config_dict[SESSIONS].begin() as db:
            filed = await create_request(
                db,
                actor=actor_of(request),
                data=data,
                source_ip=client_address(request),
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        return await _form(request, values=values, errors=field_errors(invalid), status=400)
    await flash(
        request,
        _("Request %(number)s filed. Give this number to the partner.") % {"number": filed.number},
    )
    raise redirect(request, "requests.detail", number=filed.number)


async def _detail(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    actor = actor_of(request)
    number = request.match_info["number"]
    matches: list[dict[str, Any]] = []
    existing: set[int] = set()
    async with request.config_dict[SESSIONS]() as db:
        row = await get_request(db, actor=actor, number=number)
        calls = await request_calls(db, actor=actor, number=number)
        recordings = await list_recordings(db, actor=actor, number=number)
        if actor.role is Role.ADMIN:  # only admins may learn of a blacklist match
            matches = row.request.blacklist_matches
            existing = await existing_rule_ids(
                db, actor=actor, rule_ids=[match["rule_id"] for match in matches]
            )
    context = {
        "row": row,
        "calls": calls,
        "recordings": recordings,
        "error": error,
        "matches": matches,
        "existing": existing,
        "labels": LABELS,
    }
    return await render(request, "request_detail.html", context, status=status)


@requires(Role.AGENT, Role.ADMIN)
async def request_detail(request: web.Request) -> web.StreamResponse:
    return await _detail(request)


async def _set_status(request: web.Request, status: RequestStatus) -> None:
    async with request.config_dict[SESSIONS].begin() as db:
        await set_status(
            db,
            actor=actor_of(request),
            number=request.match_info["number"],
            status=status,
            now=datetime.now(UTC),
        )


@requires(Role.AGENT, Role.ADMIN)
async def request_close(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    if form.get("confirm") != "yes":
        return await _detail(
            request, status=400, error=_("Tick “Yes, close it” to confirm closing the request.")
        )
    await _set_status(request, RequestStatus.CLOSED)
    await flash(
        request, _("Request closed: partner managers can no longer call the client about it.")
    )
    raise redirect(request, "requests.detail", number=request.match_info["number"])


@requires(Role.AGENT, Role.ADMIN)
async def request_reopen(request: web.Request) -> web.StreamResponse:
    await _set_status(request, RequestStatus.OPEN)
    await flash(request, _("Request reopened: the partner can call the client again."))
    raise redirect(request, "requests.detail", number=request.match_info["number"])


@requires(Role.AGENT, Role.ADMIN)
async def request_repeat(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            repeated = await repeat_request(
                db,
                actor=actor_of(request),
                number=number,
                source_ip=client_address(request),
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:  # the company was deactivated since
        return await _detail(request, status=400, error="; ".join(invalid.errors.values()))
    await flash(
        request,
        _("New request %(number)s filed as a repeat of %(original)s.")
        % {"number": repeated.number, "original": number},
    )
    raise redirect(request, "requests.detail", number=repeated.number)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/requests", request_list, name="requests.list")
    app.router.add_get("/requests/new", request_new, name="requests.new")
    app.router.add_post("/requests/new", request_create, name="requests.create")
    app.router.add_get(f"/requests/{NUMBER}", request_detail, name="requests.detail")
    app.router.add_post(f"/requests/{NUMBER}/close", request_close, name="requests.close")
    app.router.add_post(f"/requests/{NUMBER}/reopen", request_reopen, name="requests.reopen")
    app.router.add_post(f"/requests/{NUMBER}/repeat", request_repeat, name="requests.repeat")
