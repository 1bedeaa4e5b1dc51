"""Outbound clients: one HTTP session for outside APIs, Twilio's REST client, mail, SMS."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient
from yarl import URL

from crm.dadata_cache import remember_with
from ivr.config import TWILIO_API, Config
from ivr.keys import CLOCK, CONFIG, HTTP, MAILER, SMS, TWILIO
from ivr.mail import create_mailer
from ivr.sms import create_sms_sender


class RebasedTwilioHttpClient(AsyncTwilioHttpClient):
    """Twilio's async HTTP client, sending every request to `base_url` instead of twilio.com.

    Twilio's library knows only its own hosts; tests and local trials point it at a fake
    REST server this way, with the library's own request building and error handling.
    """

    def __init__(self, base_url: str, *, timeout: float, **options: Any) -> None:
        # Twilio's client logs four lines of URL and headers per request at INFO; only its
        # warnings reach our log.
        quiet = logging.getLogger("ivr.twilio_http")
        quiet.setLevel(logging.WARNING)
        super().__init__(timeout=timeout, logger=quiet, **options)
        self._base = None if base_url == TWILIO_API else URL(base_url)
        self._seconds = timeout

    def rebase(self, url: str) -> str:
        """`url` with Twilio's scheme and host replaced by the configured base."""
        if self._base is None:
            return url
        original = URL(url)
        path = self._base.path.rstrip("/") + original.path
        return str(self._base.with_path(path).with_query(original.query))

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        # The library keeps the client's timeout but sends every request with none.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._seconds
        return await super().request(method, self.rebase(url), *args, **kwargs)


def create_twilio_client(config: Config, http_client: AsyncTwilioHttpClient) -> TwilioClient:
    """Twilio's REST client for the configured account, on an async HTTP client."""
    return TwilioClient(
        config.twilio.account_sid, config.twilio.auth_token, http_client=http_client
    )


async def outbound_clients(app: web.Application) -> AsyncIterator[None]:
    """Open the outbound clients for the app's life and close them after."""
    config = app[CONFIG]
    timeout = aiohttp.ClientTimeout(
        total=config.http.timeout_seconds, connect=config.http.connect_timeout_seconds
    )
    twilio_http = RebasedTwilioHttpClient(
        config.twilio.api_base_url, timeout=config.http.timeout_seconds
    )
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[HTTP] = session
        remember_with(session, app[CLOCK])  # DaData's answers kept beside it, on the app's clock
        app[TWILIO] = twilio = create_twilio_client(config, twilio_http)
        app[MAILER] = create_mailer(config.email)
        app[SMS] = create_sms_sender(config.sms, twilio)
        try:
            yield
        finally:
            await twilio_http.close()
