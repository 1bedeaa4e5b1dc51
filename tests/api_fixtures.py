"""Callers of the JSON API for its tests.

Test modules load these with `pytest_plugins = ("tests.api_fixtures",)`. Plugin fixtures are
global, so the names start with `api`: the page tests have an `agent` fixture of their own.
"""

from __future__ import annotations

import pytest

from tests.api_helpers import ADMIN, AGENT, MANAGER, Api, Apis


@pytest.fixture
def apis(server, http, sessions, demo) -> Apis:
    return Apis(server, http, sessions)


@pytest.fixture
async def api_agent(apis) -> Api:
    return await apis.as_user(AGENT)


@pytest.fixture
async def api_admin(apis) -> Api:
    return await apis.as_user(ADMIN)


@pytest.fixture
async def api_manager(apis) -> Api:
    return await apis.as_user(MANAGER)
