"""Signed-in browsers for the CRM page tests.

Test modules load these with `pytest_plugins = ("tests.crm_fixtures",)`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.partners.service import create_agent
from crm.schemas import AgentIn
from tests.crm_client import ADMIN, AGENT, MANAGER, OTHER_AGENT, CrmClient, account_actor


@pytest.fixture
async def browser(server, demo):
    """A factory of signed-in (or, with no credentials, anonymous) browsers."""
    opened: list[CrmClient] = []

    async def open_browser(credentials: tuple[str, str] | None = None) -> CrmClient:
        client = CrmClient(str(server.make_url("")))
        opened.append(client)
        if credentials:
            reply = await client.login(*credentials)
            assert reply.status == 200 and not reply.path.startswith("/login"), reply.text
        return client

    yield open_browser
    for client in opened:
        await client.close()


@pytest.fixture
async def agent(browser) -> CrmClient:
    return await browser(AGENT)


@pytest.fixture
async def admin(browser) -> CrmClient:
    return await browser(ADMIN)


@pytest.fixture
async def manager(browser) -> CrmClient:
    return await browser(MANAGER)


@pytest.fixture
async def other_agent(browser, sessions) -> CrmClient:
    """A second agent with no clients of its own."""
    async with sessions.begin() as session:
        await create_agent(
            session,
            actor=await account_actor(session, ADMIN[0]),
            now=datetime.now(UTC),
            data=AgentIn(name="Other Agent", email=OTHER_AGENT[0], password=OTHER_AGENT[1]),
        )
    return await browser(OTHER_AGENT)
