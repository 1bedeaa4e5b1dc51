"""Every object both areas share, each behind a typed AppKey; owned by neither side.

The voice webhooks and the CRM read these through `request.config_dict`, so each area is a
sub-application that sees what the root application opened. Importing this module loads no
voice flow and no CRM page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from twilio.request_validator import RequestValidator
from twilio.rest import Client as TwilioClient

from ivr.config import Config
from ivr.mail import Mailer
from ivr.sms import SmsSender

Clock = Callable[[], datetime]

CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", AsyncEngine)
READER = web.AppKey("reader_engine", AsyncEngine)
"""Reads that must never queue behind the webhooks (health checks, metrics): on SQLite an
engine of its own, whose transactions begin DEFERRED (WAL lets them read beside the
writer); on PostgreSQL the same engine as ENGINE."""
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
HTTP = web.AppKey("http", aiohttp.ClientSession)
"""The one client session for outside HTTP APIs (DaData and the like), timeouts from config."""
TWILIO: web.AppKey[TwilioClient] = web.AppKey("twilio")
"""Twilio's REST client on its async HTTP client, pointed at `twilio.api_base_url`."""
MAILER: web.AppKey[Mailer] = web.AppKey("mailer")
"""How the outbox hands a message over: SMTP or the log."""
SMS: web.AppKey[SmsSender] = web.AppKey("sms")
"""How a text message goes out: Twilio's Messages API or the log."""
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
"""Now, as an aware UTC datetime; tests put a clock of their own here."""
VALIDATOR = web.AppKey("validator", RequestValidator)
"""Checks `X-Twilio-Signature` for every area Twilio posts to."""
ROUTES: web.AppKey[Mapping[str, web.AbstractResource]] = web.AppKey("routes")
"""Every named route of every area, so a page can link to a webhook's or a static file's URL."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def url_for(request: web.Request, name: str, **parts: Any) -> str:
    """The path of a named route in any area, with its sub-application's prefix."""
    resource = request.config_dict[ROUTES][name]
    return str(resource.url_for(**{key: str(value) for key, value in parts.items()}))
