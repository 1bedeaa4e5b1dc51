"""A database that stops answering never silences a call: every webhook answers in time.

PostgreSQL runs as a cluster of this module's own (initdb, pg_ctl on a free port), so it can
be frozen with SIGSTOP (the server accepts connections and answers nothing) and stopped.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from sqlalchemy import select, text
from sqlalchemy.pool import QueuePool

from crm.db import CLIENT_GRACE_SECONDS, create_engine, create_sessionmaker
from crm.demo import seed_demo
from crm.enums import CallOutcome
from crm.models import Call
from ivr.app import create_app
from ivr.config import Config, DatabaseConfig
from ivr.migrate import upgrade
from ivr.simulator import ClientLeg, Heard, ScriptedCaller, TwilioSimulator, new_sid
from tests.conftest import AUTH_TOKEN, make_config
from tests.helpers import ANNA, call_row, open_polis, signed_post
from tests.helpers import VOICE_ROUTES as ROUTES
from tests.pg_cluster import Cluster, postgres_bin, run_as
from tests.twiml import parse, spoken, tags

BUDGET_MS = 3000
TIMEOUTS = {"connect_timeout_seconds": 1, "pool_timeout_seconds": 1, "statement_timeout_ms": 1000}
DATABASE_SECONDS = max(
    TIMEOUTS["connect_timeout_seconds"],
    TIMEOUTS["statement_timeout_ms"] / 1000 + CLIENT_GRACE_SECONDS,
)
"""The longest the database's own timeouts let a webhook wait, well inside the budget: the
apology must come from them, not from the webhook's overall budget."""
MARGIN_SECONDS = 0.75
"""Room for the test's own HTTP round trips (20 at once in one loop): this bounds a timeout,
it is no benchmark."""
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=BUDGET_MS / 1000 + MARGIN_SECONDS + 3)
"""The test's own bound: a webhook that never answers fails the test, it does not hang it."""


async def _migrate_and_seed(url: str) -> dict:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            return await seed_demo(session)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bin_dir = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="ivr-outage-"))
    try:
        cluster = Cluster(bin_dir, root, run_as(root))
        cluster.initdb()
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.thaw()
            cluster.stop("immediate", check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_demo(cluster: Cluster) -> dict:
    return asyncio.run(_migrate_and_seed(cluster.url))


def outage_config(url: str) -> Config:
    return make_config(
        url,
        ivr={"gather_timeout": 5, "max_attempts": 3, "answer_budget_ms": BUDGET_MS},
        database=TIMEOUTS,
    )


@pytest.fixture
async def timed() -> AsyncIterator[SimpleNamespace]:
    """An HTTP client that notes how long each POST took to be answered, (path, seconds)."""
    answers: list[tuple[str, float]] = []
    trace = aiohttp.TraceConfig()

    async def started(_session, context, params) -> None:
        context.started = time.monotonic()

    async def answered(_session, context, params) -> None:
        if params.method == "POST":
            answers.append((params.url.path, time.monotonic() - context.started))

    trace.on_request_start.append(started)
    trace.on_request_end.append(answered)
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, trace_configs=[trace]) as http:
        yield SimpleNamespace(http=http, answers=answers)


def simulator_for(server, http: aiohttp.ClientSession) -> TwilioSimulator:
    return TwilioSimulator(http, server_url=str(server.make_url("")), auth_token=AUTH_TOKEN)


def assert_apology(status: int, kind: str, body: str) -> None:
    assert (status, kind) == (200, "text/xml; charset=utf-8"), body[:200]
    root = parse(body)
    assert spoken(root) == ["error"]
    assert tags(root)[-1] == "Hangup"


def assert_in_budget(answers: list[tuple[str, float]]) -> None:
    """Every answer within the budget, and within what the database's timeouts allow."""
    late = [(path, round(seconds, 2)) for path, seconds in answers if seconds >= budget()]
    assert not late, f"answered after the {BUDGET_MS} ms budget: {late}"
    slow = [(p, round(s, 2)) for p, s in answers if s >= DATABASE_SECONDS + MARGIN_SECONDS]
    assert not slow, f"answered later than the database timeouts allow: {slow}"


def budget() -> float:
    return BUDGET_MS / 1000 + MARGIN_SECONDS


def step(path: str, call_sid: str) -> dict[str, str]:
    """A signed step of `path` for `call_sid`; the status callback is a final one."""
    return {
        "CallSid": call_sid,
        "ParentCallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": ANNA,
        "To": "+15005550006",
        "CallStatus": "completed" if path == "/ivr/status" else "in-progress",
        "Digits": "1",
        "DialCallStatus": "completed",
        "DialCallDuration": "5",
    }


class FreezesBeforeTheNumber:
    """A manager who types the request number; the database freezes just before it is sent."""

    def __init__(self, cluster: Cluster, number: str) -> None:
        self.cluster, self.number, self.typed = cluster, number, False

    async def keypad(self, heard: list[Heard]) -> str | None:
        if self.typed:
            return None
        self.typed = True
        self.cluster.freeze()
        return f"{self.number}#"

    async def client_leg(self, masked_number: str) -> ClientLeg:
        return ClientLeg(result="answered", talk_seconds=30)


async def bridged_call(simulator: TwilioSimulator, url: str, number: str) -> None:
    """A whole call that reaches the client, checked in the database too."""
    record = await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
    assert [h.kind for h in record.heard if h.kind in ("dial", "bridged")] == ["dial", "bridged"]
    engine = create_engine(url)
    try:
        call = await call_row(create_sessionmaker(engine), record.call_sid)
    finally:
        await engine.dispose()
    assert call.outcome is CallOutcome.BRIDGED


async def test_frozen_postgres_mid_call_every_webhook_apologizes_in_time(
    aiohttp_server, cluster, pg_demo, timed
):
    server = await aiohttp_server(create_app(outage_config(cluster.url)))
    base = str(server.make_url(""))
    number = open_polis(pg_demo)["number"]
    simulator = simulator_for(server, timed.http)
    try:
        record = await simulator.call(FreezesBeforeTheNumber(cluster, number), from_number=ANNA)
        # The greeting came before the freeze; the number step and the status callback after.
        assert [path for path, _ in timed.answers] == ["/ivr/voice", "/ivr/number", "/ivr/status"]
        assert_apology(200, "text/xml; charset=utf-8", record.documents[1][1])
        for path in ROUTES:
            sid = new_sid() if path == "/ivr/voice" else record.call_sid
            assert_apology(*await signed_post(timed.http, base, path, step(path, sid)))
        for path in ("/healthz", "/readyz"):
            started = time.monotonic()
            async with timed.http.get(base + path) as reply:
                assert reply.status == 503, path
                assert (await reply.json())["status"] == "unavailable"
            assert time.monotonic() - started < budget()
    finally:
        cluster.thaw()
    print("answer seconds while frozen:", [(p, round(s, 2)) for p, s in timed.answers])
    assert len(timed.answers) == 3 + len(ROUTES)
    assert_in_budget(timed.answers[1:])
    await bridged_call(simulator, cluster.url, number)


async def test_frozen_postgres_many_calls_at_once_all_apologize_in_time(
    aiohttp_server, cluster, pg_demo, timed
):
    server = await aiohttp_server(create_app(outage_config(cluster.url)))
    base = str(server.make_url(""))
    await bridged_call(
        simulator_for(server, timed.http), cluster.url, open_polis(pg_demo)["number"]
    )
    del timed.answers[:]
    try:
        cluster.freeze()
        # More calls than the pool has connections: the rest wait for one, within bounds too.
        replies = await asyncio.gather(
            *(
                signed_post(timed.http, base, "/ivr/voice", step("/ivr/voice", new_sid()))
                for _ in range(20)
            )
        )
    finally:
        cluster.thaw()
    for reply in replies:
        assert_apology(*reply)
    print("answer seconds, 20 at once:", sorted(round(s, 2) for _, s in timed.answers))
    # At worst a wait for a free connection, then one of the database's timeouts.
    bound = TIMEOUTS["pool_timeout_seconds"] + DATABASE_SECONDS + MARGIN_SECONDS
    assert bound < budget()
    late = [round(seconds, 2) for _, seconds in timed.answers if seconds >= bound]
    assert not late, f"answered later than the pool and database timeouts allow: {late}"


async def test_stopped_then_restarted_postgres_the_next_call_completes(
    aiohttp_server, cluster, pg_demo, timed
):
    server = await aiohttp_server(create_app(outage_config(cluster.url)))
    base = str(server.make_url(""))
    number = open_polis(pg_demo)["number"]
    simulator = simulator_for(server, timed.http)
    await bridged_call(simulator, cluster.url, number)
    del timed.answers[:]
    cluster.stop("fast")
    try:
        for path in ROUTES:
            assert_apology(*await signed_post(timed.http, base, path, step(path, new_sid())))
        async with timed.http.get(base + "/healthz") as reply:
            assert reply.status == 503
    finally:
        cluster.start()
    print("answer seconds while stopped:", [(p, round(s, 2)) for p, s in timed.answers])
    assert_in_budget(timed.answers)
    await bridged_call(simulator, cluster.url, number)
    async with timed.http.get(base + "/readyz") as reply:
        assert reply.status == 200


async def test_locked_sqlite_file_gets_the_apology_in_time(aiohttp_server, tmp_path, timed):
    path = tmp_path / "ivr.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    demo = await _migrate_and_seed(url)
    server = await aiohttp_server(create_app(outage_config(url)))
    base = str(server.make_url(""))
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        for route in ("/ivr/voice", "/ivr/status"):
            assert_apology(*await signed_post(timed.http, base, route, step(route, new_sid())))
    finally:
        holder.close()
    print("answer seconds while locked:", [(p, round(s, 2)) for p, s in timed.answers])
    assert_in_budget(timed.answers)
    await bridged_call(simulator_for(server, timed.http), url, open_polis(demo)["number"])


async def test_call_row_locked_by_another_transaction_gets_the_apology_in_time(
    aiohttp_server, engine, demo, timed, database_url
):
    server = await aiohttp_server(create_app(outage_config(database_url)))
    base = str(server.make_url(""))
    sid = new_sid()
    status, _, greeting = await signed_post(timed.http, base, "/ivr/voice", step("/ivr/voice", sid))
    assert (status, spoken(parse(greeting).find("Gather"))) == (200, ["rules", "enter_number"])
    number = open_polis(demo)["number"]
    # A long transaction holds the call's row (on SQLite: the whole file's write lock).
    async with engine.begin() as holder:
        await holder.execute(select(Call.id).where(Call.call_sid == sid).with_for_update())
        params = {**step("/ivr/number", sid), "Digits": number}
        assert_apology(*await signed_post(timed.http, base, "/ivr/number", params))
    print("answer seconds while the row is locked:", [(p, round(s, 2)) for p, s in timed.answers])
    assert_in_budget(timed.answers[1:])


async def test_engine_applies_the_configured_timeouts(database_url):
    timeouts = DatabaseConfig(statement_timeout_ms=1500)
    engine = create_engine(database_url, timeouts=timeouts)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                assert await connection.scalar(text("SHOW statement_timeout")) == "1500ms"
            else:
                assert await connection.scalar(text("PRAGMA busy_timeout")) == 1500
    finally:
        await engine.dispose()
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.timeout() == timeouts.pool_timeout_seconds
