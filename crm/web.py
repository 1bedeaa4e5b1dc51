"""What every CRM page shares: templates, sessions, the signed-in actor, CSRF, role checks."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web
from aiohttp_jinja2 import REQUEST_CONTEXT_KEY
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from multidict import MultiDictProxy
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from yarl import URL

from crm import i18n
from crm.auth.service import Actor, load_actor
from crm.enums import Role
from crm.errors import Forbidden, NotFound
from crm.i18n import gettext as _
from ivr.config import Config
from ivr.keys import CONFIG, SESSIONS, url_for

HERE = Path(__file__).parent
log = structlog.get_logger("crm.web")
ACTOR = "actor"
CSRF_FIELD = "_csrf"
USER_ID = "user_id"
GENERATION = "generation"
STATIC = HERE / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_web(app: web.Application, config: Config) -> None:
    """Sessions in an encrypted cookie, Jinja templates with escaping, CSRF, error pages."""
    secure = (config.public_url or "").startswith("https://")
    setup_sessions(
        app,
        EncryptedCookieStorage(
            config.web.session_key,
            cookie_name="ivr_session",
            httponly=True,
            samesite="Lax",
            secure=secure,
            max_age=config.web.session_max_age,
        ),
    )
    # Outermost, so a failure anywhere (loading the actor too) gets the friendly page; the
    # actor must be loaded before the template context processors read it.
    app.middlewares.append(domain_errors)
    app.middlewares.append(actor_middleware)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        context_processors=[_context],
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the extension
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.globals["language"] = lambda: i18n.reader().language
    for language in i18n.LANGUAGES:
        i18n.catalogue(language)  # a broken catalogue fails at start, not on a page
    app.middlewares.append(csrf_middleware)
    app.on_response_prepare.append(_page_headers)


PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show client phones: no browser or proxy may keep a copy.
    "Cache-Control": "no-store",
}


async def _page_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)


async def _context(request: web.Request) -> dict[str, Any]:
    return {
        "actor": request.get(ACTOR),
        "csrf_token": await csrf_token(request),
        "Role": Role,
        "url": _url_maker(request),
    }


def _url_maker(request: web.Request) -> Callable[..., URL]:
    return lambda name, **parts: URL(url_for(request, name, **parts))


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


@web.middleware
async def actor_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the signed-in user of a page request into request['actor'] (or None), and answer
    in their language and time zone (before login: the browser's language)."""
    web_config = request.config_dict[CONFIG].web
    default_zone = ZoneInfo(web_config.timezone)
    i18n.activate(
        i18n.negotiate(request.headers.get("Accept-Language", ""), web_config.language),
        default_zone,
    )
    session = await get_session(request)
    actor = None
    user_id, generation = session.get(USER_ID), session.get(GENERATION)
    if isinstance(user_id, int):
        if isinstance(generation, int):
            async with request.config_dict[SESSIONS]() as db:
                actor = await load_actor(db, user_id=user_id, generation=generation)
        if actor is None:
            session.invalidate()
    request[ACTOR] = actor
    if actor is not None:
        i18n.activate(
            actor.language or web_config.language,
            i18n.zone_or_none(actor.timezone) or default_zone,
        )
    return await handler(request)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every form post of a page must carry the session's token (a post to no page: 404)."""
    if request.method == "POST" and request.match_info.http_exception is None:
        form = await read_form(request)
        session = await get_session(request)
        expected = session.get(CSRF_FIELD)
        given = form.get(CSRF_FIELD)
        if (
            not expected
            or not isinstance(given, str)
            or not secrets.compare_digest(given, expected)
        ):
            return error_page(
                request,
                403,
                _("Form expired"),
                _(
                    "This form was not accepted (its security token is missing or "
                    "out of date). Go back, reload the page and send it again."
                ),
            )
    return await handler(request)


class UnreadableForm(Exception):
    """The posted body is not a form any page sends (bad encoding, a file, a nameless part)."""


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The posted form; UnreadableForm when it cannot be read as plain text fields."""
    try:
        form = await request.post()
    except (ValueError, LookupError) as error:  # UnicodeDecodeError is a ValueError
        raise UnreadableForm(str(error)) from None
    if any(not isinstance(value, str) for value in form.values()):
        raise UnreadableForm("a file was posted")
    return form  # type: ignore[return-value]  # every value is a str, checked above


UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError)
"""What a database that is down, unreachable or not answering raises."""


@web.middleware
async def domain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """NotFound and Forbidden from a service become the same friendly pages everywhere."""
    try:
        return await handler(request)
    except UnreadableForm as error:
        log.warning(
            "page_form_unreadable", method=request.method, path=request.path, error=str(error)
        )
        return error_page(
            request,
            400,
            _("Form not readable"),
            _("This form could not be read. Go back, reload the page and send it again."),
        )
    except UNAVAILABLE as error:
        log.warning(
            "page_database_unavailable",
            method=request.method,
            path=request.path,
            error=type(error).__name__,
        )
        response = error_page(
            request,
            503,
            _("Temporarily unavailable"),
            _("The service cannot reach its database right now. Please try again in a moment."),
        )
        response.headers["Retry-After"] = "30"
        return response
    except (NotFound, web.HTTPNotFound):
        return error_page(
            request,
            404,
            _("Not found"),
            _("There is nothing here, or it is not yours."),
        )
    except web.HTTPMethodNotAllowed as error:
        response = error_page(
            request,
            405,
            _("Not here"),
            _("This page cannot be used that way. Go back and use its links."),
        )
        response.headers["Allow"] = ", ".join(sorted(error.allowed_methods))
        return response
    except Forbidden:
        return error_page(
            request,
            403,
            _("Not allowed"),
            _("Your role does not open this page."),
        )
    except IntegrityError:
        log.warning("page_conflict", method=request.method, path=request.path)
        return error_page(
            request,
            409,
            _("Changed at the same moment"),
            _("Someone saved the same record just now. Go back and send the form again."),
        )
    except web.HTTPException:
        raise
    except Exception:
        log.exception("page_failed", method=request.method, path=request.path)
        return error_page(
            request,
            500,
            _("Something went wrong"),
            _(
                "It has been logged. Go back and try again in a moment; what you "
                "typed is still in the form."
            ),
        )


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    """The one page every refusal and failure of a page request is shown on."""
    context: dict[str, Any] = {"title": title, "message": message}
    if REQUEST_CONTEXT_KEY not in request:
        # The failure came before the template context was made (loading the actor).
        context.update(actor=None, Role=Role, url=_url_maker(request))
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Page handlers for signed-in users of these roles; others go to the login page."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            actor: Actor | None = request.get(ACTOR)
            if actor is None:
                login = URL(url_for(request, "login")).with_query(next=request.path_qs)
                raise web.HTTPSeeOther(login)
            if roles and actor.role not in roles:
                raise Forbidden(f"{actor.role} may not open {request.path}")
            return await handler(request)

        return wrapper

    return decorate


async def sign_in(request: web.Request, actor: Actor) -> None:
    """A fresh session for `actor`: whatever the old one held goes, its CSRF token stays (so
    a form open in another tab still posts)."""
    csrf = (await get_session(request)).get(CSRF_FIELD)
    session = await new_session(request)
    session[USER_ID] = actor.user_id
    session[GENERATION] = actor.session_generation
    if csrf:
        session[CSRF_FIELD] = csrf


def actor_of(request: web.Request) -> Actor:
    actor = request.get(ACTOR)
    if actor is None:
        raise web.HTTPUnauthorized()
    return actor


def home_url(request: web.Request, actor: Actor) -> str:
    name = {
        Role.ADMIN: "admin.organizations",
        Role.AGENT: "requests.list",
        Role.MANAGER: "partner.requests",
    }[actor.role]
    return url_for(request, name)


def redirect(request: web.Request, name: str, **parts: Any) -> web.HTTPSeeOther:
    """A 303 to a named route (raise it)."""
    return web.HTTPSeeOther(url_for(request, name, **parts))


def client_address(request: web.Request) -> str | None:
    """The browser's address: behind a trusted proxy, the hop that proxy added last."""
    if request.config_dict[CONFIG].trust_proxy:
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
        if hops[-1]:
            return hops[-1]
    return request.remote


async def form_data(request: web.Request) -> dict[str, str]:
    """The posted form as plain strings (without the CSRF field and NUL characters)."""
    form = await read_form(request)
    return {key: value.replace("\x00", "") for key, value in form.items() if key != CSRF_FIELD}
