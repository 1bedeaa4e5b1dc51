"""The aiohttp application: shared objects behind AppKeys, routes, middlewares."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from twilio.request_validator import RequestValidator

from crm.db import create_engine, create_sessionmaker
from crm.routes import add_crm
from ivr.config import Config
from ivr.keys import CONFIG, ENGINE, RECORDINGS, SESSIONS, VALIDATOR
from ivr.sounds import Recordings
from ivr.webhooks.guard import request_context, twilio_guard
from ivr.webhooks.handlers import add_routes


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[CONFIG].database_url)
    app[ENGINE] = engine
    app[SESSIONS] = create_sessionmaker(engine)
    yield
    await engine.dispose()


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(config: Config, *, recordings: Recordings | None = None) -> web.Application:
    """The whole service for `config`; nothing is read from argv or the environment here."""
    app = web.Application(middlewares=[request_context, twilio_guard], client_max_size=256 * 1024)
    app[CONFIG] = config
    app[VALIDATOR] = RequestValidator(config.twilio.auth_token)
    app[RECORDINGS] = recordings if recordings is not None else Recordings.load()
    app.cleanup_ctx.append(_database)
    add_routes(app)
    add_crm(app)
    app.router.add_get("/healthz", health, name="health")
    return app
