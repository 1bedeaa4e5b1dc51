"""The profile page: who you are, and the language and time zone you read in."""

from __future__ import annotations

from aiohttp import web

from crm import i18n
from crm.auth.profile import ZONES, get_user, save_settings
from crm.errors import Invalid
from crm.i18n import gettext as _
from crm.pages import field_errors, flash, render
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CLOCK, CONFIG, SESSIONS


def _context(request: web.Request, values: dict[str, str], errors: dict[str, str]) -> dict:
    web_config = request.config_dict[CONFIG].web
    chosen = values.get("timezone", "")
    zones = ZONES if not chosen or chosen in ZONES else (*ZONES, chosen)
    return {
        "values": values,
        "errors": errors,
        "languages": [(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
        "zones": zones,
        "default_language": i18n.language_name(web_config.language),
        "default_zone": web_config.timezone,
    }


@requires()
async def profile(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[SESSIONS]() as db:
        user = await get_user(db, actor=actor_of(request))
    values = {"language": user.language or "", "timezone": user.timezone or ""}
    context = {**_context(request, values, {}), "user": user}
    return await render(request, "profile.html", context)


@requires()
async def profile_save(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    values = {"language": form.get("language", ""), "timezone": form.get("timezone", "").strip()}
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            user = await save_settings(
                db,
                actor=actor_of(request),
                language=values["language"] or None,
                timezone=values["timezone"] or None,
                now=request.config_dict[CLOCK](),
            )
    except Invalid as invalid:
        async with request.config_dict[SESSIONS]() as db:
            user = await get_user(db, actor=actor_of(request))
        context = {**_context(request, values, field_errors(invalid)), "user": user}
        return await render(request, "profile.html", context, status=422)
    # The next page is already read by the new settings.
    web_config = request.config_dict[CONFIG].web
    i18n.activate(user.language or web_config.language, user.timezone or web_config.timezone)
    await flash(request, _("Your settings are saved."))
    raise redirect(request, "profile")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/profile", profile, name="profile")
    app.router.add_post("/profile", profile_save, name="profile.save")
