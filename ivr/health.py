"""Liveness and readiness, at the root where no area's middleware applies.

/healthz  the database answers a `SELECT 1` within `CHECK_SECONDS`: 200, else 503
/readyz   that, and the schema is at the migrations' head (read once at start-up)
Each 503 says in JSON what is wrong.
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
from ivr.keys import READER
from ivr.migrate import database_heads, script_heads

log = structlog.get_logger("ivr.health")

CHECK_SECONDS = 2.0
"""A check that takes longer than this reports the database unreachable."""
HEADS: web.AppKey[frozenset[str]] = web.AppKey("migration_heads")
"""The revisions `migrations/` ends in, read when the app starts."""

T = TypeVar("T")


class Unavailable(Exception):
    """The database cannot be reached; the message is the reason given."""


async def _ask(request: web.Request, question: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`question` answered over a connection of the app's engine, within `CHECK_SECONDS`."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            async with request.config_dict[READER].connect() as connection:
                # Reads only: on SQLite a check must not queue for the write lock.
                await connection.execution_options(**{DEFERRED: True})
                return await question(connection)
    except Exception as error:
        log.warning("health_database_unreachable", error=type(error).__name__)
        raise Unavailable(f"database unreachable ({type(error).__name__})") from None


async def _select_one(connection: AsyncConnection) -> None:
    await connection.execute(text("SELECT 1"))


def _unavailable(reason: str) -> web.Response:
    return web.json_response({"status": "unavailable", "reason": reason}, status=503)


async def healthz(request: web.Request) -> web.Response:
    """200 while the database answers; 503 with the reason when it does not."""
    try:
        await _ask(request, _select_one)
    except Unavailable as error:
        return _unavailable(str(error))
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the database answers and its schema is at the migrations' head."""
    try:
        current = await _ask(request, database_heads)
    except Unavailable as error:
        return _unavailable(str(error))
    expected = request.config_dict[HEADS]
    if current != expected:
        found = ", ".join(sorted(current)) or "no revision"
        wanted = ", ".join(sorted(expected))
        return _unavailable(f"schema at {found}, migrations head is {wanted}: run `ivr migrate`")
    return web.json_response({"status": "ready", "revision": ", ".join(sorted(expected))})


async def _read_heads(app: web.Application) -> None:
    app[HEADS] = script_heads()


def add_health_routes(app: web.Application) -> None:
    """`/healthz` and `/readyz` on `app` (the root application)."""
    app.on_startup.append(_read_heads)
    app.router.add_get("/healthz", healthz, name="health")
    app.router.add_get("/readyz", readyz, name="ready")
