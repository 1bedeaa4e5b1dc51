"""Admin → Sign-up: the service-wide count, its state, every recent code, lifting a stop."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.i18n import N_, gettext
from crm.pages import flash, page_arg, render
from crm.signup.admin import GateStatus, gate_state, lift_stop, recent_codes
from crm.web import actor_of, redirect, requires
from ivr.keys import CLOCK, CONFIG, SESSIONS
from ivr.logging import mask_phone

LIFTED = {
    GateStatus.OPEN: N_("The stop is lifted: sign-up is open, counted from now."),
    GateStatus.SUSPICIOUS: N_("The stop is lifted: sign-up is suspicious, counted from now."),
    GateStatus.STOPPED: N_("The stop is lifted: sign-up is stopped, counted from now."),
}
"""What lifting says, by the state sign-up is in afterwards."""


@requires(Role.ADMIN)
async def admin_signup(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[CONFIG].signup
    now = request.config_dict[CLOCK]()
    async with request.config_dict[SESSIONS]() as db:
        state = await gate_state(db, settings=settings, now=now)
        codes = await recent_codes(db, actor=actor_of(request), page=page_arg(request))
    context = {"state": state, "codes": codes, "mask": mask_phone, "GateStatus": GateStatus}
    return await render(request, "admin_signup.html", context)


@requires(Role.ADMIN)
async def admin_lift(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[SESSIONS].begin() as db:
        state = await lift_stop(
            db,
            actor=actor_of(request),
            settings=request.config_dict[CONFIG].signup,
            now=request.config_dict[CLOCK](),
        )
    if state is None:
        await flash(request, gettext("Sign-up is not stopped: there was nothing to lift."))
    else:
        await flash(request, gettext(LIFTED[state.status]))
    raise redirect(request, "admin.signup")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/signup", admin_signup, name="admin.signup")
    app.router.add_post("/admin/signup/lift", admin_lift, name="admin.signup.lift")
