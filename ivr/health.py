"""Liveness and readiness, at the root where no area's middleware applies.

/healthz  the process answers and so does its database (`SELECT 1`) within `check_seconds`:
          200, else 503 — a process that cannot reach its database cannot answer a call
/readyz   that, and the schema is at the migrations' head (read once at start-up): point
          the load balancer here, so a process never gets calls before `ivr migrate`
Each 503 says in JSON what is wrong: `failing` names the part (`database`, `schema`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.db import DEFERRED
from ivr.config import Config
from ivr.keys import CONFIG, READER
from ivr.migrate import database_heads, script_heads

log = structlog.get_logger("ivr.health")

CHECK_SECONDS = 2.0
"""The longest a check waits for the database, however long a webhook may take."""
HEADS: web.AppKey[frozenset[str]] = web.AppKey("migration_heads")
"""The revisions `migrations/` ends in, read when the app starts."""

T = TypeVar("T")


class Unavailable(Exception):
    """A part the service needs does not work; the message is the reason given."""

    def __init__(self, failing: str, reason: str) -> None:
        super().__init__(reason)
        self.failing = failing


def check_seconds(config: Config) -> float:
    """How long a check waits for the database: no longer than a webhook could wait for it."""
    return min(CHECK_SECONDS, config.ivr.answer_budget_ms / 1000)


async def _ask(request: web.Request, question: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`question` answered over a connection of the app's engine, within `check_seconds`."""
    seconds = check_seconds(request.config_dict[CONFIG])
    try:
        async with asyncio.timeout(seconds):
            async with request.config_dict[READER].connect() as connection:
                # Reads only: on SQLite a check must not queue for the write lock.
                await connection.execution_options(**{DEFERRED: True})
                return await question(connection)
    except TimeoutError:
        log.warning("health_database_unreachable", error="TimeoutError", seconds=seconds)
        raise Unavailable("database", f"database did not answer within {seconds:g} s") from None
    except Exception as error:
        log.warning("health_database_unreachable", error=type(error).__name__)
        reason = f"database unreachable ({type(error).__name__})"
        raise Unavailable("database", reason) from None


async def _select_one(connection: AsyncConnection) -> None:
    await connection.execute(text("SELECT 1"))


def _unavailable(error: Unavailable) -> web.Response:
    body = {"status": "unavailable", "failing": error.failing, "reason": str(error)}
    return web.json_response(body, status=503)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while the process runs and its database answers; 503 naming it if not."""
    try:
        await _ask(request, _select_one)
    except Unavailable as error:
        return _unavailable(error)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: healthy, and the database's schema is at the migrations' head."""
    try:
        current = await _ask(request, database_heads)
    except Unavailable as error:
        return _unavailable(error)
    expected = request.config_dict[HEADS]
    if current != expected:
        found = ", ".join(sorted(current)) or "no revision"
        wanted = ", ".join(sorted(expected))
        reason = f"schema at {found}, migrations head is {wanted}: run `ivr migrate`"
        return _unavailable(Unavailable("schema", reason))
    return web.json_response({"status": "ready", "revision": ", ".join(sorted(expected))})


async def _read_heads(app: web.Application) -> None:
    app[HEADS] = script_heads()


def add_health_routes(app: web.Application) -> None:
    """`/healthz` and `/readyz` on `app` (the root application)."""
    app.on_startup.append(_read_heads)
    app.router.add_get("/healthz", healthz, name="health")
    app.router.add_get("/readyz", readyz, name="ready")
