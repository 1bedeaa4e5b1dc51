"""The agent's payer cards (`/organization/payers`): the list with an edit form each, an
add form whose bank is found by its BIK, remove, make default. A refused form comes back
open with what was typed and the field named."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm.dadata import DadataUnavailable, check_bik, find_bank
from crm.enums import Role
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Organization
from crm.organizations import payers
from crm.organizations.payers import (
    CLOSING_BANKS,
    BankLookup,
    bank_for,
    bank_for_edit,
    closing_bank_message,
)
from crm.organizations.schemas import PayerEdit, PayerIn
from crm.organizations.scope import (
    agent_organization_id,
    organization_in_scope,
    pending_organization,
)
from crm.pages import field_errors, flash, render
from crm.schemas import parse
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS

PAYER = r"/organization/payers/{payer_id:\d{1,9}}"
FIELDS = (
    "name",
    "inn",
    "kpp",
    "bik",
    "account",
    "bank_name",
    "correspondent_account",
    "bank_address",
)


def bank_lookup(request: web.Request) -> BankLookup:
    """DaData's bank of a BIK, over the shared HTTP client."""
    return payers.bank_lookup(request.config_dict[HTTP], request.config_dict[CONFIG].dadata)


def organization_link(request: web.Request) -> str | None:
    """The agent's organization page, where its INN is given (once that page exists)."""
    names = request.app.router.named_resources()
    return str(names["organization"].url_for()) if "organization" in names else None


async def unless_waiting(request: web.Request, missing: NotFound) -> None:
    """Raise `missing` again, unless the agent waits to be confirmed in their organization:
    their page then says so (a 404 all the same) rather than a bare "not found"."""
    async with request.config_dict[SESSIONS]() as db:
        if await pending_organization(db, agent_id=actor_of(request).agent_id) is None:
            raise missing


async def _page(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    edit: dict[str, Any] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        organization_id = await agent_organization_id(db, agent_id=actor.agent_id)
        organization = await db.get(Organization, organization_id) if organization_id else None
        pending = await pending_organization(db, agent_id=actor.agent_id)
        found = await payers.list_payers(db, actor=actor) if organization else []
    if organization is not None and values is None:
        values = {"name": organization.name, "inn": organization.inn or "", "kpp": organization.kpp}
    context = {
        "organization": organization,
        "pending": pending,
        "organization_url": organization_link(request),
        "payers": found,
        "values": values or {},
        "errors": errors or {},
        "edit": edit or {},
        "lookup_notice": notice,
    }
    return await render(request, "org_payers.html", context, status=status)


@requires(Role.AGENT)
async def payer_list(request: web.Request) -> web.StreamResponse:
    return await _page(request)


def _typed(form: dict[str, str]) -> dict[str, str]:
    return {name: form[name].strip() for name in FIELDS if name in form}


async def _find_bank(request: web.Request, values: dict[str, str]) -> web.Response:
    """ "Find the bank": the add form again, its bank filled from DaData (nothing saved)."""
    try:
        bik = check_bik(values.get("bik", ""))
    except ValueError as wrong:
        return await _page(request, values=values, errors={"bik": str(wrong)}, status=400)
    try:
        bank = await find_bank(
            request.config_dict[HTTP], request.config_dict[CONFIG].dadata, bik=bik
        )
    except DadataUnavailable as unavailable:
        notice = _("%(reason)s Type the bank's name yourself.") % {"reason": unavailable.message}
        return await _page(request, values=values, notice=notice)
    if bank is None:
        return await _page(
            request, values=values, errors={"bik": _("no bank has this BIK")}, status=400
        )
    if bank.status in CLOSING_BANKS:
        return await _page(
            request, values=values, errors={"bik": closing_bank_message()}, status=400
        )
    values = {
        **values,
        "bank_name": bank.name,
        "correspondent_account": bank.correspondent_account or "",
        "bank_address": bank.address or "",
    }
    return await _page(
        request, values=values, notice=_("Bank found: %(name)s.") % {"name": bank.name}
    )


@requires(Role.AGENT)
async def payer_create(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    values = _typed(form)
    if form.get("action") == "bank":
        return await _find_bank(request, values)
    try:
        data = parse(PayerIn, {**values, "is_default": form.get("is_default") == "yes"})
        async with request.config_dict[SESSIONS]() as db:  # refused before DaData is asked
            await organization_in_scope(db, actor=actor_of(request))
        bank = await bank_for(
            bank_lookup(request),
            bik=data.bik,
            name=data.bank_name,
            correspondent_account=data.correspondent_account,
            address=data.bank_address,
        )
        async with request.config_dict[SESSIONS].begin() as db:
            payer = await payers.create_payer(
                db, actor=actor_of(request), data=data, bank=bank, now=request.config_dict[CLOCK]()
            )
    except Invalid as invalid:
        values["is_default"] = "yes" if form.get("is_default") == "yes" else ""
        return await _page(request, values=values, errors=field_errors(invalid), status=400)
    await flash(request, _("Payer %(name)s added.") % {"name": payer.name})
    raise redirect(request, "organization.payers")


@requires(Role.AGENT)
async def payer_update(request: web.Request) -> web.StreamResponse:
    actor, payer_id = actor_of(request), int(request.match_info["payer_id"])
    values = _typed(await form_data(request))
    try:
        async with request.config_dict[SESSIONS]() as db:
            stored = await payers.get_payer(db, actor=actor, payer_id=payer_id)
            before = {name: getattr(stored, name) or "" for name in FIELDS}
    except NotFound as missing:
        await unless_waiting(request, missing)
        return await _page(request, status=404)
    # Only what was changed is edited: a BIK typed as it was is not looked up again.
    changed = {name: value for name, value in values.items() if value != before[name]}
    if not changed:
        raise redirect(request, "organization.payers")
    try:
        data = parse(PayerEdit, changed)
        bank = await bank_for_edit(bank_lookup(request), stored=stored, data=data)
        async with request.config_dict[SESSIONS].begin() as db:
            payer = await payers.update_payer(
                db,
                actor=actor,
                payer_id=payer_id,
                data=data,
                bank=bank,
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        edit = {"form": f"payer-{payer_id}", "values": values, "errors": field_errors(invalid)}
        return await _page(request, edit=edit, status=400)
    if payer.id != payer_id:
        message = _(
            "%(name)s: changes saved as a new card; requests that named it still show it as it was."
        )
    else:
        message = _("%(name)s: changes saved.")
    await flash(request, message % {"name": payer.name})
    raise redirect(request, "organization.payers")


@requires(Role.AGENT)
async def payer_remove(request: web.Request) -> web.StreamResponse:
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            payer = await payers.deactivate_payer(
                db,
                actor=actor_of(request),
                payer_id=int(request.match_info["payer_id"]),
                now=request.config_dict[CLOCK](),
            )
    except NotFound as missing:
        await unless_waiting(request, missing)
        return await _page(request, status=404)
    message = _("Payer %(name)s removed; requests that name it still show it.")
    await flash(request, message % {"name": payer.name})
    raise redirect(request, "organization.payers")


@requires(Role.AGENT)
async def payer_default(request: web.Request) -> web.StreamResponse:
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            payer = await payers.make_default(
                db,
                actor=actor_of(request),
                payer_id=int(request.match_info["payer_id"]),
                now=request.config_dict[CLOCK](),
            )
    except NotFound as missing:
        await unless_waiting(request, missing)
        return await _page(request, status=404)
    await flash(request, _("%(name)s is the default payer now.") % {"name": payer.name})
    raise redirect(request, "organization.payers")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/organization/payers", payer_list, name="organization.payers")
    app.router.add_post("/organization/payers", payer_create, name="organization.payers.create")
    app.router.add_post(PAYER, payer_update, name="organization.payers.update")
    app.router.add_post(PAYER + "/remove", payer_remove, name="organization.payers.remove")
    app.router.add_post(PAYER + "/default", payer_default, name="organization.payers.default")
