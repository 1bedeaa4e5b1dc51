"""Logging in and out over real HTTP, and the throttle that stops password guessing."""

from __future__ import annotations

import pytest

from crm.auth.throttle import SLOW_AFTER
from tests.crm_client import ADMIN, AGENT, MANAGER, has_text

pytest_plugins = ("tests.crm_fixtures",)


@pytest.mark.parametrize(
    ("credentials", "home", "heading"),
    [
        (AGENT, "/requests", "Requests"),
        (ADMIN, "/admin/organizations", "Partner companies"),
        (MANAGER, "/partner/requests", "Open requests"),
    ],
)
async def test_each_role_lands_on_its_home_page(browser, credentials, home, heading):
    user = await browser()
    reply = await user.login(*credentials)
    assert reply.path == home
    assert f"<h1>{heading}</h1>" in reply.text
    assert 'action="/logout"' in reply.text


async def test_wrong_password_is_refused_with_the_email_kept(browser):
    user = await browser()
    reply = await user.login(AGENT[0], "wrong-password")
    assert reply.status == 401
    assert "Wrong email or password." in reply.text
    assert f'value="{AGENT[0]}"' in reply.text
    assert (await user.get("/requests")).path.startswith("/login")


async def test_logout_ends_the_session(agent):
    reply = await agent.submit("/requests", {}, action="/logout")
    assert reply.path == "/login"
    assert (await agent.get("/clients", follow=False)).status == 303


async def test_logout_without_a_token_is_refused(agent):
    assert (await agent.post("/logout", {})).status == 403
    assert (await agent.get("/clients")).status == 200


async def test_repeated_failures_lock_the_account_even_for_the_right_password(browser):
    user = await browser()
    for _ in range(SLOW_AFTER):
        assert (await user.login(AGENT[0], "guess")).status == 401
    locked = await user.login(AGENT[0], "guess")
    assert locked.status == 429
    assert has_text(locked.text, "Too many failed logins: wait 2 seconds")
    right = await user.login(*AGENT)
    assert right.status == 429
    assert has_text(right.text, "Too many failed logins. Try again in")
    assert (await user.get("/requests")).path.startswith("/login")


async def test_next_never_leaves_the_site(browser):
    user = await browser()
    reply = await user.submit(
        "/login", {"email": AGENT[0], "password": AGENT[1], "next": "//evil.example.com/"}
    )
    assert reply.path == "/requests"


@pytest.mark.parametrize(
    "target", ["/\t/evil.example", "/\\evil.example", "https://evil.example/", "/%2F/evil.example"]
)
async def test_next_with_tricks_still_stays_on_the_site(browser, target):
    user = await browser()
    reply = await user.submit(
        "/login", {"email": AGENT[0], "password": AGENT[1], "next": target}, follow=False
    )
    assert reply.status == 303
    assert reply.location == "/requests"


async def test_next_to_a_page_of_the_site_is_followed(browser):
    user = await browser()
    reply = await user.submit(
        "/login",
        {"email": AGENT[0], "password": AGENT[1], "next": "/requests?status=closed"},
        follow=False,
    )
    assert reply.location == "/requests?status=closed"
