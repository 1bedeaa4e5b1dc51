"""Sign-up pages: a phone, its code, then the account (the admins' page: admin_views.py).

The phone being signed up and its token live in the encrypted session cookie, never in a
URL: URLs reach access logs, and no full phone number may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from crm.errors import Conflict, Invalid
from crm.i18n import gettext as _
from crm.pages import field_errors, flash, render
from crm.schemas import SignupCompleteIn, SignupPhoneIn, SignupVerifyIn, parse
from crm.signup.admin import GateStatus, gate_state
from crm.signup.edge import check_code, send_code
from crm.signup.errors import CodeGone, NotDelivered, Suspended, Throttled
from crm.signup.limits import resend_wait, seconds_until
from crm.signup.service import complete_signup
from crm.web import form_data, home_url, redirect, sign_in
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS
from ivr.logging import mask_phone

PHONE = "signup_phone"
TOKEN = "signup_token"
COMPLETE_FIELDS = ("name", "email", "inn", "kpp", "organization_name")
"""What the last step keeps as typed (the password is typed again)."""


@dataclass(frozen=True)
class Refusal:
    """Why no code went out, as a page shows it."""

    status: int
    message: str
    wait: int = 0
    """Seconds until another try may succeed (Retry-After and the countdown)."""
    login: bool = False
    errors: dict[str, str] | None = None
    """The fields at fault, shown at each field."""


def _with_wait(response: web.Response, wait: int) -> web.Response:
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


def _suspended(wait: int) -> Refusal:
    return Refusal(
        503,
        _("Registration is temporarily suspended: too many sign-ups were asked for just now."),
        wait,
    )


async def _send(request: web.Request, phone: str) -> Refusal | None:
    """Send a code to `phone`; None when it went out, else why not."""
    try:
        await send_code(request, phone)
    except Conflict as conflict:
        message = _("This number has an account already.")
        return Refusal(409, message, login=True, errors=field_errors(conflict))
    except Throttled as throttled:
        return Refusal(429, str(throttled), throttled.retry_after)
    except Suspended as suspended:
        return _suspended(suspended.retry_after)
    except NotDelivered as failed:
        return Refusal(502, str(failed))
    return None


async def _phone_page(
    request: web.Request,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    refusal: Refusal | None = None,
    status: int = 200,
) -> web.Response:
    shown = errors or (refusal.errors if refusal else None) or {}
    context = {"values": values, "errors": shown, "refusal": refusal}
    response = await render(request, "signup_phone.html", context, status=status)
    return _with_wait(response, refusal.wait if refusal else 0)


async def phone_form(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[CONFIG]
    now = request.config_dict[CLOCK]()
    async with request.config_dict[SESSIONS]() as db:
        state = await gate_state(db, settings=config.signup, now=now)
    values = {"phone": ""}
    if state.status is GateStatus.STOPPED:
        wait = seconds_until(state.reopens_at, now) if state.reopens_at else 0
        return await _phone_page(request, values, refusal=_suspended(wait), status=503)
    return await _phone_page(request, values)


async def phone_post(request: web.Request) -> web.StreamResponse:
    values = {"phone": (await form_data(request)).get("phone", "")}
    try:
        phone = parse(SignupPhoneIn, values).phone
    except Invalid as invalid:
        return await _phone_page(request, values, errors=field_errors(invalid), status=422)
    refusal = await _send(request, phone)
    if refusal is None or refusal.status == 429:
        # Throttled: a code sent before may still be waiting, so its page opens too.
        (await get_session(request))[PHONE] = phone
    if refusal is None:
        raise redirect(request, "signup.verify")
    return await _phone_page(request, values, refusal=refusal, status=refusal.status)


async def _session_value(request: web.Request, key: str) -> str:
    """The sign-up's phone or token from the session; without it, back to the start."""
    value = (await get_session(request)).get(key)
    if not isinstance(value, str):
        raise redirect(request, "signup")
    return value


async def _verify_page(
    request: web.Request,
    phone: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: Refusal | None = None,
    status: int = 200,
) -> web.Response:
    wait = refusal.wait if refusal else 0
    if not wait:
        async with request.config_dict[SESSIONS]() as db:
            wait = await resend_wait(
                db,
                phone=phone,
                settings=request.config_dict[CONFIG].signup,
                now=request.config_dict[CLOCK](),
            )
    context = {
        "masked": mask_phone(phone),
        "values": values or {"code": ""},
        "errors": errors or {},
        "refusal": refusal,
        "wait": wait,
    }
    response = await render(request, "signup_verify.html", context, status=status)
    return _with_wait(response, refusal.wait if refusal else 0)


async def verify_form(request: web.Request) -> web.StreamResponse:
    return await _verify_page(request, await _session_value(request, PHONE))


async def verify_post(request: web.Request) -> web.StreamResponse:
    phone = await _session_value(request, PHONE)
    values = {"code": (await form_data(request)).get("code", "")}
    try:
        data = parse(SignupVerifyIn, {"phone": phone, **values})
        token = await check_code(request, phone, data.code)
    except CodeGone as gone:
        return await _verify_page(
            request, phone, values=values, refusal=Refusal(410, str(gone)), status=410
        )
    except Invalid as invalid:
        return await _verify_page(
            request, phone, values=values, errors=field_errors(invalid), status=422
        )
    (await get_session(request))[TOKEN] = token
    raise redirect(request, "signup.complete")


async def resend(request: web.Request) -> web.StreamResponse:
    phone = await _session_value(request, PHONE)
    refusal = await _send(request, phone)
    if refusal is None:
        await flash(request, _("A new code was sent to %(phone)s.") % {"phone": mask_phone(phone)})
        raise redirect(request, "signup.verify")
    return await _verify_page(request, phone, refusal=refusal, status=refusal.status)


async def _complete_page(
    request: web.Request,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    gone: str | None = None,
    login: bool = False,
    status: int = 200,
) -> web.Response:
    phone = (await get_session(request)).get(PHONE)
    errors = errors or {}
    by_hand = (
        not request.config_dict[CONFIG].dadata.api_key
        or bool(values.get("organization_name"))
        or "organization_name" in errors
    )
    context: dict[str, Any] = {
        "masked": mask_phone(phone) if isinstance(phone, str) else None,
        "values": values,
        "errors": errors,
        "gone": gone,
        "login": login,
        "by_hand": by_hand,
    }
    return await render(request, "signup_complete.html", context, status=status)


def _complete_data(values: dict[str, str], *, password: str, token: str) -> SignupCompleteIn:
    """The last step's fields checked; the page asks for the INN, which the API leaves to
    platform sites that may not know it yet."""
    missing = {} if values["inn"].strip() else {"inn": _("fill this in")}
    try:
        data = parse(SignupCompleteIn, {**values, "password": password, "signup_token": token})
    except Invalid as invalid:
        raise Invalid({**invalid.errors, **missing}, invalid.kinds) from None
    if missing:
        raise Invalid(missing)
    return data


async def complete_form(request: web.Request) -> web.StreamResponse:
    await _session_value(request, TOKEN)
    return await _complete_page(request, dict.fromkeys(COMPLETE_FIELDS, ""))


async def complete_post(request: web.Request) -> web.StreamResponse:
    token = await _session_value(request, TOKEN)
    form = await form_data(request)
    values = {name: form.get(name, "") for name in COMPLETE_FIELDS}
    try:
        data = _complete_data(values, password=form.get("password", ""), token=token)
        done = await complete_signup(
            request.config_dict[SESSIONS],
            data=data,
            now=request.config_dict[CLOCK](),
            http=request.config_dict[HTTP],
            dadata=request.config_dict[CONFIG].dadata,
        )
    except CodeGone as gone:
        (await get_session(request)).pop(TOKEN, None)
        return await _complete_page(request, values, gone=str(gone), status=410)
    except Invalid as invalid:
        conflict = isinstance(invalid, Conflict)
        return await _complete_page(
            request,
            values,
            errors=field_errors(invalid),
            login=conflict,
            status=409 if conflict else 422,
        )
    await sign_in(request, done.actor)  # the sign-up's phone and token go with the old one
    raise web.HTTPSeeOther(home_url(request, done.actor))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/signup", phone_form, name="signup")
    app.router.add_post("/signup", phone_post, name="signup.post")
    app.router.add_get("/signup/verify", verify_form, name="signup.verify")
    app.router.add_post("/signup/verify", verify_post, name="signup.verify.post")
    app.router.add_post("/signup/resend", resend, name="signup.resend")
    app.router.add_get("/signup/complete", complete_form, name="signup.complete")
    app.router.add_post("/signup/complete", complete_post, name="signup.complete.post")
