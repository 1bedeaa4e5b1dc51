"""Admin pages: every call, the audit log, API keys."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from aiohttp import web

from crm import audit
from crm.auth.service import issue_api_key, list_api_keys, list_users, revoke_api_key
from crm.call_log import (
    SORTS,
    CallFilters,
    company_choices,
    day_range,
    list_calls,
    manager_choices,
)
from crm.enums import CallOutcome, Role
from crm.errors import Invalid
from crm.i18n import N_, reader
from crm.i18n import gettext as _
from crm.pages import field_errors, flash, int_or_none, page_arg, render
from crm.pagination import PER_PAGE, Page
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import SESSIONS

DATE_FIELDS = {"from": N_("Since"), "to": N_("Until")}


def _id_or_none(value: str | None) -> int | None:
    number = int_or_none(value) if value and value.isascii() and len(value) <= 9 else None
    return number if number and number > 0 else None


def _day(value: str) -> date | None:
    """A day of 1900–9998 (outside them the bounds of the day, in any zone, cannot be had)."""
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None
    return day if day is not None and 1900 <= day.year <= 9998 else None


def _dates(request: web.Request) -> tuple[dict[str, date], dict[str, str]]:
    """The `from` and `to` days asked for, and errors naming each unusable one."""
    days: dict[str, date] = {}
    errors: dict[str, str] = {}
    for name, label in DATE_FIELDS.items():
        value = request.query.get(name, "").strip()
        day = _day(value)
        if day is not None:
            days[name] = day
        elif value:
            message = _("“%(field)s” is not a date: enter it as YYYY-MM-DD.")
            errors[name] = message % {"field": _(label)}
    if "from" in days and "to" in days and days["to"] < days["from"]:
        message = _("“%(field)s” is before “%(start)s”.")
        errors["to"] = message % {"field": _(DATE_FIELDS["to"]), "start": _(DATE_FIELDS["from"])}
        del days["to"]
    return days, errors


@requires(Role.ADMIN)
async def call_log(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    value = request.query.get("outcome", "")
    outcome = CallOutcome(value) if value in set(CallOutcome) else None
    organization_id = _id_or_none(request.query.get("organization_id"))
    manager_id = _id_or_none(request.query.get("manager_id"))
    days, errors = _dates(request)
    query = {name: day.isoformat() for name, day in days.items()}
    since, until = day_range(days.get("from"), days.get("to"), reader().zone)
    filters = CallFilters(
        outcome=outcome,
        organization_id=organization_id,
        manager_id=manager_id,
        since=since,
        until=until,
    )
    sort = SORTS.or_default(request.query.get("sort"))
    if outcome:
        query["outcome"] = outcome.value
    if organization_id is not None:
        query["organization_id"] = str(organization_id)
    if manager_id is not None:
        query["manager_id"] = str(manager_id)
    filtered = dict(query)  # the filters alone: what a header link keeps
    if sort != SORTS.default:
        query["sort"] = sort.value
    async with request.config_dict[SESSIONS]() as db:
        managers = await manager_choices(db, actor=actor, organization_id=organization_id)
        if manager_id is not None and manager_id not in {manager.id for manager in managers}:
            # Another company's manager: the list shows what the form says, all managers.
            filters = dataclasses.replace(filters, manager_id=None)
            query.pop("manager_id", None)
            filtered.pop("manager_id", None)
        calls = await list_calls(
            db, actor=actor, filters=filters, sort=sort, page=page_arg(request)
        )
        companies = await company_choices(db, actor=actor)
    return await render(
        request,
        "admin_calls.html",
        {
            "calls": calls,
            "outcome": outcome,
            "outcomes": list(CallOutcome),
            "companies": companies,
            "managers": managers,
            "filters": filters,
            "dates": {name: request.query.get(name, "") for name in DATE_FIELDS},
            "errors": errors,
            "sort": sort,
            "default_sort": SORTS.default,
            "filtered": filtered,
            "query": query,
        },
        status=400 if errors else 200,
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
            raise Invalid.one("user_id", _("choose who the key is for"))
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
            request,
            status=400,
            errors={"revoke": _("Tick “Yes, revoke” next to the key to confirm.")},
        )
    async with request.config_dict[SESSIONS].begin() as db:
        key = await revoke_api_key(
            db,
            actor=actor_of(request),
            key_id=int(request.match_info["key_id"]),
            now=datetime.now(UTC),
        )
    message = _("Key %(prefix)s… (%(name)s) revoked: it no longer works.")
    await flash(request, message % {"prefix": key.prefix, "name": key.name})
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
