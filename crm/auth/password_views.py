"""Password pages: change your own, "forgot your password", the emailed link, the admins' button.

A reset link's token is in its path, `/password/reset/<token>`; `ivr.logging` keeps it out
of every log line.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.passwords import MIN_LENGTH
from crm.auth.profile import get_user
from crm.auth.profile_views import _context as profile_context
from crm.auth.resets import (
    LinkRefused,
    ResetUrl,
    TooManyTries,
    change_password,
    check_link,
    request_reset,
    reset_password,
    send_reset,
)
from crm.enums import Role
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Manager
from crm.pages import field_errors, flash, render
from crm.web import actor_of, client_address, form_data, redirect, requires, sign_in
from ivr.keys import CLOCK, CONFIG, SESSIONS, url_for

TOKEN = "{token}"


def reset_url_for(request: web.Request) -> ResetUrl:
    """Reset links on the public base URL (`public_url`, else this request's own origin)."""
    base = request.config_dict[CONFIG].public_url or str(request.url.origin())
    return lambda token: base + url_for(request, "password.reset", token=token)


def _with_wait(response: web.Response, wait: int) -> web.Response:
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


@requires()
async def change(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    invalid: Invalid | None = None
    async with request.config_dict[SESSIONS].begin() as db:
        try:
            actor = await change_password(
                db,
                actor=actor_of(request),
                current=form.get("current_password", ""),
                password=form.get("password", ""),
                repeat=form.get("password_repeat", ""),
                ip=client_address(request),
                now=request.config_dict[CLOCK](),
            )
        except Invalid as error:
            invalid = error  # caught inside the transaction so a counted failure is kept
    if invalid is not None:
        async with request.config_dict[SESSIONS]() as db:
            user = await get_user(db, actor=actor_of(request))
        values = {"language": user.language or "", "timezone": user.timezone or ""}
        context = {
            **profile_context(request, values, {}),
            "user": user,
            "password_errors": field_errors(invalid),
        }
        wait = invalid.retry_after if isinstance(invalid, TooManyTries) else 0
        response = await render(request, "profile.html", context, status=429 if wait else 422)
        return _with_wait(response, wait)
    await sign_in(request, actor)  # this browser stays signed in; every other session ended
    await flash(request, _("Your password is changed. Every other session is signed out."))
    raise redirect(request, "profile")


async def forgot_form(request: web.Request) -> web.StreamResponse:
    return await render(request, "password_forgot.html", {"values": {}, "errors": {}})


async def forgot(request: web.Request) -> web.StreamResponse:
    """The same page whether or not the email has an account (and the same work up to it)."""
    form = await form_data(request)
    email = form.get("email", "").strip()
    if "@" not in email:
        errors = {"email": _("enter a valid email address")}
        context = {"values": {"email": email}, "errors": errors}
        return await render(request, "password_forgot.html", context, status=422)
    config = request.config_dict[CONFIG]
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            await request_reset(
                db,
                email=email,
                ip=client_address(request),
                now=request.config_dict[CLOCK](),
                web=config.web,
                reset_url=reset_url_for(request),
            )
    except TooManyTries as throttled:
        context = {"values": {"email": email}, "errors": throttled.errors}
        response = await render(request, "password_forgot.html", context, status=429)
        return _with_wait(response, throttled.retry_after)
    return await render(request, "password_sent.html", {})


def _token(request: web.Request) -> str:
    return request.match_info["token"]


def _reset_context(request: web.Request, errors: dict[str, str]) -> dict:
    return {"token": _token(request), "errors": errors, "min_length": MIN_LENGTH}


async def _gone(request: web.Request, refused: LinkRefused) -> web.Response:
    return await render(request, "password_link_gone.html", {"message": str(refused)}, status=410)


async def reset_form(request: web.Request) -> web.StreamResponse:
    try:
        async with request.config_dict[SESSIONS]() as db:
            await check_link(db, token=_token(request), now=request.config_dict[CLOCK]())
    except LinkRefused as refused:
        return await _gone(request, refused)
    return await render(request, "password_reset.html", _reset_context(request, {}))


async def reset(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    password, repeat = form.get("password", ""), form.get("password_repeat", "")
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            await reset_password(
                db,
                token=_token(request),
                password=password,
                repeat=repeat,
                now=request.config_dict[CLOCK](),
            )
    except LinkRefused as refused:
        return await _gone(request, refused)
    except Invalid as invalid:
        context = _reset_context(request, field_errors(invalid))
        return await render(request, "password_reset.html", context, status=422)
    await flash(request, _("Your new password is set. Log in with it."))
    raise redirect(request, "password.done")


async def done(request: web.Request) -> web.StreamResponse:
    """The log-in page, with the notice the reset left (the login page itself shows none)."""
    return await render(request, "login.html", {"email": "", "error": None, "next": None})


async def _target(request: web.Request) -> tuple[int, web.HTTPSeeOther]:
    """The login an admin's button is for (by user, agent or manager id), and the way back."""
    match = request.match_info
    if "agent_id" in match:
        where = User.agent_id == int(match["agent_id"])
    elif "manager_id" in match:
        where = User.manager_id == int(match["manager_id"])
    else:
        where = User.id == int(match["user_id"])
    async with request.config_dict[SESSIONS]() as db:
        user = await db.scalar(select(User).where(where))
        if user is None:
            raise NotFound("no such login")
        organization_id = await db.scalar(
            select(Manager.organization_id).where(Manager.id == user.manager_id)
        )
    if organization_id is not None:
        return user.id, redirect(request, "admin.organization", organization_id=organization_id)
    if user.role is Role.ADMIN:
        return user.id, redirect(request, "admin.api_keys")
    return user.id, redirect(request, "admin.agents")


@requires(Role.ADMIN)
async def admin_send(request: web.Request) -> web.StreamResponse:
    """An admin's "Send password reset link" button."""
    user_id, back = await _target(request)
    config = request.config_dict[CONFIG]
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            sent = await send_reset(
                db,
                actor=actor_of(request),
                user_id=user_id,
                now=request.config_dict[CLOCK](),
                web=config.web,
                reset_url=reset_url_for(request),
            )
    except Invalid as invalid:
        await flash(request, invalid.errors["user_id"])
        raise back from None
    message = _("A link to set a new password is on its way to %(email)s.")
    await flash(request, message % {"email": sent.user.email})
    raise back


def add_routes(app: web.Application) -> None:
    app.router.add_post("/profile/password", change, name="profile.password")
    app.router.add_get("/password/forgot", forgot_form, name="password.forgot")
    app.router.add_post("/password/forgot", forgot, name="password.forgot.post")
    app.router.add_get(f"/password/reset/{TOKEN}", reset_form, name="password.reset")
    app.router.add_post(f"/password/reset/{TOKEN}", reset, name="password.reset.post")
    app.router.add_get("/password/done", done, name="password.done")
    for kind in ("user", "agent", "manager"):
        path = rf"/admin/{kind}s/{{{kind}_id:\d{{1,9}}}}/password-reset"
        app.router.add_post(path, admin_send, name=f"admin.{kind}.password_reset")
