"""Sessions end on the server: a cookie kept from before logout (or a new password) fails."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.sessions import deactivate_user, set_password
from tests.crm_client import AGENT, CrmClient, account_actor

pytest_plugins = ("tests.crm_fixtures", "tests.api_fixtures")


@pytest.fixture
async def copy_of(server):
    """A browser that sends a copy of another's session cookie as it is now, and only that."""
    opened: list[aiohttp.ClientSession] = []

    def copy(user: CrmClient) -> aiohttp.ClientSession:
        (value,) = [cookie.value for cookie in user.http.cookie_jar if cookie.key == "ivr_session"]
        http = aiohttp.ClientSession(
            str(server.make_url("")),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"Cookie": f"ivr_session={value}"},
        )
        opened.append(http)
        return http

    yield copy
    for http in opened:
        await http.close()


async def opens_requests(user: CrmClient | aiohttp.ClientSession) -> bool:
    """Whether the agent's request list opens (not the login page)."""
    if isinstance(user, CrmClient):
        reply = await user.get("/requests")
        return reply.status == 200 and reply.path == "/requests"
    async with user.get("/requests") as response:
        return response.status == 200 and response.url.path == "/requests"


async def test_a_cookie_copied_before_logout_gets_the_login_page_after_it(copy_of, agent):
    copy = copy_of(agent)
    assert await opens_requests(copy)
    token = await agent.token("/requests")
    assert (await agent.post("/logout", {"_csrf": token})).path == "/login"
    async with copy.get("/requests") as reply:
        assert reply.url.path == "/login" and 'name="password"' in await reply.text()
    assert not await opens_requests(agent)


async def test_logging_in_again_after_logout_works_and_the_old_copy_stays_out(
    browser, copy_of, agent
):
    copy = copy_of(agent)
    await agent.post("/logout", {"_csrf": await agent.token("/requests")})
    again = await browser(AGENT)
    assert await opens_requests(again)
    assert not await opens_requests(copy)


async def test_logout_ends_the_users_other_sessions_not_other_users_or_api_keys(
    browser, agent, admin, apis
):
    second = await browser(AGENT)
    api = await apis.as_user(AGENT[0])
    await agent.post("/logout", {"_csrf": await agent.token("/requests")})
    assert not await opens_requests(second)
    assert (await admin.get("/admin/agents")).path == "/admin/agents"
    assert (await api.get("/api/v1/clients")).status == 200


async def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(
    browser, agent, sessions
):
    async with sessions.begin() as db:
        admin = await account_actor(db, "admin@example.com")
        user_id = await db.scalar(select(User.id).where(User.email == AGENT[0]))
        await set_password(
            db, user_id=user_id, password="a new pass phrase", now=datetime.now(UTC), actor=admin
        )
    assert not await opens_requests(agent)
    assert (await (await browser()).login(AGENT[0], AGENT[1])).status == 401
    assert await opens_requests(await browser((AGENT[0], "a new pass phrase")))


async def test_deactivation_ends_the_users_sessions(agent, sessions):
    async with sessions.begin() as db:
        admin = await account_actor(db, "admin@example.com")
        user_id = await db.scalar(select(User.id).where(User.email == AGENT[0]))
        await deactivate_user(db, user_id=user_id, now=datetime.now(UTC), actor=admin)
    assert not await opens_requests(agent)
