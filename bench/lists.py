"""The CRM's long lists at scale: the admin's call log and an agent's requests."""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.report import ListFigure, Report
from crm.db import create_engine
from crm.enums import CallOutcome, CallStage, RequestStatus
from crm.models import Agent, Call, Client, DialAttempt, Manager, Organization, Request

CALLS = 200_000
REQUESTS = 100_000
CLIENTS = 2_000
CHUNK = 5_000
TRIES = 15
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def long_lists(report: Report, home: Path, backend: str, *, postgres: str | None) -> None:
    from bench.steps import Service

    print(f"CRM lists on {backend}: {CALLS:,} calls, {REQUESTS:,} requests", flush=True)
    with Service(home, backend, token="bench-lists", postgres=postgres) as service:
        started = time.monotonic()
        asyncio.run(_fill(service.database_url))
        report.notes.append(
            f"{backend}: {CALLS:,} calls and {REQUESTS:,} requests written in"
            f" {time.monotonic() - started:.0f} s for the list pages."
        )
        assert service.server is not None
        base = service.server.url
        pages = {
            "admin: call log, page 1": ("admin@example.com", "demo-admin-pass", "/admin/calls"),
            "admin: call log, page 5,000": (
                "admin@example.com",
                "demo-admin-pass",
                "/admin/calls?page=5000",
            ),
            "agent: requests, page 1": ("agent@example.com", "demo-agent-pass", "/requests"),
            "agent: requests, page 2,500": (
                "agent@example.com",
                "demo-agent-pass",
                "/requests?page=2500",
            ),
        }
        for name, (email, password, path) in pages.items():
            median = asyncio.run(_median_ms(base, email, password, path))
            rows = f"{CALLS:,} calls" if "call" in name else f"{REQUESTS:,} requests"
            report.lists.append(ListFigure(backend, name, rows, median))
            print(f"  {name}: {median:.1f} ms", flush=True)


async def _median_ms(base: str, email: str, password: str, path: str) -> float:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(base + "/login") as reply:
            found = CSRF.search(await reply.text())
            assert found is not None, "no CSRF token on the login page"
        form = {"_csrf": found.group(1), "email": email, "password": password}
        async with http.post(base + "/login", data=form) as reply:
            assert reply.status == 200, f"login as {email} failed: {reply.status}"
        took = []
        for _ in range(TRIES):
            started = time.perf_counter()
            async with http.get(base + path) as reply:
                await reply.read()
                assert reply.status == 200, f"{path}: {reply.status}"
            took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


async def _fill(database_url: str) -> None:
    """Clients, requests and calls of the demo agent and manager, in big batches."""
    engine = create_engine(database_url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            agent_id = await connection.scalar(select(Agent.id).order_by(Agent.id).limit(1))
            manager_id = await connection.scalar(select(Manager.id).order_by(Manager.id).limit(1))
            organization_id = await connection.scalar(
                select(Manager.organization_id).where(Manager.id == manager_id)
            )
            assert agent_id and manager_id and organization_id
            assert await connection.scalar(select(Organization.id).limit(1))
            first_client = await _batches(
                connection,
                Client,
                (
                    {
                        "agent_id": agent_id,
                        "first_name": f"Client{n}",
                        "last_name": "Bench",
                        "phone": f"+7916{n:07d}",
                        "city": "Moscow",
                        "created_at": now - timedelta(days=400),
                    }
                    for n in range(CLIENTS)
                ),
                Client.id,
            )
            first_request = await _batches(
                connection,
                Request,
                (
                    {
                        "number": f"{10_000_000 + n}",
                        "agent_id": agent_id,
                        "client_id": first_client + n % CLIENTS,
                        "organization_id": organization_id,
                        "product": "Bench product",
                        "status": RequestStatus.OPEN,
                        "created_at": now - timedelta(minutes=REQUESTS - n),
                    }
                    for n in range(REQUESTS)
                ),
                Request.id,
            )
            first_call = await _batches(
                connection,
                Call,
                (
                    {
                        "call_sid": f"CAbench{n:026d}",
                        "caller": "+79990000001",
                        "manager_id": manager_id,
                        "request_id": first_request + rng.randrange(REQUESTS),
                        "stage": CallStage.ENDED,
                        "outcome": CallOutcome.BRIDGED,
                        "attempts": 1,
                        "dials": 1,
                        "duration_seconds": 90,
                        "started_at": now - timedelta(seconds=(CALLS - n) * 30),
                        "ended_at": now - timedelta(seconds=(CALLS - n) * 30 - 90),
                    }
                    for n in range(CALLS)
                ),
                Call.id,
            )
            await _batches(
                connection,
                DialAttempt,
                (
                    {
                        "call_id": first_call + n,
                        "request_id": first_request + n % REQUESTS,
                        "started_at": now - timedelta(seconds=(CALLS - n) * 30),
                        "outcome": CallOutcome.BRIDGED,
                        "client_accepted": True,
                        "dial_status": "completed",
                        "talk_seconds": 60,
                    }
                    for n in range(CALLS)
                ),
                DialAttempt.id,
            )
        # What autovacuum would have done to a database of this size by now: statistics,
        # and the visibility map that lets an index-only scan skip the table.
        steady = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(steady))
    finally:
        await engine.dispose()


async def _batches(connection: AsyncConnection, model: Any, rows: Any, id_column: Any) -> int:
    """Insert `rows` in chunks; the id of the first row inserted."""
    before = await connection.scalar(select(id_column).order_by(id_column.desc()).limit(1)) or 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            await connection.execute(insert(model), chunk)
            chunk = []
    if chunk:
        await connection.execute(insert(model), chunk)
    return int(before) + 1
