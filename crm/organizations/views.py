"""The agent's organization page: what DaData found, a refresh, or the INN to give first.

`add_routes` also gives every page's templates the `unusable` test and the `day` filter
(`_organization.html`), since the admin's company pages show organizations the same way.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from crm.dadata import DadataUnavailable
from crm.enums import Role
from crm.errors import Invalid, NotFound
from crm.i18n import N_, gettext
from crm.i18n import gettext as _
from crm.models import Organization
from crm.organizations import membership
from crm.organizations.service import (
    attach,
    main_of,
    membership_of,
    own_organization,
    refresh,
    usable,
)
from crm.pages import field_errors, flash, render
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS

SECTIONS = (
    ("organization.payers", N_("Payers")),
    ("organization.addresses", N_("Delivery addresses")),
    ("organization.loyalty", N_("Loyalty points")),
)
"""The organization's other pages, linked once their routes exist."""
MEMBER = r"/organization/members/{agent_id:\d{1,9}}"


def unusable(value: object) -> bool:
    return isinstance(value, Organization) and not usable(value)


async def _page(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        organization, confirmed = await membership_of(db, actor=actor)
        head = await main_of(db, organization) if organization else None
        waiting = await membership.colleagues_waiting(db, actor=actor)
    names = request.app.router.named_resources()
    sections = [(name, gettext(title)) for name, title in SECTIONS if name in names]
    context = {
        "organization": organization,
        "confirmed": confirmed,
        "waiting": waiting,
        "head": head,
        "sections": sections if confirmed else [],
        "values": values or {},
        "errors": errors or {},
        "by_hand": bool(
            not request.config_dict[CONFIG].dadata.api_key
            or (values or {}).get("name")
            or (errors or {}).get("name")
        ),
    }
    return await render(request, "organization.html", context, status=status)


@requires(Role.AGENT)
async def organization_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@requires(Role.AGENT)
async def organization_attach(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    values = {name: form.get(name, "").strip() for name in ("inn", "kpp", "name")}
    try:
        if not values["inn"]:
            raise Invalid.one("inn", _("fill this in"))
        settled = await attach(
            request.config_dict[SESSIONS],
            request.config_dict[HTTP],
            request.config_dict[CONFIG].dadata,
            actor=actor_of(request),
            number=values["inn"],
            kpp=values["kpp"] or None,
            name=values["name"][:300] or None,
            now=request.config_dict[CLOCK](),
        )
    except Invalid as invalid:
        return await _page(request, values=values, errors=field_errors(invalid), status=422)
    name = {"name": settled.organization.name}
    if settled.created:
        await flash(request, _("You belong to %(name)s now.") % name)
    else:
        message = _(
            "You asked to join %(name)s: a colleague or an admin must confirm you before "
            "you see its payers, addresses and points."
        )
        await flash(request, message % name)
    raise redirect(request, "organization")


async def _decide(request: web.Request, *, accept: bool) -> web.StreamResponse:
    """A confirmed member confirms a waiting colleague, or refuses them."""
    agent_id = int(request.match_info["agent_id"])
    decide = membership.confirm if accept else membership.refuse
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            agent = await decide(
                db, actor=actor_of(request), agent_id=agent_id, now=request.config_dict[CLOCK]()
            )
    except NotFound:
        raise web.HTTPNotFound() from None
    except Invalid as invalid:
        await flash(request, "; ".join(invalid.errors.values()))
        raise redirect(request, "organization") from None
    if accept:
        await flash(
            request, _("%(name)s is a member of the organization now.") % {"name": agent.name}
        )
    else:
        await flash(
            request, _("%(name)s was refused and left the organization.") % {"name": agent.name}
        )
    raise redirect(request, "organization")


@requires(Role.AGENT)
async def member_confirm(request: web.Request) -> web.StreamResponse:
    return await _decide(request, accept=True)


@requires(Role.AGENT)
async def member_refuse(request: web.Request) -> web.StreamResponse:
    return await _decide(request, accept=False)


@requires(Role.AGENT)
async def organization_refresh(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        organization = await own_organization(db, actor=actor)
    if organization is None:
        raise redirect(request, "organization")
    await flash(request, await refreshed(request, organization_id=organization.id))
    raise redirect(request, "organization")


async def refreshed(request: web.Request, *, organization_id: int) -> str:
    """Refresh the organization from DaData; what to tell the person, whatever happened."""
    try:
        organization = await refresh(
            request.config_dict[SESSIONS],
            request.config_dict[HTTP],
            request.config_dict[CONFIG].dadata,
            actor=actor_of(request),
            organization_id=organization_id,
            now=request.config_dict[CLOCK](),
        )
    except NotFound:
        return _("Not refreshed: a colleague or an admin has yet to confirm you.")
    except DadataUnavailable as unavailable:
        return _("Not refreshed: %(reason)s") % {"reason": unavailable.message}
    except Invalid as invalid:
        reason = "; ".join(invalid.errors.values())
        return _("Not refreshed: %(reason)s") % {"reason": reason}
    return _("%(name)s is refreshed from DaData.") % {"name": organization.name}


def add_routes(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app)
    env.tests["unusable"] = unusable
    app.router.add_get("/organization", organization_page, name="organization")
    app.router.add_post("/organization", organization_attach, name="organization.attach")
    app.router.add_post("/organization/refresh", organization_refresh, name="organization.refresh")
    app.router.add_post(MEMBER + "/confirm", member_confirm, name="organization.member.confirm")
    app.router.add_post(MEMBER + "/refuse", member_refuse, name="organization.member.refuse")
