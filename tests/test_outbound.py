"""Outbound clients: Twilio's real REST client against a local fake, the shared HTTP session."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException

from ivr.app import create_app
from ivr.clients import RebasedTwilioHttpClient
from ivr.config import load_config
from ivr.keys import HTTP, TWILIO
from tests.conftest import AUTH_TOKEN, make_config
from tests.fake_twilio import FakeTwilio

ACCOUNT = "AC" + "1" * 32


@pytest.fixture
async def fake_twilio(aiohttp_server):
    fake = FakeTwilio(account_sid=ACCOUNT, auth_token=AUTH_TOKEN)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def app_with_fake_twilio(aiohttp_server, fake_twilio, database_url, engine):
    config = make_config(
        database_url,
        twilio={
            "auth_token": AUTH_TOKEN,
            "account_sid": ACCOUNT,
            "api_base_url": fake_twilio.url,
        },
        http={"timeout_seconds": 4, "connect_timeout_seconds": 2},
    )
    server = await aiohttp_server(create_app(config))
    return server.app


async def test_the_twilio_client_sends_a_message_through_the_fake_rest_api(
    app_with_fake_twilio, fake_twilio
):
    twilio = app_with_fake_twilio[TWILIO]
    message = await twilio.messages.create_async(
        to="+79161234567", from_="+15005550006", body="Code 123456"
    )
    assert message.status == "queued" and message.sid.startswith("SM")
    (sent,) = fake_twilio.messages
    assert (sent["sid"], sent["to"], sent["from"], sent["body"]) == (
        message.sid,
        "+79161234567",
        "+15005550006",
        "Code 123456",
    )
    fetched = await twilio.messages(message.sid).fetch_async()
    assert fetched.body == "Code 123456"


async def test_a_twilio_refusal_reaches_the_caller_with_twilios_error_code(
    app_with_fake_twilio, fake_twilio
):
    twilio = app_with_fake_twilio[TWILIO]
    with pytest.raises(TwilioRestException) as refused:
        await twilio.messages.create_async(to="8 916", from_="+15005550006", body="x")
    assert (refused.value.status, refused.value.code) == (400, 21211)
    fake_twilio.refuse_next(429, 20429, "Too Many Requests")
    with pytest.raises(TwilioRestException) as throttled:
        await twilio.messages.create_async(to="+79161234567", from_="+15005550006", body="x")
    assert (throttled.value.status, throttled.value.code) == (429, 20429)
    assert fake_twilio.messages == []


async def test_the_shared_http_session_has_the_configured_timeouts(app_with_fake_twilio):
    session = app_with_fake_twilio[HTTP]
    assert (session.timeout.total, session.timeout.connect) == (4, 2)
    assert not session.closed


async def test_the_outbound_clients_are_closed_with_the_app(aiohttp_server, config, engine):
    server = await aiohttp_server(create_app(config))
    session, twilio_http = server.app[HTTP], server.app[TWILIO].http_client
    await server.close()
    assert session.closed and twilio_http.session.closed


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        (
            "http://127.0.0.1:8123",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5",
            "http://127.0.0.1:8123/2010-04-01/Accounts/AC1/Messages.json?PageSize=5",
        ),
        (
            "http://127.0.0.1:8123/twilio/",
            "https://messaging.twilio.com/v1/Services",
            "http://127.0.0.1:8123/twilio/v1/Services",
        ),
        (
            "https://api.twilio.com",
            "https://api.twilio.com/2010-04-01/Accounts.json",
            "https://api.twilio.com/2010-04-01/Accounts.json",
        ),
    ],
)
async def test_requests_are_sent_to_the_configured_base_url(base, url, expected):
    client = RebasedTwilioHttpClient(base, timeout=5)
    try:
        assert client.rebase(url) == expected
    finally:
        await client.close()


def test_the_twilio_base_url_comes_from_the_environment(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("twilio:\n  auth_token: t\nweb:\n  session_key: " + make_key() + "\n")
    config = load_config(path, {"IVR_TWILIO_API_BASE_URL": "http://127.0.0.1:9/"})
    assert config.twilio.api_base_url == "http://127.0.0.1:9"


def make_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


async def test_a_twilio_api_that_does_not_answer_times_out_at_the_configured_limit(
    aiohttp_server, database_url, engine
):
    async def never_answers(request: web.Request) -> web.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    slow = web.Application()
    slow.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", never_answers)
    slow_server = await aiohttp_server(slow)
    config = make_config(
        database_url,
        twilio={
            "auth_token": AUTH_TOKEN,
            "account_sid": ACCOUNT,
            "api_base_url": str(slow_server.make_url("")).rstrip("/"),
        },
        http={"timeout_seconds": 0.2, "connect_timeout_seconds": 0.2},
    )
    server = await aiohttp_server(create_app(config))
    sending = asyncio.ensure_future(
        server.app[TWILIO].messages.create_async(to="+79161234567", from_="+15005550006", body="x")
    )
    done, _ = await asyncio.wait({sending}, timeout=5)
    assert done, "the request to Twilio was still waiting after 5 s"
    assert isinstance(sending.exception(), TimeoutError)
