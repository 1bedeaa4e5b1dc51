"""Sign-up's limits across two real `ivr serve` processes on one database.

Each process has its own connection pool and its own event loop; only the database is
shared, as in production with several workers. The processes send their text messages to
the fake Twilio REST server of this test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
import yaml

from tests.fake_twilio import ACCOUNT
from tests.processes import service_env, serving
from tests.signup_helpers import PHONE, SENDER, phone

pytest_plugins = ("tests.signup_fixtures",)


@pytest.fixture
def two_processes(database_url, engine, fake_twilio, tmp_path) -> Iterator[list[str]]:
    """Two servers, started with the same configuration and secrets; their base URLs."""
    config = {
        "sms": {"provider": "twilio", "from": SENDER},
        "background": {"enabled": False},
        "signup": {
            "cooldown_seconds": 600,
            "per_ip_daily": 10_000,
            "suspicious_per_window": 5,
            "max_per_window": 12,
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = service_env(
        tmp_path,
        database_url,
        IVR_CONFIG=str(tmp_path / "config.yaml"),
        IVR_TWILIO_ACCOUNT_SID=ACCOUNT,
        IVR_TWILIO_API_BASE_URL=fake_twilio.url,
    )
    with (
        serving(tmp_path, env, name="first") as (_, first),
        serving(tmp_path, env, name="second") as (_, second),
    ):
        yield [first, second]


async def _ask(http: aiohttp.ClientSession, url: str, to: str) -> int:
    async with http.post(url + "/api/v1/signup/code", json={"phone": to}) as reply:
        return reply.status


async def test_two_processes_send_one_code_for_fifty_requests_and_stop_at_the_maximum(
    two_processes, fake_twilio
):
    first, second = two_processes
    async with aiohttp.ClientSession() as http:
        one_phone = await asyncio.gather(
            *(_ask(http, first if n % 2 else second, PHONE) for n in range(50))
        )
        assert sorted(one_phone) == [202] + [429] * 49
        burst = await asyncio.gather(
            *(_ask(http, first if n % 2 else second, phone(n)) for n in range(40))
        )
    assert burst.count(202) == 11 and burst.count(503) == 29  # 12 with the first phone's
    assert len(fake_twilio.messages) == 12
    assert {message["to"] for message in fake_twilio.messages} >= {PHONE}
