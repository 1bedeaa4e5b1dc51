"""Session cookie flags, throttling by IP address, and the first admin from the command line."""

from __future__ import annotations

import sqlite3

import pytest

from crm.auth.throttle import SLOW_AFTER
from ivr.app import create_app
from tests.conftest import make_config
from tests.crm_client import AGENT, CrmClient, has_text
from tests.helpers import signed_post
from tests.logcapture import captured_logs, log_events
from tests.test_cli import cli_env, run

pytest_plugins = ("tests.crm_fixtures",)


def session_cookie(headers) -> str:
    cookies = [
        value for value in headers.getall("Set-Cookie", []) if value.startswith("ivr_session=")
    ]
    assert len(cookies) == 1, headers
    return cookies[0].lower()


async def test_session_cookie_is_httponly_and_samesite_but_not_secure_over_http(server, http):
    async with http.get(server.make_url("/login")) as reply:
        cookie = session_cookie(reply.headers)
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie.replace("samesite", "")


async def test_session_cookie_is_secure_when_served_over_https(
    aiohttp_server, database_url, engine, http
):
    config = make_config(database_url, public_url="https://crm.example.com")
    server = await aiohttp_server(create_app(config))
    async with http.get(server.make_url("/login")) as reply:
        cookie = session_cookie(reply.headers)
    assert "; secure" in cookie and "httponly" in cookie


async def test_webhooks_set_no_session_cookie(server, http, demo):
    status, _, _ = await signed_post(
        http,
        str(server.make_url("")),
        "/ivr/voice",
        {"CallSid": "CA" + "1" * 32, "From": "+79990000001"},
    )
    async with http.get(server.make_url("/healthz")) as reply:
        assert "Set-Cookie" not in reply.headers
    assert status == 200
    assert not [cookie for cookie in http.cookie_jar if cookie.key == "ivr_session"]


async def test_failures_on_many_accounts_from_one_address_lock_that_address(browser):
    user = await browser()
    for attempt in range(SLOW_AFTER):
        assert (await user.login(f"guess{attempt}@example.com", "wrong")).status == 401
    locked = await user.login(f"guess{SLOW_AFTER}@example.com", "wrong")
    assert locked.status == 429
    refused = await user.login(*AGENT)
    assert refused.status == 429
    assert has_text(refused.text, "Too many failed logins. Try again in")


def test_create_admin_makes_an_admin_once_and_names_bad_fields(tmp_path):
    env = cli_env(tmp_path)
    assert run(env, "migrate").returncode == 0
    made = run(env, "create-admin", "--email", "Root@Example.com", "--password", "long-enough")
    assert made.returncode == 0 and "root@example.com created" in made.stdout
    again = run(env, "create-admin", "--email", "root@example.com", "--password", "long-enough")
    assert again.returncode == 2 and "email" in again.stderr
    short = run(env, "create-admin", "--email", "two@example.com", "--password", "short")
    assert short.returncode == 2 and "password" in short.stderr
    common = run(env, "create-admin", "--email", "three@example.com", "--password", "Password123")
    assert common.returncode == 2 and "password" in common.stderr and "common" in common.stderr
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        rows = db.execute("SELECT email, role FROM users").fetchall()
    assert rows == [("root@example.com", "admin")]


async def test_behind_a_trusted_proxy_each_browser_address_is_throttled_apart(
    aiohttp_server, database_url, demo
):
    server = await aiohttp_server(create_app(make_config(database_url, trust_proxy=True)))
    base = str(server.make_url(""))
    guesser = CrmClient(base, headers={"X-Forwarded-For": "198.51.100.7"})
    colleague = CrmClient(base, headers={"X-Forwarded-For": "10.0.0.1, 203.0.113.9"})
    try:
        for attempt in range(SLOW_AFTER + 1):
            await guesser.login(f"guess{attempt}@example.com", "wrong")
        assert (await guesser.login(*AGENT)).status == 429
        assert (await colleague.login(*AGENT)).path == "/requests"
    finally:
        await guesser.close()
        await colleague.close()


@pytest.mark.parametrize("email", ["agent@example.com\x00", "a" * 400 + "@example.com"])
async def test_odd_login_emails_are_refused_not_crashed(browser, email):
    reply = await (await browser()).login(email, "whatever")
    assert reply.status == 401 and "Wrong email or password." in reply.text


async def test_a_nul_character_typed_into_a_form_is_dropped_not_a_crash(agent, sessions):
    from sqlalchemy import select

    from crm.models import Client

    reply = await agent.submit(
        "/clients/new", {"first_name": "An\x00na", "last_name": "Nul", "phone": "+79161230000"}
    )
    assert reply.status == 200 and reply.path == "/clients"
    async with sessions() as session:
        names = list(
            await session.scalars(select(Client.first_name).where(Client.last_name == "Nul"))
        )
    assert names == ["Anna"]


def test_input_schemas_name_a_field_with_unstorable_text():
    from crm.errors import Invalid
    from crm.schemas import ClientIn, parse

    with pytest.raises(Invalid) as refused:
        parse(ClientIn, {"first_name": "An\x00na", "last_name": "\ud800", "phone": "+79161230000"})
    assert set(refused.value.errors) == {"first_name", "last_name"}


async def test_a_failure_inside_a_page_answers_a_friendly_page_not_a_trace(aiohttp_server):
    dead = make_config("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    server = await aiohttp_server(create_app(dead))
    user = CrmClient(str(server.make_url("")))
    try:
        reply = await user.submit("/login", {"email": AGENT[0], "password": AGENT[1]})
    finally:
        await user.close()
    assert reply.status == 503
    assert "try again in a moment" in reply.text and "Traceback" not in reply.text


MULTIPART = "multipart/form-data; boundary=b"
MALFORMED = {
    "invalid UTF-8": ("application/x-www-form-urlencoded", b"_csrf=\xff&email=\xfe"),
    "unknown charset": ("application/x-www-form-urlencoded; charset=x-nope", b"email=a"),
    "file part": (
        MULTIPART,
        b'--b\r\nContent-Disposition: form-data; name="email"; filename="a.txt"\r\n\r\n'
        b"hello\r\n--b--\r\n",
    ),
    "nameless part": (MULTIPART, b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n"),
    "part in unknown charset": (
        MULTIPART,
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n'
        b"Content-Type: text/plain; charset=x-nope\r\n\r\nx\r\n--b--\r\n",
    ),
    "no boundary": ("multipart/form-data", b"garbage"),
}


@pytest.mark.parametrize("path", ["/login", "/clients/new", "/logout"])
@pytest.mark.parametrize("kind", sorted(MALFORMED))
async def test_a_malformed_form_post_answers_the_friendly_400_page(agent, path, kind):
    content_type, body = MALFORMED[kind]
    with captured_logs() as stream:
        async with agent.http.post(
            agent.base_url + path, data=body, headers={"Content-Type": content_type}
        ) as reply:
            text = await reply.text()
            assert reply.status == 400, text
            assert reply.content_type == "text/html"
    assert "Form not readable" in text and "Traceback" not in text
    levels = [event["level"] for event in log_events(stream) if event["logger"] != "aiohttp.access"]
    assert levels == ["warning"]
    assert (await agent.get("/requests")).path == "/requests"


async def signed_in_cookie(browser) -> str:
    """The session cookie of the demo agent, signed in on the working server."""
    user = await browser(AGENT)
    (value,) = [cookie.value for cookie in user.http.cookie_jar if cookie.key == "ivr_session"]
    return value


@pytest.mark.parametrize("path", ["/requests", "/clients", "/", "/admin/agents"])
@pytest.mark.parametrize("database", ["closed port", "unopenable file"])
async def test_a_signed_in_page_with_the_database_down_answers_the_friendly_503(
    aiohttp_server, browser, http, tmp_path, database, path
):
    cookie = await signed_in_cookie(browser)
    url = {
        "closed port": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        # A folder where the database file should be: SQLite cannot open it.
        "unopenable file": f"sqlite+aiosqlite:///{tmp_path}",
    }[database]
    down = await aiohttp_server(create_app(make_config(url)))
    with captured_logs() as stream:
        async with http.get(
            down.make_url(path), headers={"Cookie": f"ivr_session={cookie}"}, allow_redirects=False
        ) as reply:
            text = await reply.text()
    assert reply.status == 503, text
    assert reply.content_type == "text/html" and "try again in a moment" in text
    assert "Traceback" not in text
    events = [e for e in log_events(stream) if e["logger"] != "aiohttp.access"]
    assert [(e["event"], e["level"]) for e in events] == [("page_database_unavailable", "warning")]
