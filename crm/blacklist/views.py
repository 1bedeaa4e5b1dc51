"""Admin → Blacklist: the rules with search, a rule's form with its dry run, the settings."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm.blacklist.labels import labels, named
from crm.blacklist.matching import DryRun, dry_run
from crm.blacklist.normalize import FIELDS
from crm.blacklist.records import copy_fields, set_copy_fields
from crm.blacklist.schemas import parse_rule
from crm.blacklist.service import create_rule, delete_rule, get_rule, list_rules, update_rule
from crm.enums import Role
from crm.errors import Invalid
from crm.i18n import gettext as _
from crm.pages import field_errors, flash, page_arg, render
from crm.web import actor_of, form_data, read_form, redirect, requires
from ivr.keys import CLOCK, SESSIONS

FORM_FIELDS = (*FIELDS, "note")
RULE_ID = r"{rule_id:\d{1,9}}"


async def _list(
    request: web.Request,
    *,
    chosen: list[str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    actor = actor_of(request)
    search = request.query.get("q", "").strip()
    async with request.config_dict[SESSIONS]() as db:
        rules = await list_rules(db, actor=actor, search=search or None, page=page_arg(request))
        copied = list(await copy_fields(db)) if chosen is None else chosen
    context = {
        "rules": rules,
        "search": search,
        "query": {"q": search} if search else {},
        "fields": FIELDS,
        "labels": labels(),
        "copied": copied,
        "errors": errors or {},
    }
    return await render(request, "admin_blacklist.html", context, status=status)


@requires(Role.ADMIN)
async def rules_list(request: web.Request) -> web.StreamResponse:
    return await _list(request)


@requires(Role.ADMIN)
async def settings_save(request: web.Request) -> web.StreamResponse:
    chosen = (await read_form(request)).getall("copy_fields", [])
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            saved = await set_copy_fields(
                db, actor=actor_of(request), fields=chosen, now=request.config_dict[CLOCK]()
            )
    except Invalid as invalid:
        return await _list(request, chosen=chosen, errors=field_errors(invalid), status=400)
    await flash(request, _("“Add to blacklist” now copies: %(fields)s.") % {"fields": named(saved)})
    raise redirect(request, "admin.blacklist")


async def _form(
    request: web.Request,
    *,
    values: dict[str, str],
    rule_id: int | None = None,
    errors: dict[str, str] | None = None,
    found: DryRun | None = None,
    status: int = 200,
) -> web.Response:
    context: dict[str, Any] = {
        "values": values,
        "rule_id": rule_id,
        "errors": errors or {},
        "found": found,
        "fields": FIELDS,
        "labels": labels(),
    }
    return await render(request, "admin_blacklist_rule.html", context, status=status)


async def _save(request: web.Request, rule_id: int | None) -> web.StreamResponse:
    """Save the posted rule, or only answer what it would match (`action=dry-run`)."""
    actor = actor_of(request)
    form = await form_data(request)
    values = {name: form.get(name, "") for name in FORM_FIELDS}
    try:
        data = parse_rule(values)
        if form.get("action") == "dry-run":
            async with request.config_dict[SESSIONS]() as db:
                if rule_id is not None:
                    await get_rule(db, actor=actor, rule_id=rule_id)  # a deleted one: 404
                found = await dry_run(db, actor=actor, data=data)
            return await _form(request, values=values, rule_id=rule_id, found=found)
        now = request.config_dict[CLOCK]()
        async with request.config_dict[SESSIONS].begin() as db:
            if rule_id is None:
                rule = await create_rule(db, actor=actor, data=data, now=now)
            else:
                rule = await update_rule(db, actor=actor, rule_id=rule_id, data=data, now=now)
    except Invalid as invalid:
        errors = field_errors(invalid)
        return await _form(request, values=values, rule_id=rule_id, errors=errors, status=400)
    if rule_id is None:
        await flash(request, _("Rule %(id)s created.") % {"id": rule.id})
    else:
        await flash(request, _("Rule %(id)s saved.") % {"id": rule.id})
    raise redirect(request, "admin.blacklist")


@requires(Role.ADMIN)
async def rule_new(request: web.Request) -> web.StreamResponse:
    return await _form(request, values={})


@requires(Role.ADMIN)
async def rule_create(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@requires(Role.ADMIN)
async def rule_edit(request: web.Request) -> web.StreamResponse:
    rule_id = int(request.match_info["rule_id"])
    async with request.config_dict[SESSIONS]() as db:
        rule = await get_rule(db, actor=actor_of(request), rule_id=rule_id)
    values = {name: getattr(rule, name) or "" for name in FORM_FIELDS}
    return await _form(request, values=values, rule_id=rule_id)


@requires(Role.ADMIN)
async def rule_update(request: web.Request) -> web.StreamResponse:
    return await _save(request, int(request.match_info["rule_id"]))


@requires(Role.ADMIN)
async def rule_delete(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    rule_id = int(request.match_info["rule_id"])
    form = await form_data(request)
    if form.get("confirm") != "yes":
        async with request.config_dict[SESSIONS]() as db:
            rule = await get_rule(db, actor=actor, rule_id=rule_id)
        values = {name: getattr(rule, name) or "" for name in FORM_FIELDS}
        errors = {"delete": _("Tick “Yes, delete it” to confirm deleting the rule.")}
        return await _form(request, values=values, rule_id=rule_id, errors=errors, status=400)
    async with request.config_dict[SESSIONS].begin() as db:
        await delete_rule(db, actor=actor, rule_id=rule_id, now=request.config_dict[CLOCK]())
    await flash(
        request, _("Rule %(id)s deleted: requests it flagged keep their flag.") % {"id": rule_id}
    )
    raise redirect(request, "admin.blacklist")


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/admin/blacklist", rules_list, name="admin.blacklist")
    router.add_post("/admin/blacklist/settings", settings_save, name="admin.blacklist.settings")
    router.add_get("/admin/blacklist/new", rule_new, name="admin.blacklist.new")
    router.add_post("/admin/blacklist/new", rule_create, name="admin.blacklist.create")
    router.add_get(f"/admin/blacklist/{RULE_ID}", rule_edit, name="admin.blacklist.edit")
    router.add_post(f"/admin/blacklist/{RULE_ID}", rule_update, name="admin.blacklist.update")
    router.add_post(
        f"/admin/blacklist/{RULE_ID}/delete", rule_delete, name="admin.blacklist.delete"
    )
