"""The background task of every server process: deliver the outbox, end calls left open.

Each job is a function of (database sessions, now) that is safe to run in several
processes at once; this loop only calls them on a timer and stops cleanly with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from aiohttp import web

from crm.calls import finalize_lost_calls
from crm.outbox.sender import SenderSettings, deliver_due
from ivr.keys import CLOCK, CONFIG, MAILER, SESSIONS

log = structlog.get_logger("ivr.background")
STOP_GRACE_SECONDS = 5.0


async def run_jobs(app: web.Application, stop: asyncio.Event | None = None) -> None:
    """One pass of every job at the app's clock; a failing job is logged, the rest still run.

    Once `stop` is set the pass ends after the letter being sent, not after the whole batch.
    """
    config, sessions, clock = app[CONFIG], app[SESSIONS], app[CLOCK]
    stopping = stop.is_set if stop is not None else (lambda: False)
    try:
        delivery = await deliver_due(
            sessions,
            app[MAILER],
            clock=clock,
            settings=SenderSettings.from_config(config.email),
            stopping=stopping,
        )
        if delivery.sent or delivery.retrying or delivery.failed:
            log.info(
                "outbox_delivered",
                sent=delivery.sent,
                retrying=delivery.retrying,
                failed=delivery.failed,
            )
    except Exception:
        log.exception("outbox_job_failed")
    try:
        if stopping():
            return
        async with sessions.begin() as session:
            lost = await finalize_lost_calls(
                session, now=clock(), older_than=timedelta(minutes=config.ivr.lost_after_minutes)
            )
        if lost:
            log.info("calls_lost", count=lost)
    except Exception:
        log.exception("lost_calls_job_failed")


async def _loop(app: web.Application, stop: asyncio.Event) -> None:
    interval = app[CONFIG].background.interval_seconds
    while not stop.is_set():
        await run_jobs(app, stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def background_tasks(app: web.Application) -> AsyncIterator[None]:
    """Start the loop once the database and clients are open; stop it before they close."""
    if not app[CONFIG].background.enabled:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(app, stop), name="ivr-background")
    try:
        yield
    finally:
        stop.set()
        # The letter being handed over may take up to the SMTP timeout; a stopping process
        # waits a little for it, then cancels: that letter goes out again when its lease ends.
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        if not done:
            log.warning("background_cancelled", grace_seconds=STOP_GRACE_SECONDS)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
