"""Only Twilio may drive the IVR: every /ivr/ webhook checks X-Twilio-Signature."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from ivr.app import create_app
from ivr.simulator import new_sid
from tests.conftest import AUTH_TOKEN, make_config
from tests.helpers import ANNA, signed_post
from tests.helpers import VOICE_ROUTES as ROUTES
from tests.logcapture import captured_logs, log_events
from tests.twiml import parse, spoken

PUBLIC = "https://ivr.example.com"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.com"}


def incoming(**extra: str) -> dict[str, str]:
    return {
        "CallSid": new_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": ANNA,
        "To": "+15005550006",
        "CallStatus": "ringing",
        **extra,
    }


@pytest.fixture
def log_output():
    with captured_logs() as stream:
        yield stream


async def test_signed_call_is_answered(server, http, demo):
    status, kind, body = await signed_post(http, str(server.make_url("")), "/ivr/voice", incoming())
    assert (status, kind) == (200, "text/xml; charset=utf-8")
    assert spoken(parse(body).find("Gather")) == ["rules", "enter_number"]


@pytest.mark.parametrize("path", ROUTES)
async def test_unsigned_post_is_forbidden_without_twiml(server, http, demo, path):
    async with http.post(server.make_url(path), data=incoming()) as reply:
        body = await reply.text()
    assert reply.status == 403
    assert "<Response" not in body


async def test_tampered_parameter_is_forbidden(server, http, demo):
    params = incoming()
    url = str(server.make_url("/ivr/voice"))
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    async with http.post(
        url, data={**params, "From": "+79990000002"}, headers={"X-Twilio-Signature": signature}
    ) as reply:
        assert reply.status == 403
    async with http.post(url, data=params, headers={"X-Twilio-Signature": signature}) as reply:
        assert reply.status == 200


async def test_added_parameter_is_forbidden(server, http, demo):
    params = incoming()
    url = str(server.make_url("/ivr/voice"))
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    async with http.post(
        url, data={**params, "Digits": "1"}, headers={"X-Twilio-Signature": signature}
    ) as reply:
        assert reply.status == 403


async def test_wrong_token_is_forbidden(server, http, demo):
    status, _, body = await signed_post(
        http, str(server.make_url("")), "/ivr/voice", incoming(), token="not-the-auth-token"
    )
    assert status == 403
    assert "<Response" not in body


async def test_signature_for_another_url_is_forbidden(server, http, demo):
    status, _, _ = await signed_post(
        http,
        str(server.make_url("")),
        "/ivr/voice",
        incoming(),
        signed_url=str(server.make_url("/ivr/number")),
    )
    assert status == 403


async def test_rejection_is_logged(server, http, demo, log_output):
    await signed_post(http, str(server.make_url("")), "/ivr/voice", incoming(), token="wrong")
    async with http.post(server.make_url("/ivr/number"), data=incoming()) as reply:
        assert reply.status == 403
    rejected = [e for e in log_events(log_output) if e["event"] == "twilio_signature_rejected"]
    assert [(e["path"], e["signed"], e["level"]) for e in rejected] == [
        ("/ivr/voice", True, "warning"),
        ("/ivr/number", False, "warning"),
    ]


async def test_behind_a_trusted_proxy_the_public_url_is_verified(
    aiohttp_server, http, database_url, engine, demo
):
    app = create_app(make_config(database_url, trust_proxy=True))
    server = await aiohttp_server(app)
    status, _, body = await signed_post(
        http,
        str(server.make_url("")),
        "/ivr/voice",
        incoming(),
        signed_url=PUBLIC + "/ivr/voice",
        headers=FORWARDED,
    )
    assert status == 200
    assert parse(body).find("Gather").get("action") == PUBLIC + "/ivr/number"
    status, _, _ = await signed_post(
        http, str(server.make_url("")), "/ivr/voice", incoming(), headers=FORWARDED
    )
    assert status == 403


async def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(server, http, demo):
    status, _, _ = await signed_post(
        http,
        str(server.make_url("")),
        "/ivr/voice",
        incoming(),
        signed_url=PUBLIC + "/ivr/voice",
        headers=FORWARDED,
    )
    assert status == 403


async def test_configured_public_url_is_the_signed_url(
    aiohttp_server, http, database_url, engine, demo
):
    app = create_app(make_config(database_url, public_url=PUBLIC))
    server = await aiohttp_server(app)
    status, _, body = await signed_post(
        http, str(server.make_url("")), "/ivr/voice", incoming(), signed_url=PUBLIC + "/ivr/voice"
    )
    assert status == 200
    assert parse(body).find("Redirect").text == PUBLIC + "/ivr/no-input"
    status, _, _ = await signed_post(http, str(server.make_url("")), "/ivr/voice", incoming())
    assert status == 403


async def test_sounds_need_no_signature_and_are_wav(server, http):
    async with http.get(server.make_url("/sounds/en/rules.wav")) as reply:
        body = await reply.read()
        assert (reply.status, reply.headers["Content-Type"]) == (200, "audio/wav")
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"


@pytest.mark.parametrize(
    "path",
    [
        "/sounds/en/no_such_prompt.wav",
        "/sounds/de/rules.wav",
        "/sounds/en/manifest.wav",
        "/sounds/en/..%2F..%2Fconfig.wav",
        "/sounds/..%2Fen/rules.wav",
        "/sounds/%2E%2E/manifest.wav",
        "/sounds/en/%2E%2E%2Fmanifest.wav",
    ],
)
async def test_unknown_or_traversing_sound_is_not_found(server, http, path):
    async with http.get(server.make_url("").with_path(path, encoded=True)) as reply:
        assert reply.status == 404


@pytest.mark.parametrize(
    "query",
    ["?token=a%7eb", "?next=%2fivr%2fnumber", "?user=~anna", "?ids[]=1&ids[]=2", "?q=%e2%82%ac"],
)
async def test_signature_over_the_request_target_exactly_as_sent(server, http, demo, query):
    from yarl import URL

    url = str(server.make_url("/ivr/voice")) + query
    params = incoming()
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    async with http.post(
        URL(url, encoded=True), data=params, headers={"X-Twilio-Signature": signature}
    ) as reply:
        body = await reply.text()
    assert reply.status == 200, body
    assert spoken(parse(body).find("Gather")) == ["rules", "enter_number"]


async def test_a_signature_over_a_re_encoded_target_is_forbidden(server, http, demo):
    from yarl import URL

    sent = str(server.make_url("/ivr/voice")) + "?token=a%7eb"
    params = incoming()
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        str(server.make_url("/ivr/voice")) + "?token=a~b", params
    )
    async with http.post(
        URL(sent, encoded=True), data=params, headers={"X-Twilio-Signature": signature}
    ) as reply:
        assert reply.status == 403


async def test_behind_a_trusted_proxy_the_hop_it_added_last_counts(
    aiohttp_server, http, database_url, engine, demo
):
    app = create_app(make_config(database_url, trust_proxy=True))
    server = await aiohttp_server(app)
    # The client sent the first values; the trusted proxy appended its own.
    forwarded = {
        "X-Forwarded-Proto": "http, https",
        "X-Forwarded-Host": "attacker.example, ivr.example.com",
    }
    base = str(server.make_url(""))
    status, _, body = await signed_post(
        http, base, "/ivr/voice", incoming(), signed_url=PUBLIC + "/ivr/voice", headers=forwarded
    )
    assert status == 200
    assert parse(body).find("Gather").get("action") == PUBLIC + "/ivr/number"
    status, _, _ = await signed_post(
        http,
        base,
        "/ivr/voice",
        incoming(),
        signed_url="http://attacker.example/ivr/voice",
        headers=forwarded,
    )
    assert status == 403
