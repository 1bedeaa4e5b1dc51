"""Admin → Lockouts: callers locked out for guessing request numbers, and unlocking them."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.errors import Invalid
from crm.i18n import gettext as _
from crm.lockout.service import list_lockouts, unlock
from crm.pages import flash, page_arg, render
from crm.web import actor_of, redirect, requires
from ivr.keys import CLOCK, CONFIG, SESSIONS

SHOWN = {"": True, "all": None}
"""The page's tabs: those in force (the default), and every lockout."""


@requires(Role.ADMIN)
async def lockouts(request: web.Request) -> web.StreamResponse:
    shown = request.query.get("show", "")
    shown = shown if shown in SHOWN else ""
    now = request.config_dict[CLOCK]()
    async with request.config_dict[SESSIONS]() as db:
        found = await list_lockouts(
            db, actor=actor_of(request), now=now, active=SHOWN[shown], page=page_arg(request)
        )
    context = {
        "lockouts": found,
        "now": now,
        "show": shown,
        "settings": request.config_dict[CONFIG].ivr.lockout,
        "query": {"show": shown} if shown else {},
    }
    return await render(request, "admin_lockouts.html", context)


@requires(Role.ADMIN)
async def lockout_unlock(request: web.Request) -> web.StreamResponse:
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            view = await unlock(
                db,
                actor=actor_of(request),
                lockout_id=int(request.match_info["lockout_id"]),
                now=request.config_dict[CLOCK](),
            )
    except Invalid:
        await flash(
            request, _("That lockout is not in force any more: there was nothing to unlock.")
        )
    else:
        who = view.manager or view.lockout.caller
        message = _("%(who)s is unlocked; wrong numbers count afresh from now.")
        await flash(request, message % {"who": who})
    raise redirect(request, "admin.lockouts")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/lockouts", lockouts, name="admin.lockouts")
    app.router.add_post(
        r"/admin/lockouts/{lockout_id:\d{1,9}}/unlock", lockout_unlock, name="admin.lockouts.unlock"
    )
