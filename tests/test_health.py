"""/healthz: the database answers in time; /readyz: that, and the schema is at head."""

from __future__ import annotations

import socket
import sqlite3
import time

from sqlalchemy.engine import make_url

from ivr.app import create_app
from ivr.health import CHECK_SECONDS, check_seconds
from ivr.migrate import database_heads, script_heads, upgrade
from tests.conftest import make_config
from tests.test_migrations import downgrade

DEAD_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


async def get_json(http, url: str) -> tuple[int, dict]:
    async with http.get(url) as reply:
        return reply.status, await reply.json()


async def test_migrated_database_is_healthy_and_ready(server, http, database_url):
    [head] = script_heads()
    assert await get_json(http, server.make_url("/healthz")) == (200, {"status": "ok"})
    ready = {"status": "ready", "revision": head}
    assert await get_json(http, server.make_url("/readyz")) == (200, ready)
    if database_url.startswith("sqlite"):
        # Another writer holding SQLite's write lock does not make the checks wait for it.
        holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            assert await get_json(http, server.make_url("/readyz")) == (200, ready)
            assert time.monotonic() - started < CHECK_SECONDS
        finally:
            holder.close()


async def test_unreachable_database_is_neither_healthy_nor_ready(aiohttp_server, http):
    server = await aiohttp_server(create_app(make_config(DEAD_DATABASE)))
    for path in ("/healthz", "/readyz"):
        status, body = await get_json(http, server.make_url(path))
        assert (status, body["status"], body["failing"]) == (503, "unavailable", "database"), path
        assert body["reason"] == "database unreachable (ConnectionRefusedError)"


async def test_sqlite_file_that_cannot_be_opened_is_not_healthy(aiohttp_server, http, tmp_path):
    # A folder where the database file should be: SQLite cannot open it.
    server = await aiohttp_server(create_app(make_config(f"sqlite+aiosqlite:///{tmp_path}")))
    status, body = await get_json(http, server.make_url("/healthz"))
    assert (status, body["failing"]) == (503, "database")
    assert body["reason"] == "database unreachable (OperationalError)"


async def test_database_that_never_answers_is_not_healthy_within_the_webhooks_budget(
    aiohttp_server, http
):
    # Accepts connections (the kernel's backlog) and never says a word, like a frozen server.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        config = make_config(
            f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none", ivr={"answer_budget_ms": 300}
        )
        assert check_seconds(config) == 0.3 < CHECK_SECONDS
        server = await aiohttp_server(create_app(config))
        for path in ("/healthz", "/readyz"):
            status, body = await get_json(http, server.make_url(path))
            assert (status, body["failing"]) == (503, "database"), path
            assert body["reason"] == "database did not answer within 0.3 s"


async def test_schema_behind_the_migrations_is_healthy_but_not_ready(server, http, engine):
    [head] = script_heads()
    await downgrade(engine, "-1")
    try:
        async with engine.connect() as connection:
            [previous] = await database_heads(connection)
        assert await get_json(http, server.make_url("/healthz")) == (200, {"status": "ok"})
        status, body = await get_json(http, server.make_url("/readyz"))
    finally:
        await upgrade(engine)
    assert (status, body["status"], body["failing"]) == (503, "unavailable", "schema")
    assert body["reason"] == (f"schema at {previous}, migrations head is {head}: run `ivr migrate`")
