"""The aiohttp application: one sub-application per area, shared objects opened at the root.

/ivr/…     voice webhooks     Twilio signature, call context in logs, spoken apology
/sms/…     messaging webhooks Twilio signature, an empty <Response/> on failure
/api/v1/…  the JSON API       bearer keys, JSON errors
(the rest) the CRM pages      sessions, CSRF, the signed-in user, friendly error pages
/healthz, /readyz (ivr/health.py), /metrics (ivr/metrics.py), /static/, /sounds/  at the root,
where none of those apply
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.web_urldispatcher import (
    AbstractRuleMatching,
    MatchedSubAppResource,
    PrefixedSubAppResource,
)
from twilio.request_validator import RequestValidator

from crm.db import create_engine, create_reader, create_sessionmaker
from crm.routes import create_api_app, create_pages_app
from crm.web import STATIC
from ivr.background import background_tasks
from ivr.clients import outbound_clients
from ivr.config import Config
from ivr.health import add_health_routes
from ivr.keys import (
    CLOCK,
    CONFIG,
    ENGINE,
    READER,
    ROUTES,
    SESSIONS,
    VALIDATOR,
    Clock,
    utc_now,
)
from ivr.logging import OneLineAccessLogger, request_context
from ivr.metrics import add_metrics
from ivr.sounds import Recordings
from ivr.webhooks.context import CONTEXTS, RECORDINGS
from ivr.webhooks.handlers import create_voice_app, sound
from ivr.webhooks.messaging import create_messaging_app

if TYPE_CHECKING:
    from aiohttp.web_urldispatcher import _InfoDict

API_PREFIX = "/api"


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    engine = create_engine(config.database_url, timeouts=config.database)
    reader = create_reader(config.database_url, engine, timeouts=config.database)
    app[ENGINE], app[READER] = engine, reader
    app[SESSIONS] = create_sessionmaker(engine)
    yield
    await engine.dispose()
    if reader is not engine:
        await reader.dispose()


class Unclaimed(AbstractRuleMatching):
    """Matches a path no other route or area of the root claims: the pages' catch-all."""

    def __init__(self, root: web.Application) -> None:
        self._root = root

    async def match(self, request: web.Request) -> bool:
        path = request.rel_url.path_safe
        for resource in self._root.router.resources():
            if isinstance(resource, MatchedSubAppResource):
                continue
            if isinstance(resource, PrefixedSubAppResource):
                # The router finds these by prefix; their own resolve does not check it.
                if path == resource.canonical or path.startswith(resource.canonical + "/"):
                    return False
                continue
            match_info, allowed = await resource.resolve(request)
            if match_info is not None or allowed:
                return False
        return True

    def get_info(self) -> _InfoDict:
        return {"rule": self}

    @property
    def canonical(self) -> str:
        return "/"


def _mount_pages(root: web.Application, pages: web.Application) -> None:
    """The CRM pages own every path the other areas leave: `/login`, `/requests`, `/`, …

    aiohttp mounts a sub-application by prefix or by a matching rule; pages have no prefix
    of their own, so they are mounted the way `add_domain` mounts, with the rule above.
    """
    root._add_subapp(partial(MatchedSubAppResource, Unclaimed(root), pages), pages)


def _named_routes(app: web.Application) -> dict[str, web.AbstractResource]:
    routes = dict(app.router.named_resources())
    for resource in app.router.resources():
        subapp = resource.get_info().get("app")
        if isinstance(subapp, web.Application):
            routes.update(_named_routes(subapp))
    return routes


def create_app(
    config: Config, *, recordings: Recordings | None = None, clock: Clock = utc_now
) -> web.Application:
    """The whole service for `config`; nothing is read from argv or the environment here."""
    app = web.Application(
        middlewares=[request_context],
        client_max_size=256 * 1024,
        # Request lines up to 32 KiB reach the app, so the API can refuse one over 8 KiB in
        # JSON (414) instead of aiohttp's plain-text 400.
        handler_args={"max_line_size": 32 * 1024, "access_log_class": OneLineAccessLogger},
    )
    app[CONFIG] = config
    app[CLOCK] = clock
    app[VALIDATOR] = RequestValidator(config.twilio.auth_token)
    app[RECORDINGS] = recordings if recordings is not None else Recordings.load()
    app[CONTEXTS] = {}
    app.cleanup_ctx.extend([_database, outbound_clients, background_tasks])
    app.add_subapp("/ivr", create_voice_app())
    app.add_subapp("/sms", create_messaging_app())
    app.add_subapp(API_PREFIX, create_api_app())
    add_health_routes(app)
    add_metrics(app)
    app.router.add_static("/static", STATIC, name="static")
    app.router.add_get("/sounds/{language}/{key}.wav", sound, name="ivr.sound")
    _mount_pages(app, create_pages_app(config))
    app[ROUTES] = _named_routes(app)
    return app
