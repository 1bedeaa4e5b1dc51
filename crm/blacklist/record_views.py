"""The blacklist on other admin pages: "add to blacklist" from a request or a client, re-check."""

from __future__ import annotations

from aiohttp import web

from crm.blacklist.labels import labels, named
from crm.blacklist.models import BlacklistRule
from crm.blacklist.normalize import FIELDS
from crm.blacklist.records import rule_from_client, rule_from_request
from crm.blacklist.screening import recheck
from crm.blacklist.service import existing_rule_ids
from crm.enums import Role
from crm.errors import Invalid
from crm.i18n import gettext as _
from crm.pages import flash, render
from crm.web import actor_of, form_data, read_form, redirect, requires
from ivr.keys import CLOCK, SESSIONS

NUMBER = r"{number:\d{8}}"


def _refusal(invalid: Invalid) -> str:
    return _("No rule created: %(reasons)s.") % {"reasons": "; ".join(invalid.errors.values())}


def _copied(rule: BlacklistRule) -> str:
    return named([field for field in FIELDS if getattr(rule, field)])


@requires(Role.ADMIN)
async def add_from_request(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    note = (await form_data(request)).get("note") or None
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            rule = await rule_from_request(
                db,
                actor=actor_of(request),
                number=number,
                note=note,
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        await flash(request, _refusal(invalid))
        raise redirect(request, "requests.detail", number=number) from None
    message = _("Rule %(id)s created from request %(number)s with: %(fields)s.")
    await flash(request, message % {"id": rule.id, "number": number, "fields": _copied(rule)})
    raise redirect(request, "admin.blacklist.edit", rule_id=rule.id)


@requires(Role.ADMIN)
async def add_from_client(request: web.Request) -> web.StreamResponse:
    client_id = int(request.match_info["client_id"])
    note = (await form_data(request)).get("note") or None
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            rule = await rule_from_client(
                db,
                actor=actor_of(request),
                client_id=client_id,
                note=note,
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        await flash(request, _refusal(invalid))
        raise redirect(request, "clients.edit", client_id=client_id) from None
    message = _("Rule %(id)s created from client #%(client)s with: %(fields)s.")
    await flash(request, message % {"id": rule.id, "client": client_id, "fields": _copied(rule)})
    raise redirect(request, "admin.blacklist.edit", rule_id=rule.id)


def _unknown(numbers: list[str], invalid: Invalid) -> str:
    """The refused numbers by name: the service names each by its place in `numbers`."""
    named_errors = []
    for key, message in invalid.errors.items():
        place = key.partition(".")[2]
        what = numbers[int(place)] if place.isdigit() and int(place) < len(numbers) else ""
        named_errors.append(f"{what}: {message}" if what else message)
    return _("Nothing was re-checked: %(reasons)s.") % {"reasons": "; ".join(named_errors)}


@requires(Role.ADMIN)
async def recheck_selected(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    numbers = (await read_form(request)).getall("number", [])
    if not numbers:
        await flash(request, _("Select the requests to re-check: tick the box in their rows."))
        raise redirect(request, "requests.list")
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            results = await recheck(db, actor=actor, numbers=numbers)
            mentioned = {rule for result in results for rule in (*result.added, *result.removed)}
            existing = await existing_rule_ids(db, actor=actor, rule_ids=mentioned)
    except Invalid as invalid:
        await flash(request, _unknown(numbers, invalid))
        raise redirect(request, "requests.list") from None
    context = {"results": results, "existing": existing, "labels": labels()}
    return await render(request, "admin_blacklist_recheck.html", context)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/admin/requests/recheck", recheck_selected, name="admin.blacklist.recheck")
    router.add_post(f"/requests/{NUMBER}/blacklist", add_from_request, name="requests.blacklist")
    router.add_post(
        r"/clients/{client_id:\d{1,9}}/blacklist", add_from_client, name="clients.blacklist"
    )
