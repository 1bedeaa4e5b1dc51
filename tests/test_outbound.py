"""Outbound clients: Twilio's real REST client against a local fake, the shared HTTP session."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException

from ivr.app import create_app
from ivr.clients import RebasedTwilioHttpClient
from ivr.config import ConfigError, load_config
from ivr.keys import HTTP, SMS, TWILIO
from ivr.sms import SmsRefused
from tests.conftest import AUTH_TOKEN, make_config
from tests.fake_twilio import ACCOUNT
from tests.logcapture import captured_logs, log_events
from tests.smtp import free_port

pytest_plugins = ("tests.signup_fixtures",)


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


@pytest.fixture
async def app_sending_sms(aiohttp_server, fake_twilio, database_url, engine):
    async def start(**sms: str) -> web.Application:
        config = make_config(
            database_url,
            twilio={
                "auth_token": AUTH_TOKEN,
                "account_sid": ACCOUNT,
                "api_base_url": fake_twilio.url,
            },
            sms={"provider": "twilio", **sms},
        )
        return (await aiohttp_server(create_app(config))).app

    return start


async def test_an_sms_goes_out_through_twilio_from_the_configured_number(
    app_sending_sms, fake_twilio
):
    app = await app_sending_sms(**{"from": "+15005550006"})
    sent = await app[SMS].send(to="+79161234567", body="Code 482913")
    (message,) = fake_twilio.messages
    assert (message["sid"], message["to"], message["from"], message["body"]) == (
        sent.sid,
        "+79161234567",
        "+15005550006",
        "Code 482913",
    )


async def test_an_sms_can_go_out_through_a_messaging_service(app_sending_sms, fake_twilio):
    app = await app_sending_sms(messaging_service_sid="MG" + "2" * 32)
    await app[SMS].send(to="+79161234567", body="Code 482913")
    (message,) = fake_twilio.messages
    assert (message["from"], message["messaging_service_sid"]) == (None, "MG" + "2" * 32)


async def test_an_sms_twilio_refuses_says_why_without_the_number(app_sending_sms, fake_twilio):
    app = await app_sending_sms(**{"from": "+15005550006"})
    fake_twilio.refuse_next(400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(SmsRefused) as refused:
        await app[SMS].send(to="+79161234567", body="Code 482913")
    assert refused.value.reason == "Twilio refused the message: error 21610"
    assert fake_twilio.messages == []


async def test_the_console_provider_writes_the_message_to_the_log_with_the_phone_masked(
    aiohttp_server, config, engine
):
    server = await aiohttp_server(create_app(config))
    with captured_logs() as stream:
        await server.app[SMS].send(to="+79161234567", body="Your code 482913")
    (line,) = log_events(stream)
    assert (line["event"], line["body"], line["to"]) == (
        "sms_console",
        "Your code 482913",
        "+7******4567",
    )


def test_the_twilio_provider_needs_a_sender_named_in_its_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("sms:\n  provider: twilio\nweb:\n  session_key: " + make_key() + "\n")
    with pytest.raises(ConfigError, match=re.escape("'sms.messaging_service_sid'")):
        load_config(path, {"IVR_TWILIO_AUTH_TOKEN": "t"})
    config = load_config(path, {"IVR_TWILIO_AUTH_TOKEN": "t", "IVR_SMS_FROM": "+15005550006"})
    assert (config.sms.provider, config.sms.from_) == ("twilio", "+15005550006")


async def test_an_sms_when_twilio_cannot_be_reached_is_refused_saying_so(
    aiohttp_server, database_url, engine
):
    config = make_config(
        database_url,
        twilio={
            "auth_token": AUTH_TOKEN,
            "account_sid": ACCOUNT,
            "api_base_url": f"http://127.0.0.1:{free_port()}",
        },
        sms={"provider": "twilio", "from": "+15005550006"},
    )
    server = await aiohttp_server(create_app(config))
    with pytest.raises(SmsRefused) as refused:
        await server.app[SMS].send(to="+79161234567", body="Code 482913")
    assert refused.value.reason.startswith("Twilio could not be reached")
    assert "9161234567" not in refused.value.reason
