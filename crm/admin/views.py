"""Admin pages: every call, the audit log, API keys."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from crm import audit
from crm.auth.service import issue_api_key, list_api_keys, list_users, revoke_api_key
from crm.call_log import list_calls
from crm.enums import CallOutcome, Role
from crm.errors import Invalid
from crm.pages import field_errors, flash, int_or_none, page_arg, render
from crm.pagination import PER_PAGE, Page
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import SESSIONS


@requires(Role.ADMIN)
async def call_log(request: web.Request) -> web.StreamResponse:
    value = request.query.get("outcome", "")
    outcome = CallOutcome(value) if value in set(CallOutcome) else None
    async with request.config_dict[SESSIONS]() as db:
        calls = await list_calls(
            db, actor=actor_of(request), outcome=outcome, page=page_arg(request)
        )
    return await render(
        request,
        "admin_calls.html",
        {
            "calls": calls,
            "outcome": outcome,
            "outcomes": list(CallOutcome),
            "query": {"outcome": outcome.value} if outcome else {},
        },
    )


@requires(Role.ADMIN)
async def audit_log(request: web.Request) -> web.StreamResponse:
    page = page_arg(request)
    async with request.config_dict[SESSIONS]() as db:
        entries, total = await audit.list_entries(db, page=page, per_page=PER_PAGE)
    return await render(
        request,
        "admin_audit.html",
        {"entries": Page(items=entries, page=page, per_page=PER_PAGE, total=total)},
    )


async def _keys(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        keys = await list_api_keys(db, actor=actor)
        users = await list_users(db, actor=actor)
    return await render(
        request,
        "admin_api_keys.html",
        {"keys": keys, "users": users, "values": values or {}, "errors": errors or {}},
        status=status,
    )


@requires(Role.ADMIN)
async def api_keys(request: web.Request) -> web.StreamResponse:
    return await _keys(request)


@requires(Role.ADMIN)
async def api_key_issue(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    values = {"user_id": form.get("user_id", ""), "name": form.get("name", "")}
    user_id = int_or_none(values["user_id"])
    try:
        if user_id is None:
            raise Invalid.one("user_id", "choose who the key is for")
        async with request.config_dict[SESSIONS].begin() as db:
            key, plain = await issue_api_key(
                db,
                actor=actor_of(request),
                user_id=user_id,
                name=values["name"],
                now=datetime.now(UTC),
            )
    except Invalid as invalid:
        return await _keys(request, values=values, errors=field_errors(invalid), status=400)
    response = await render(request, "admin_api_key_issued.html", {"key": key, "plain": plain})
    response.headers["Cache-Control"] = "no-store"
    return response


@requires(Role.ADMIN)
async def api_key_revoke(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    if form.get("confirm") != "yes":
        return await _keys(
            request, status=400, errors={"revoke": "Tick “Yes, revoke” next to the key to confirm."}
        )
    async with request.config_dict[SESSIONS].begin() as db:
        key = await revoke_api_key(
            db,
            actor=actor_of(request),
            key_id=int(request.match_info["key_id"]),
            now=datetime.now(UTC),
        )
    await flash(request, f"Key {key.prefix}… ({key.name}) revoked: it no longer works.")
    raise redirect(request, "admin.api_keys")


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/admin/calls", call_log, name="admin.calls")
    router.add_get("/admin/audit", audit_log, name="admin.audit")
    router.add_get("/admin/api-keys", api_keys, name="admin.api_keys")
    router.add_post("/admin/api-keys", api_key_issue, name="admin.api_keys.issue")
    router.add_post(
        r"/admin/api-keys/{key_id:\d{1,9}}/revoke", api_key_revoke, name="admin.api_keys.revoke"
    )
