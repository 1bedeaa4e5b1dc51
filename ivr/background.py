"""The background task of every server process: alerts, the outbox, calls left open, old codes.

Each job is a function of (database sessions, now) that is safe to run in several
processes at once; this loop only calls them on a timer and stops cleanly with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import structlog
from aiohttp import web

from crm.blacklist.screening import alert_admins
from crm.call_end import finalize_lost_calls
from crm.lockout import service as lockouts
from crm.organizations.loyalty import accrue
from crm.outbox.sender import SenderSettings, deliver_due
from crm.recordings import service as recordings
from crm.recordings.twilio import TwilioUnavailable, delete_at_twilio
from crm.signup.admin import forget_old_codes
from ivr.keys import CLOCK, CONFIG, ENGINE, MAILER, SESSIONS, TWILIO
from ivr.metrics import METRICS

log = structlog.get_logger("ivr.background")
STOP_GRACE_SECONDS = 5.0


async def _deliver_outbox(app: web.Application, stopping: Callable[[], bool]) -> None:
    delivery = await deliver_due(
        app[SESSIONS],
        app[MAILER],
        clock=app[CLOCK],
        settings=SenderSettings.from_config(app[CONFIG].email),
        stopping=stopping,
    )
    if delivery.sent or delivery.retrying or delivery.failed:
        log.info(
            "outbox_delivered",
            sent=delivery.sent,
            retrying=delivery.retrying,
            failed=delivery.failed,
        )


async def _alert_blacklist_matches(app: web.Application, stopping: Callable[[], bool]) -> None:
    async with app[SESSIONS].begin() as session:
        written = await alert_admins(
            session, to=app[CONFIG].email.admin_to, web=app[CONFIG].web, now=app[CLOCK]()
        )
    if written:
        log.info("blacklist_alerts_queued", count=written)


async def _alert_lockouts(app: web.Application, stopping: Callable[[], bool]) -> None:
    settings, now = app[CONFIG].ivr.lockout, app[CLOCK]()
    async with app[SESSIONS].begin() as session:
        written = await lockouts.alert_admins(
            session, to=app[CONFIG].email.admin_to, settings=settings, web=app[CONFIG].web, now=now
        )
        forgotten = await lockouts.forget_wrong_numbers(session, settings=settings, now=now)
    if written or forgotten:
        log.info("lockout_alerts_queued", count=written, wrong_numbers_forgotten=forgotten)


async def _discard_recordings(app: web.Application, stopping: Callable[[], bool]) -> None:
    """Delete at Twilio the recordings of no consented conversation (outside transactions:
    the database is not held while Twilio answers; a failure waits for the next pass)."""
    async with app[SESSIONS]() as session:
        pending = await recordings.to_discard(session)
    gone = 0
    for recording in pending:
        if stopping():
            break
        try:
            await delete_at_twilio(app[TWILIO], recording.recording_sid)
        except TwilioUnavailable:
            continue
        async with app[SESSIONS].begin() as session:
            gone += await recordings.discarded(session, recording_id=recording.id, now=app[CLOCK]())
    if gone:
        log.info("recordings_discarded", count=gone)


async def _end_lost_calls(app: web.Application, stopping: Callable[[], bool]) -> None:
    async with app[ENGINE].begin() as db:
        lost = await finalize_lost_calls(
            db,
            now=app[CLOCK](),
            older_than=timedelta(minutes=app[CONFIG].ivr.lost_after_minutes),
        )
    for outcome in lost:
        app[METRICS].call_ended(outcome)
    if lost:
        log.info("calls_lost", count=len(lost))


async def _forget_signup_codes(app: web.Application, stopping: Callable[[], bool]) -> None:
    async with app[SESSIONS].begin() as session:
        forgotten = await forget_old_codes(
            session, now=app[CLOCK](), keep=timedelta(days=app[CONFIG].signup.keep_days)
        )
    if forgotten:
        log.info("signup_codes_forgotten", count=forgotten)


async def _accrue_loyalty(app: web.Application, stopping: Callable[[], bool]) -> None:
    async with app[SESSIONS].begin() as session:
        credited = await accrue(session, now=app[CLOCK](), settings=app[CONFIG].loyalty)
    if credited:
        log.info("loyalty_credited", count=credited)


JOBS = (
    ("blacklist_alerts", _alert_blacklist_matches),  # before the outbox: sent in one pass
    ("lockout_alerts", _alert_lockouts),
    ("recordings_discard", _discard_recordings),
    ("outbox", _deliver_outbox),
    ("lost_calls", _end_lost_calls),
    ("signup_codes", _forget_signup_codes),
    ("loyalty", _accrue_loyalty),
)


async def run_jobs(app: web.Application, stop: asyncio.Event | None = None) -> None:
    """One pass of every job at the app's clock; a failing job is logged, the rest still run.

    Once `stop` is set the pass ends after the letter being sent, not after the whole batch.
    """
    stopping = stop.is_set if stop is not None else (lambda: False)
    for name, job in JOBS:
        if stopping():
            return
        try:
            await job(app, stopping)
        except Exception:
            log.exception("background_job_failed", job=name)


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
