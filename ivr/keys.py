"""Every object the app shares, each behind a typed AppKey."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from twilio.request_validator import RequestValidator

from ivr.config import Config
from ivr.sounds import Recordings

CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker)
VALIDATOR = web.AppKey("validator", RequestValidator)
RECORDINGS = web.AppKey("recordings", Recordings)
