"""Each area is a sub-application with its own middlewares; the CRM loads no voice code."""

from __future__ import annotations

import subprocess
import sys

from ivr.simulator import new_sid
from tests.helpers import signed_post

VOICE_MODULES = ("ivr.flows", "ivr.sounds", "ivr.webhooks", "ivr.simulator")


def test_importing_the_crm_loads_no_voice_module():
    code = (
        "import sys, crm.routes, crm.demo, crm.calls, crm.directory\n"
        f"print([name for name in sys.modules if name.startswith({VOICE_MODULES!r})])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def message_status(**extra: str) -> dict[str, str]:
    return {
        "MessageSid": "SM" + new_sid()[2:],
        "AccountSid": "AC" + "0" * 32,
        "MessageStatus": "delivered",
        **extra,
    }


async def test_an_unsigned_messaging_webhook_is_forbidden(server, http):
    async with http.post(server.make_url("/sms/status"), data=message_status()) as reply:
        assert reply.status == 403
        assert "<Response" not in await reply.text()


async def test_a_signed_delivery_report_gets_an_empty_messaging_reply(server, http):
    status, kind, body = await signed_post(
        http, str(server.make_url("")), "/sms/status", message_status()
    )
    assert (status, kind) == (200, "text/xml; charset=utf-8")
    assert body.endswith("<Response />")


async def test_a_failing_messaging_webhook_answers_empty_not_a_voice_apology(server, http):
    status, _, body = await signed_post(
        http, str(server.make_url("")), "/sms/no-such-step", message_status()
    )
    assert status == 200
    assert body.endswith("<Response />") and "<Say" not in body and "<Play" not in body


async def test_a_failing_voice_webhook_still_speaks_an_apology(server, http):
    status, _, body = await signed_post(
        http, str(server.make_url("")), "/ivr/no-such-step", {"CallSid": new_sid()}
    )
    assert status == 200
    assert "<Hangup />" in body and ("<Say" in body or "<Play" in body)


async def test_a_page_form_without_its_token_is_refused_by_the_pages_own_check(server, http):
    async with http.post(server.make_url("/login"), data={"email": "a@b.c"}) as reply:
        assert reply.status == 403
        assert "Form expired" in await reply.text()


async def test_webhooks_the_api_and_health_set_no_session_cookie(server, http):
    async with http.post(server.make_url("/ivr/voice"), data={"CallSid": new_sid()}) as reply:
        assert reply.status == 403 and "Set-Cookie" not in reply.headers
    for path in ("/healthz", "/api/v1/openapi.json", "/static/style.css"):
        async with http.get(server.make_url(path)) as reply:
            assert reply.status == 200, path
            assert "Set-Cookie" not in reply.headers, path
    async with http.get(server.make_url("/login")) as reply:
        assert "ivr_session" in reply.headers.get("Set-Cookie", "")


async def test_an_unknown_api_path_answers_json_and_an_unknown_page_html(server, http):
    async with http.get(server.make_url("/api/nothing")) as reply:
        assert (reply.status, reply.content_type) == (404, "application/json")
    async with http.get(server.make_url("/nothing")) as reply:
        assert (reply.status, reply.content_type) == (404, "text/html")


async def test_a_post_to_no_page_is_not_found_rather_than_a_stale_form(server, http):
    async with http.post(server.make_url("/no-such-page"), data={"a": "b"}) as reply:
        assert reply.status == 404 and reply.content_type == "text/html"
        assert "Not found" in await reply.text()


async def test_a_method_a_page_does_not_take_gets_the_friendly_page_naming_the_allowed(
    server, http
):
    async with http.delete(server.make_url("/login")) as reply:
        assert (reply.status, reply.content_type) == (405, "text/html")
        assert set(reply.headers["Allow"].split(", ")) >= {"GET", "POST"}
