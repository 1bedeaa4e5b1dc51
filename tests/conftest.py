"""Shared fixtures: a migrated database per backend, the app over real HTTP, the simulator."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import text

from crm.db import create_engine, create_sessionmaker
from crm.demo import seed_demo
from crm.schema import metadata
from ivr.app import create_app
from ivr.config import Config
from ivr.migrate import upgrade
from ivr.simulator import TwilioSimulator

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
SESSION_KEY = "yVtZ0ZqK3mH1Qe2cJm8Zr4o0b9sT6uW1xA2dF5gH7jE="
PG_SKIP = "PostgreSQL variant: set IVR_TEST_DATABASE_URL (.ci/run sets it) to run it"


async def _migrate_fresh(url: str) -> None:
    engine = create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
    finally:
        await engine.dispose()


def backend_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database of `backend`, or a visible skip when PostgreSQL is not configured."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite')}/test.sqlite3"
    url = os.environ.get("IVR_TEST_DATABASE_URL")
    if not url:
        pytest.skip(PG_SKIP)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> str:
    url = backend_url(request.param, tmp_path_factory)
    asyncio.run(_migrate_fresh(url))
    return url


@pytest.fixture
async def engine(database_url: str):
    engine = create_engine(database_url)
    yield engine
    async with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return create_sessionmaker(engine)


@pytest.fixture
async def demo(sessions) -> dict:
    async with sessions.begin() as session:
        return await seed_demo(session)


def make_config(database_url: str, **overrides) -> Config:
    values = {
        "database_url": database_url,
        "twilio": {"auth_token": AUTH_TOKEN, "service_number": "+15005550006"},
        "ivr": {"gather_timeout": 5, "max_attempts": 3},
        "web": {"session_key": SESSION_KEY},
        **overrides,
    }
    return Config.model_validate(values)


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(database_url)


@pytest.fixture
async def server(aiohttp_server, config, engine):
    return await aiohttp_server(create_app(config))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def simulator(server, http, config) -> TwilioSimulator:
    return TwilioSimulator(http, server_url=str(server.make_url("")), auth_token=AUTH_TOKEN,
                           service_number=config.twilio.service_number)
