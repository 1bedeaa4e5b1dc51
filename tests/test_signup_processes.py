"""Sign-up's limits across two real `ivr serve` processes on one database.

Each process has its own connection pool and its own event loop; only the database is
shared, as in production with several workers. The processes send their text messages to
the fake Twilio REST server of this test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.conftest import AUTH_TOKEN, SESSION_KEY
from tests.fake_twilio import ACCOUNT
from tests.signup_helpers import PHONE, SENDER, phone
from tests.smtp import free_port

pytest_plugins = ("tests.signup_fixtures",)
IVR = Path(sys.executable).parent / "ivr"


def _serve(folder: Path, env: dict[str, str], name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(folder / f"{name}.log", "w")
    process = subprocess.Popen(
        [str(IVR), "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_until_up(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ivr serve did not start at {url}") from None
            time.sleep(0.1)


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
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
    env = {
        **inherited,
        "HOME": str(tmp_path),
        "IVR_CONFIG": str(tmp_path / "config.yaml"),
        "IVR_DATABASE_URL": database_url,
        "IVR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_TWILIO_ACCOUNT_SID": ACCOUNT,
        "IVR_TWILIO_API_BASE_URL": fake_twilio.url,
        "IVR_SESSION_KEY": SESSION_KEY,
    }
    started = [_serve(tmp_path, env, name) for name in ("first", "second")]
    try:
        for process, url in started:
            _wait_until_up(process, url)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
