"""Several server processes on one PostgreSQL database: `ivr serve --workers N`.

A call's state lives in the database, so any process answers any of its steps.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from crm.db import create_engine, create_sessionmaker
from crm.demo import seed_demo
from ivr.simulator import ScriptedCaller, TwilioSimulator
from tests.conftest import AUTH_TOKEN, _migrate, _postgres_database, backend_url
from tests.helpers import ANNA, open_polis
from tests.processes import IVR, children, service_env, serving, stop

PUBLIC = "http://ivr.test"
"""The one public URL every process signs against, whichever answers."""


async def _seeded(url: str) -> dict:
    await _migrate(url)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            return await seed_demo(session)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    """A seeded PostgreSQL database of this module's own (a visible skip without one)."""
    url = backend_url("postgresql", tmp_path_factory)
    demo = asyncio.run(_seeded(url))
    yield url, demo
    server_url = os.environ["IVR_TEST_DATABASE_URL"]
    name = make_url(url).database or ""
    asyncio.run(_postgres_database(server_url, name, drop_only=True))


class Alternating(TwilioSimulator):
    """Twilio that sends each webhook of a call to the next server in turn."""

    def __init__(self, http: aiohttp.ClientSession, servers: list[str]) -> None:
        super().__init__(http, server_url=servers[0], auth_token=AUTH_TOKEN, public_url=PUBLIC)
        self._turns = itertools.cycle(servers)
        self.served_by: list[str] = []

    def _to_server(self, url: str) -> str:
        self.server_url = next(self._turns)
        self.served_by.append(self.server_url)
        return super()._to_server(url)


def test_more_than_one_worker_on_sqlite_is_refused_with_the_reason(tmp_path):
    env = service_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/one.sqlite3")
    done = subprocess.run(
        [str(IVR), "serve", "--workers", "2"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "--workers 2 needs PostgreSQL" in done.stderr and "--workers 1" in done.stderr


async def test_two_processes_serve_one_calls_steps_alternately(postgres, tmp_path):
    url, demo = postgres
    env = service_env(tmp_path, url, IVR_PUBLIC_URL=PUBLIC)
    number = open_polis(demo)["number"]
    with (
        serving(tmp_path, env, name="first") as (_, first),
        serving(tmp_path, env, name="second") as (_, second),
    ):
        async with aiohttp.ClientSession() as http:
            twilio = Alternating(http, [first, second])
            record = await twilio.call(
                ScriptedCaller([f"{number}#"], dial_results=["busy"], talk_seconds=40),
                from_number=ANNA,
            )
    assert [heard.kind for heard in record.heard].count("bridged") == 0
    assert {first, second} == set(twilio.served_by) and len(twilio.served_by) >= 4
    assert record.hung_up_by == "ivr"


async def test_workers_share_the_port_restart_one_by_one_and_stop_cleanly(postgres, tmp_path):
    url, demo = postgres
    env = service_env(tmp_path, url, IVR_PUBLIC_URL=PUBLIC)
    number = open_polis(demo)["number"]
    with serving(tmp_path, env, "--workers", "2", name="workers") as (process, base):
        workers = children(process.pid)
        assert len(workers) == 2
        # A new connection per request, as Twilio opens them: a kept-alive connection to a
        # worker that is stopping is closed under the client (a proxy in front retries it).
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            twilio = TwilioSimulator(
                http, server_url=base, auth_token=AUTH_TOKEN, public_url=PUBLIC
            )

            async def one_call() -> list[str]:
                record = await twilio.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
                return [heard.kind for heard in record.heard]

            assert all("bridged" in kinds for kinds in await asyncio.gather(*[one_call()] * 6))
            os.kill(process.pid, signal.SIGHUP)  # a rolling restart, as after a deploy
            deadline = time.monotonic() + 20
            while (
                not set(children(process.pid)).isdisjoint(workers)
                or len(children(process.pid)) != 2
            ):
                assert time.monotonic() < deadline, "the workers were not replaced"
                assert "bridged" in await one_call()  # answered throughout
            assert "bridged" in await one_call()
        assert stop(process) == 0
