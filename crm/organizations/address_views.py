"""The agent's delivery addresses (`/organization/addresses`): the list with an edit form
each, an add form, remove. A refused form comes back open with what was typed."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crm.enums import Role
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Organization
from crm.organizations import addresses
from crm.organizations.payer_views import organization_link, unless_waiting
from crm.organizations.schemas import AddressEdit, AddressIn
from crm.organizations.scope import agent_organization_id, pending_organization
from crm.pages import field_errors, flash, render
from crm.schemas import parse
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CLOCK, SESSIONS

ADDRESS = r"/organization/addresses/{address_id:\d{1,9}}"
FIELDS = ("address", "contact_name", "contact_phone", "comment")


async def _page(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    edit: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        organization_id = await agent_organization_id(db, agent_id=actor.agent_id)
        organization = await db.get(Organization, organization_id) if organization_id else None
        pending = await pending_organization(db, agent_id=actor.agent_id)
        found = await addresses.list_addresses(db, actor=actor) if organization else []
    context = {
        "organization": organization,
        "pending": pending,
        "organization_url": organization_link(request),
        "addresses": found,
        "values": values or {},
        "errors": errors or {},
        "edit": edit or {},
    }
    return await render(request, "org_addresses.html", context, status=status)


def _typed(form: dict[str, str]) -> dict[str, str]:
    return {name: form[name].strip() for name in FIELDS if name in form}


@requires(Role.AGENT)
async def address_list(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@requires(Role.AGENT)
async def address_create(request: web.Request) -> web.StreamResponse:
    values = _typed(await form_data(request))
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            address = await addresses.create_address(
                db,
                actor=actor_of(request),
                data=parse(AddressIn, values),
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        return await _page(request, values=values, errors=field_errors(invalid), status=400)
    await flash(request, _("Address added: %(address)s.") % {"address": address.address})
    raise redirect(request, "organization.addresses")


@requires(Role.AGENT)
async def address_update(request: web.Request) -> web.StreamResponse:
    actor, address_id = actor_of(request), int(request.match_info["address_id"])
    values = _typed(await form_data(request))
    try:
        async with request.config_dict[SESSIONS]() as db:
            stored = await addresses.get_address(db, actor=actor, address_id=address_id)
            before = {name: getattr(stored, name) or "" for name in FIELDS}
    except NotFound as missing:
        await unless_waiting(request, missing)
        return await _page(request, status=404)
    changed = {name: value for name, value in values.items() if value != before[name]}
    if not changed:
        raise redirect(request, "organization.addresses")
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            address = await addresses.update_address(
                db,
                actor=actor,
                address_id=address_id,
                data=parse(AddressEdit, changed),
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        edit = {"form": f"address-{address_id}", "values": values, "errors": field_errors(invalid)}
        return await _page(request, edit=edit, status=400)
    if address.id != address_id:
        message = _(
            "Address saved as a new one: %(address)s. Requests that named it still show it "
            "as it was."
        )
    else:
        message = _("Address saved: %(address)s.")
    await flash(request, message % {"address": address.address})
    raise redirect(request, "organization.addresses")


@requires(Role.AGENT)
async def address_remove(request: web.Request) -> web.StreamResponse:
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            address = await addresses.deactivate_address(
                db,
                actor=actor_of(request),
                address_id=int(request.match_info["address_id"]),
                now=request.config_dict[CLOCK](),
            )
    except NotFound as missing:
        await unless_waiting(request, missing)
        return await _page(request, status=404)
    message = _("Address removed: %(address)s. Requests that name it still show it.")
    await flash(request, message % {"address": address.address})
    raise redirect(request, "organization.addresses")


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/organization/addresses", address_list, name="organization.addresses")
    router.add_post("/organization/addresses", address_create, name="organization.addresses.create")
    router.add_post(ADDRESS, address_update, name="organization.addresses.update")
    router.add_post(ADDRESS + "/remove", address_remove, name="organization.addresses.remove")
