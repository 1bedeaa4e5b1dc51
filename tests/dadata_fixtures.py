"""The fake DaData server for tests: `pytest_plugins = ("tests.dadata_fixtures",)`."""

from __future__ import annotations

import pytest

from tests.fake_dadata import FakeDadata


@pytest.fixture
async def fake_dadata(aiohttp_server) -> FakeDadata:
    fake = FakeDadata()
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake
