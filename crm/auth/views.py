"""Login and logout pages."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from yarl import URL

from crm.auth.service import Actor, LoginRefused, authenticate
from crm.auth.sessions import end_sessions
from crm.web import ACTOR, client_address, form_data, home_url, sign_in
from ivr.keys import SESSIONS, url_for


def _safe_next(value: str | None) -> str | None:
    """Only a path of this site: never send a user to another site after login."""
    if not value or any(char in value for char in "\\\t\r\n") or len(value) > 2000:
        return None
    try:
        url = URL(value)
    except ValueError:
        return None
    if (
        url.scheme
        or url.host is not None
        or not url.path.startswith("/")
        or url.path.startswith("//")
    ):
        return None
    return str(URL.build(path=url.path, query=url.query_string))


async def index(request: web.Request) -> web.StreamResponse:
    actor = request.get(ACTOR)
    if actor is None:
        raise web.HTTPSeeOther(url_for(request, "login"))
    raise web.HTTPSeeOther(home_url(request, actor))


@aiohttp_jinja2.template("login.html")
async def login_form(request: web.Request) -> dict:
    return {"email": "", "error": None, "next": _safe_next(request.query.get("next"))}


async def login(request: web.Request) -> web.StreamResponse:
    form = await form_data(request)
    email = form.get("email", "").strip()
    next_url = _safe_next(form.get("next"))
    refused: LoginRefused | None = None
    async with request.config_dict[SESSIONS].begin() as db:
        try:
            actor = await authenticate(
                db,
                email=email,
                password=form.get("password", ""),
                ip=client_address(request),
                now=datetime.now(UTC),
            )
        except LoginRefused as error:
            refused = error  # caught inside the transaction so the counted failure is kept
    if refused is not None:
        status = 429 if refused.retry_after else 401
        response = aiohttp_jinja2.render_template(
            "login.html",
            request,
            {"email": email, "error": str(refused), "next": next_url},
            status=status,
        )
        if refused.retry_after:
            response.headers["Retry-After"] = str(refused.retry_after)
        return response
    await sign_in(request, actor)
    raise web.HTTPSeeOther(next_url or home_url(request, actor))


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session everywhere: a copy of the cookie kept from before opens nothing."""
    actor: Actor | None = request.get(ACTOR)
    if actor is not None:
        async with request.config_dict[SESSIONS].begin() as db:
            await end_sessions(db, user_id=actor.user_id)
    (await get_session(request)).invalidate()
    raise web.HTTPSeeOther(url_for(request, "login"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index, name="index")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login, name="login.post")
    app.router.add_post("/logout", logout, name="logout")
