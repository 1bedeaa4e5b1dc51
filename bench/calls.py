"""Whole calls at once: the simulator plays Twilio for each, every webhook timed."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from types import SimpleNamespace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select

from bench.report import CallsFigure, Report
from crm.db import create_engine
from crm.models import Call
from ivr.simulator import ScriptedCaller, TwilioSimulator

if TYPE_CHECKING:
    from bench.steps import Service

WAVES = 3
APOLOGY = ("something went wrong", "/error.wav")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def whole_calls(report: Report, service: Service, *, concurrent: int) -> None:
    """`WAVES` waves of `concurrent` calls at once, each typed, dialed, answered, ended."""
    assert service.server is not None
    server = service.server
    timings: dict[str, list[float]] = defaultdict(list)
    statuses: list[int] = []
    apologies = 0
    sids: list[str] = []

    async def started(
        _session: aiohttp.ClientSession, context: SimpleNamespace, _params: object
    ) -> None:
        context.started = time.perf_counter()

    async def ended(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        step = urlsplit(str(params.url)).path
        timings[step].append((time.perf_counter() - context.started) * 1000)
        statuses.append(params.response.status)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    print(f"whole calls on {service.backend}: {WAVES} × {concurrent} at once", flush=True)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trace_configs=[trace]
    ) as http:
        simulator = TwilioSimulator(
            http, server_url=server.url, auth_token=service.token, fetch_media=False
        )
        before = server.cpu()
        for _ in range(WAVES):
            records = await asyncio.gather(
                *(
                    simulator.call(
                        ScriptedCaller([f"{service.open_number}#"], talk_seconds=30),
                        from_number="+79990000001",
                    )
                    for _ in range(concurrent)
                ),
                return_exceptions=True,
            )
            for record in records:
                if isinstance(record, BaseException):
                    apologies += 1
                    continue
                sids.append(record.call_sid)
                if any(any(mark in (h.text + h.url) for mark in APOLOGY) for h in record.heard):
                    apologies += 1
        cpu = server.cpu() - before
    every = [ms for values in timings.values() for ms in values]
    unfinished = await _unfinished(service.database_url, sids)
    figure = CallsFigure(
        backend=service.backend,
        calls=WAVES * concurrent,
        concurrent=concurrent,
        webhooks=len(every),
        p50_ms=statistics.median(every) if every else 0,
        p99_ms=_percentile(every, 0.99),
        apologies=apologies,
        bad=sum(1 for status in statuses if status != 200),
        unfinished=unfinished,
        cpu_us=cpu / max(1, len(every)) * 1e6,
        per_step={
            step.removeprefix("/ivr/"): (
                len(values),
                statistics.median(values),
                _percentile(values, 0.99),
            )
            for step, values in sorted(timings.items())
        },
    )
    report.calls.append(figure)
    print(
        f"  {figure.webhooks} webhooks: p50 {figure.p50_ms:.1f} ms, p99 {figure.p99_ms:.1f} ms,"
        f" {figure.cpu_us:,.0f} µs CPU each, {figure.apologies} apologies, {figure.bad} non-200,"
        f" {figure.unfinished} calls not final",
        flush=True,
    )


async def _unfinished(database_url: str, sids: list[str]) -> int:
    """Of these calls, how many have no final status in the database."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            ended = await connection.scalars(
                select(Call.call_sid).where(Call.ended_at.is_not(None))
            )
            return len(set(sids) - set(ended))
    finally:
        await engine.dispose()
