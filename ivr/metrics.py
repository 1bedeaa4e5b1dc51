"""Prometheus metrics: one `Metrics` per app under `METRICS`, served at `GET /metrics`.

What handlers call (cheap, no I/O; `metrics = request.config_dict[METRICS]`):

    metrics.webhook(step: str, seconds: float, status: int)  ivr_webhook_seconds{step},
                                                              ivr_webhook_answers_total{step,status}
    metrics.apology(step: str)                                ivr_apologies_total{step}
    metrics.call_ended(outcome: str)                          ivr_calls_total{outcome}
    metrics.dial(result: str)                                 ivr_dials_total{result}
    metrics.sms(result: str)                                  ivr_sms_total{result}

`step` is the route's name without its area ("voice", "dial_result", "status"); `outcome` a
`CallOutcome`; `result` Twilio's DialCallStatus or "accepted"/"declined" for dials, "sent" or
"refused" for SMS. Any other outcome or result is counted as "other", so no caller's input
ever becomes a label. Read when scraped: `ivr_outbox_messages{status}` (rows of the outbox
per status, "failed" included) and `ivr_db_pool_connections{state}` ("checked_out", "size").

With PROMETHEUS_MULTIPROC_DIR set (`ivr serve --workers N` sets it) every worker writes its
values to files there and whichever worker is scraped sums them all. The pool gauge is then
the sum over live workers; each worker updates its own on every checkout and checkin.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from crm.db import DEFERRED
from crm.enums import CallOutcome
from crm.outbox.models import OutboxMessage, OutboxStatus
from ivr.keys import ENGINE, READER

log = structlog.get_logger("ivr.metrics")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The text format `generate_latest` writes (newer clients call CONTENT_TYPE_LATEST 1.0.0)."""
SCRAPE_DATABASE_SECONDS = 2.0
"""The outbox count waits this long; past it the scrape answers without `ivr_outbox_messages`."""
WEBHOOK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DIAL_RESULTS = frozenset(
    {"completed", "answered", "busy", "no-answer", "failed", "canceled", "accepted", "declined"}
)
SMS_RESULTS = frozenset({"sent", "refused"})
OUTCOMES = frozenset(CallOutcome)
OTHER = "other"


@functools.cache
def _files_store(directory: str) -> Any:
    return values.MultiProcessValue()


def _multiprocess() -> str | None:
    """The shared folder, with prometheus_client storing values there, or None.

    prometheus_client picks its value store when first imported, but `ivr serve --workers`
    sets the folder after the import (in the supervisor, before forking), so it is picked
    again here, when an app's metrics are made.
    """
    directory = os.environ.get(MULTIPROC_DIR)
    values.ValueClass = _files_store(directory) if directory else values.MutexValue
    return directory


class Metrics:
    """Every metric of one app; in multiprocess mode also of its sibling workers."""

    def __init__(self) -> None:
        directory = _multiprocess()
        disable_created_metrics()  # `_created` series double the scrape and say nothing here
        self.registry = CollectorRegistry()
        owned = None if directory else self.registry
        self._sources: list[Collector] = (
            [MultiProcessCollector(None, path=directory)] if directory else [self.registry]
        )
        self._seconds = Histogram(
            "ivr_webhook_seconds",
            "Time to answer a webhook.",
            ["step"],
            buckets=WEBHOOK_BUCKETS,
            registry=owned,
        )
        self._answers = Counter(
            "ivr_webhook_answers",
            "Webhook answers by HTTP status.",
            ["step", "status"],
            registry=owned,
        )
        self._apologies = Counter(
            "ivr_apologies", "Spoken apologies after a failure.", ["step"], registry=owned
        )
        self._calls = Counter("ivr_calls", "Calls ended, by outcome.", ["outcome"], registry=owned)
        self._dials = Counter(
            "ivr_dials", "Dials of a client, by result.", ["result"], registry=owned
        )
        self._sms = Counter(
            "ivr_sms", "Text messages, sent or refused.", ["result"], registry=owned
        )
        self._pool = Gauge(
            "ivr_db_pool_connections",
            "Database pool connections (summed over live workers).",
            ["state"],
            registry=owned,
            multiprocess_mode="livesum",
        )
        for known, counter in ((OUTCOMES, self._calls), (DIAL_RESULTS, self._dials)):
            for value in known:
                counter.labels(value)
        for result in SMS_RESULTS:
            self._sms.labels(result)

    def webhook(self, step: str, seconds: float, status: int) -> None:
        """One webhook answered with `status` after `seconds`."""
        self._seconds.labels(step).observe(seconds)
        self._answers.labels(step, str(status)).inc()

    def apology(self, step: str) -> None:
        """A failure in `step` was answered with the spoken apology."""
        self._apologies.labels(step).inc()

    def call_ended(self, outcome: str) -> None:
        """A call was finalized with `outcome`."""
        self._calls.labels(outcome if outcome in OUTCOMES else OTHER).inc()

    def dial(self, result: str) -> None:
        """A dial of a client ended with `result`."""
        self._dials.labels(result if result in DIAL_RESULTS else OTHER).inc()

    def sms(self, result: str) -> None:
        """A text message was `sent` or `refused`."""
        self._sms.labels(result if result in SMS_RESULTS else OTHER).inc()

    def pool_changed(self, pool: QueuePool, *, returning: int = 0) -> None:
        """This process's pool use; `returning` connections are about to be checked in."""
        self._pool.labels("checked_out").set(max(0, pool.checkedout() - returning))
        self._pool.labels("size").set(pool.size())

    def exposition(self, *, outbox: Mapping[str, int] | None) -> bytes:
        """The text Prometheus reads, with the outbox counts when the database gave them."""
        return generate_latest(_Scrape(self._sources, outbox))


class _Scrape(Collector):
    def __init__(self, sources: Iterable[Collector], outbox: Mapping[str, int] | None) -> None:
        self._sources, self._outbox = sources, outbox

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source.collect()
        if self._outbox is not None:
            family = GaugeMetricFamily(
                "ivr_outbox_messages", "Outbox letters by status.", labels=["status"]
            )
            for status, count in self._outbox.items():
                family.add_metric([status], count)
            yield family


METRICS = web.AppKey("metrics", Metrics)


async def outbox_counts(engine: AsyncEngine) -> dict[str, int] | None:
    """Letters per outbox status, or None when the database does not answer in time."""
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    try:
        async with asyncio.timeout(SCRAPE_DATABASE_SECONDS):
            async with engine.connect() as connection:
                await connection.execution_options(**{DEFERRED: True})
                counts = {OutboxStatus(s): n for s, n in await connection.execute(query)}
    except Exception as error:
        log.warning("metrics_outbox_unreadable", error=type(error).__name__)
        return None
    return {status.value: counts.get(status, 0) for status in OutboxStatus}


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus' scrape: counts only, no number or name in any label."""
    engine = request.config_dict[ENGINE]
    metrics = request.config_dict[METRICS]
    if isinstance(engine.pool, QueuePool):
        metrics.pool_changed(engine.pool)
    body = metrics.exposition(outbox=await outbox_counts(request.config_dict[READER]))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def watch_pool(app: web.Application) -> AsyncIterator[None]:
    """Keeps this process's pool gauge current (cleanup context, after the database's)."""
    engine, metrics = app[ENGINE].sync_engine, app[METRICS]
    listeners: dict[str, Callable[..., None]] = {}
    if isinstance(engine.pool, QueuePool):

        def checked_out(*_: object) -> None:
            if isinstance(engine.pool, QueuePool):
                metrics.pool_changed(engine.pool)

        def checked_in(*_: object) -> None:
            # Fired before the pool takes the connection back.
            if isinstance(engine.pool, QueuePool):
                metrics.pool_changed(engine.pool, returning=1)

        listeners = {"checkout": checked_out, "checkin": checked_in}
        metrics.pool_changed(engine.pool)
    for name, listener in listeners.items():
        event.listen(engine.pool, name, listener)
    yield
    for name, listener in listeners.items():
        event.remove(engine.pool, name, listener)


def add_metrics(app: web.Application) -> None:
    """`/metrics` on `app` (the root), its `Metrics`, and the pool watcher."""
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(watch_pool)
    app.router.add_get("/metrics", metrics_view, name="metrics")
