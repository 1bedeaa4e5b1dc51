"""A service with sign-up limits of a test's choosing, the fake Twilio, SMTP and a clock.

Test modules load these with `pytest_plugins = ("tests.signup_fixtures",)`.
"""

from __future__ import annotations

from typing import Any

import pytest

from ivr.app import create_app
from tests.api_helpers import Api
from tests.conftest import AUTH_TOKEN
from tests.fake_twilio import ACCOUNT, FakeTwilio
from tests.signup_helpers import Clock, SignupRig, signup_config
from tests.smtp import SmtpServer


@pytest.fixture
async def fake_twilio(aiohttp_server) -> FakeTwilio:
    fake = FakeTwilio(account_sid=ACCOUNT, auth_token=AUTH_TOKEN)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_signup(aiohttp_server, database_url, engine, http, fake_twilio, smtp):
    """`await start_signup(**signup_limits)`: the service, started with those limits.

    Calling it again starts a second server on the same database and the same clock, as a
    second process would run.
    """
    clock = Clock()

    async def start(*, config_overrides: dict[str, Any] | None = None, **limits: Any) -> SignupRig:
        config = signup_config(
            database_url, fake_twilio.url, smtp.port, signup=limits, **(config_overrides or {})
        )
        server = await aiohttp_server(create_app(config, clock=clock))
        api = Api(http, str(server.make_url("")), None)
        return SignupRig(api, clock, fake_twilio, smtp, server)

    return start
