"""Shared fixtures: a migrated database per backend, the app over real HTTP, the simulator."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import phonenumbers
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from crm.db import create_engine, create_sessionmaker
from crm.demo import seed_demo
from crm.schema import metadata
from ivr.app import create_app
from ivr.config import Config
from ivr.migrate import upgrade
from ivr.simulator import TwilioSimulator
from tests.logcapture import RunLog

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
SESSION_KEY = "yVtZ0ZqK3mH1Qe2cJm8Zr4o0b9sT6uW1xA2dF5gH7jE="
PG_SKIP = "PostgreSQL variant: set IVR_TEST_DATABASE_URL (.ci/run sets it) to run it"


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _postgres_database(server_url: str, name: str, *, drop_only: bool = False) -> None:
    """Create (or drop) a database of our own next to the one CI gives us."""
    engine = create_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not drop_only:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


def backend_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database of `backend`, or a visible skip when PostgreSQL is not configured.

    PostgreSQL gets a database of this test run's own, so two runs never share tables.
    """
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite')}/test.sqlite3"
    server_url = os.environ.get("IVR_TEST_DATABASE_URL")
    if not server_url:
        pytest.skip(PG_SKIP)
    name = f"ivr_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_postgres_database(server_url, name))
    return str(make_url(server_url).set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url = backend_url(request.param, tmp_path_factory)
    asyncio.run(_migrate(url))
    yield url
    if request.param == "postgresql":
        server_url = os.environ["IVR_TEST_DATABASE_URL"]
        asyncio.run(_postgres_database(server_url, make_url(url).database or "", drop_only=True))


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
        # Most tests read English text and UTC times; the Russian interface has tests of its own.
        "web": {"session_key": SESSION_KEY, "language": "en", "timezone": "UTC"},
        # Tests run the background jobs themselves, at a time of their choosing.
        "background": {"enabled": False},
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
    return TwilioSimulator(
        http,
        server_url=str(server.make_url("")),
        auth_token=AUTH_TOKEN,
        service_number=config.twilio.service_number,
    )


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get("IVR_TEST_DATABASE_URL"):
        return "databases: SQLite and PostgreSQL (IVR_TEST_DATABASE_URL)"
    return f"databases: SQLite only. {PG_SKIP}"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if PG_SKIP in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} PostgreSQL variants skipped. {PG_SKIP}", yellow=True
        )


# The whole run's log, searched at the end for the demo clients' numbers (issue 7, defect 6).
_RUN_LOG: list[RunLog] = []


def _demo_client_number_forms() -> set[str]:
    """Each demo client's number as E.164, URL-encoded, without the plus and national."""
    from crm.demo import CLIENTS

    forms: set[str] = set()
    for client in CLIENTS:
        phone = client["phone"]
        national = str(phonenumbers.parse(phone).national_number)
        forms |= {phone, "%2B" + phone[1:], "%2b" + phone[1:], phone[1:], national}
    return forms


def pytest_sessionstart(session: pytest.Session) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ivr-run-log-"))
    run_log = RunLog(folder / "run.jsonl")
    run_log.start()
    _RUN_LOG.append(run_log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any logged line holds a demo client's number unmasked."""
    if not _RUN_LOG:
        return
    run_log = _RUN_LOG.pop()
    run_log.stop()
    leaked = run_log.lines_with(_demo_client_number_forms())
    if not leaked:
        shutil.rmtree(run_log.path.parent, ignore_errors=True)
        return
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "demo client numbers in the log", red=True)
        reporter.write_line(
            f"{len(leaked)} logged lines hold a demo client's number unmasked "
            f"(whole log: {run_log.path}); the first: {leaked[0][:500]}",
            red=True,
        )
